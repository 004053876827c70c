//go:build unix

// Command codesign measures Slipway's in-place code signers on a ~100 MB
// executable next to the reference tool doing the same job and the
// hashing floor, and prints a markdown table:
//
//	go run ./bench/codesign [-size 100] [-runs 5]
//
// It cross-builds a Go program embedding -size MB of random data for
// windows/amd64 (PE) and darwin/arm64 (Mach-O), generates a throwaway
// CA + code-signing P12, then times (median of -runs, warm page cache):
// sha256sum and b2sum of each file, `osslsigncode sign`, Slipway's
// Authenticode signer, and Slipway's macOS signer (ad hoc and with the
// P12). There is no reference macOS signing CLI on Linux besides quill,
// which is the library Slipway uses.
package main

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/slipwayhq/slipway/signing/authenticode"
	"github.com/slipwayhq/slipway/signing/binfmt/binfmttest"
	"github.com/slipwayhq/slipway/signing/macos"
	"github.com/slipwayhq/slipway/signing/p12/p12test"
)

func main() {
	sizeMB := flag.Int("size", 100, "payload size in MB embedded in the binaries")
	runs := flag.Int("runs", 5, "timed runs per row (median reported)")
	flag.Parse()
	if err := run(context.Background(), *sizeMB, *runs); err != nil {
		fmt.Fprintln(os.Stderr, "codesign bench:", err)
		os.Exit(1)
	}
}

type row struct {
	name  string
	file  string       // the file measured (for its size)
	setup func() error // untimed, before each run
	fn    func() error
}

func run(ctx context.Context, sizeMB, runs int) error {
	dir, err := os.MkdirTemp("", "slipway-codesign-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	fmt.Fprintf(os.Stderr, "building %d MB binaries in %s...\n", sizeMB, dir)
	exe, err := buildBig(ctx, dir, "windows", "amd64", sizeMB)
	if err != nil {
		return err
	}
	mach, err := buildBig(ctx, dir, "darwin", "arm64", sizeMB)
	if err != nil {
		return err
	}
	password := []byte("bench password")
	pki, err := p12test.Generate(dir, password, p12test.Options{})
	if err != nil {
		return err
	}
	passFile := filepath.Join(dir, "pass")
	if err := os.WriteFile(passFile, password, 0o600); err != nil {
		return err
	}
	auth := authenticode.New(pki.P12, password, authenticode.Options{})
	adhoc := macos.New("", nil, macos.Options{})
	devID := macos.New(pki.P12, password, macos.Options{})
	osslOut := filepath.Join(dir, "ossl-out.exe")
	exeWork, machWork := filepath.Join(dir, "work.exe"), filepath.Join(dir, "work-macho")
	fresh := func(dst, src string) func() error {
		return func() error { os.Remove(dst); return binfmttest.CopyFile(dst, src) }
	}

	rows := []row{
		{"sha256sum (floor)", exe, nil, cmd(ctx, "sha256sum", exe)},
		{"b2sum", exe, nil, cmd(ctx, "b2sum", exe)},
		{"Go crypto/sha256, in process", exe, nil, goSHA256(exe)},
		{"osslsigncode sign (reference)", exe, func() error { os.Remove(osslOut); return fresh(exeWork, exe)() },
			cmd(ctx, "osslsigncode", "sign", "-pkcs12", pki.P12, "-readpass", passFile, "-h", "sha256", "-in", exeWork, "-out", osslOut)},
		{"slipway authenticode Sign", exe, fresh(exeWork, exe), func() error { _, err := auth.Sign(ctx, exeWork); return err }},
		{"sha256sum (floor)", mach, nil, cmd(ctx, "sha256sum", mach)},
		{"b2sum", mach, nil, cmd(ctx, "b2sum", mach)},
		{"Go crypto/sha256, in process", mach, nil, goSHA256(mach)},
		{"slipway macos Sign, ad hoc", mach, fresh(machWork, mach), func() error { _, err := adhoc.Sign(ctx, machWork); return err }},
		{"slipway macos Sign, P12", mach, fresh(machWork, mach), func() error { _, err := devID.Sign(ctx, machWork); return err }},
		{"slipway macos Verify, P12", mach, nil, func() error { return devID.Verify(ctx, machWork) }},
	}
	fmt.Printf("| file | operation | wall, median of %d | MB/s | × sha256sum | CPU (user+sys), median |\n|---|---|---:|---:|---:|---:|\n", runs)
	floor := map[string]time.Duration{}
	for _, r := range rows {
		d, cpu, err := median(r.setup, r.fn, runs)
		if err != nil {
			return fmt.Errorf("%s: %w", r.name, err)
		}
		st, err := os.Stat(r.file)
		if err != nil {
			return err
		}
		if strings.HasPrefix(r.name, "sha256sum") {
			floor[r.file] = d
		}
		kind := "PE (windows/amd64)"
		if r.file == mach {
			kind = "Mach-O (darwin/arm64)"
		}
		mbps := float64(st.Size()) / 1e6 / d.Seconds()
		fmt.Printf("| %s, %.0f MB | %s | %.0f ms | %.0f | %.2f× | %.0f ms |\n", kind, float64(st.Size())/1e6, r.name,
			float64(d.Microseconds())/1000, mbps, d.Seconds()/floor[r.file].Seconds(), float64(cpu.Microseconds())/1000)
	}
	return nil
}

// median runs fn once to warm up, then runs times, returning the median
// wall time and the median CPU time of this process and its children;
// setup (untimed, may be nil) runs before each call.
func median(setup, fn func() error, runs int) (wall, cpu time.Duration, err error) {
	var walls, cpus []time.Duration
	for i := range runs + 1 {
		if setup != nil {
			if err := setup(); err != nil {
				return 0, 0, err
			}
		}
		c0, t0 := cpuTime(), time.Now()
		if err := fn(); err != nil {
			return 0, 0, err
		}
		if i > 0 {
			walls, cpus = append(walls, time.Since(t0)), append(cpus, cpuTime()-c0)
		}
	}
	slices.Sort(walls)
	slices.Sort(cpus)
	return walls[len(walls)/2], cpus[len(cpus)/2], nil
}

// cpuTime is the user+system time used so far by this process and its
// waited-for children.
func cpuTime() time.Duration {
	var total time.Duration
	for _, who := range []int{syscall.RUSAGE_SELF, syscall.RUSAGE_CHILDREN} {
		var ru syscall.Rusage
		if syscall.Getrusage(who, &ru) == nil {
			total += time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
		}
	}
	return total
}

func goSHA256(path string) func() error {
	return func() error {
		f, err := os.Open(path)
		if err != nil {
			return err
		}
		defer f.Close()
		_, err = io.Copy(sha256.New(), f)
		return err
	}
}

func cmd(ctx context.Context, name string, args ...string) func() error {
	return func() error {
		c := exec.CommandContext(ctx, name, args...)
		var stderr strings.Builder
		c.Stdout, c.Stderr = io.Discard, &stderr
		if err := c.Run(); err != nil {
			return fmt.Errorf("%s: %w: %s", name, err, stderr.String())
		}
		return nil
	}
}

// buildBig cross-builds a program embedding sizeMB of random bytes.
func buildBig(ctx context.Context, dir, goos, goarch string, sizeMB int) (string, error) {
	src := filepath.Join(dir, "src")
	if err := os.MkdirAll(src, 0o755); err != nil {
		return "", err
	}
	payload := filepath.Join(src, "payload.bin")
	if _, err := os.Stat(payload); err != nil {
		f, err := os.Create(payload)
		if err != nil {
			return "", err
		}
		_, err = io.CopyN(f, rand.Reader, int64(sizeMB)<<20)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return "", err
		}
	}
	files := map[string]string{
		"go.mod": "module big\n\ngo 1.22\n",
		"main.go": "package main\n\nimport _ \"embed\"\n\n//go:embed payload.bin\nvar payload []byte\n\n" +
			"func main() { println(len(payload)) }\n",
	}
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(src, name), []byte(body), 0o644); err != nil {
			return "", err
		}
	}
	out := filepath.Join(dir, "big-"+goos+"-"+goarch)
	if goos == "windows" {
		out += ".exe"
	}
	c := exec.CommandContext(ctx, "go", "build", "-trimpath", "-o", out, ".")
	c.Dir = src
	c.Env = append(os.Environ(), "GOOS="+goos, "GOARCH="+goarch, "CGO_ENABLED=0", "GOFLAGS=-buildvcs=false", "GOWORK=off")
	if b, err := c.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build %s/%s: %w: %s", goos, goarch, err, b)
	}
	return out, nil
}
