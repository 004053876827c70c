package minisign

import (
	"bufio"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/slipwayhq/slipway/internal/testenv"
)

// BenchmarkSign100MB signs one 100 MB file with Slipway's minisign signer
// (in-process, writing .minisig and .sig, and as the `slipway sign` CLI),
// with the reference `minisign -S` (unencrypted -W key, so no KDF), and
// hashes it with `b2sum` and `sha256sum` (the hashing floor), side by side
// in one run:
//
//	go test ./signing/minisign -run '^$' -bench Sign100MB -benchtime 10x
//
// Besides wall time, each case reports cpu-ms/op (user+system CPU of the
// process doing the work), which stays meaningful on a shared, busy machine.
// Results: docs/benchmarks/signing-minisign.md.
func BenchmarkSign100MB(b *testing.B) {
	const size = 100 << 20
	dir := b.TempDir()
	path := filepath.Join(dir, "artifact.bin")
	writeRandomFile(b, path, size)
	msKey := filepath.Join(dir, "ms.key")
	external := func(name string, env []string, args ...string) func(b *testing.B) {
		return func(b *testing.B) {
			bin, ok := testenv.LookTool(name)
			if !ok {
				b.Skipf("%s not found", name)
			}
			var cpu time.Duration
			b.SetBytes(size)
			for b.Loop() {
				cmd := exec.CommandContext(b.Context(), bin, args...)
				cmd.Env = append(os.Environ(), env...)
				if out, err := cmd.CombinedOutput(); err != nil {
					b.Fatalf("%s: %v\n%s", name, err, out)
				}
				cpu += cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
			}
			reportCPU(b, cpu, size)
		}
	}
	if ms, ok := testenv.LookTool("minisign"); ok {
		if out, err := exec.Command(ms, "-G", "-W", "-f", "-p", filepath.Join(dir, "ms.pub"), "-s", msKey).CombinedOutput(); err != nil {
			b.Fatalf("minisign -G: %v\n%s", err, out)
		}
	}
	slipwayBin := filepath.Join(dir, "slipway")
	if out, err := exec.Command("go", "build", "-o", slipwayBin, "github.com/slipwayhq/slipway/cmd/slipway").CombinedOutput(); err != nil {
		b.Fatalf("go build slipway: %v\n%s", err, out)
	}
	b.Run("b2sum", external("b2sum", nil, path))
	b.Run("sha256sum", external("sha256sum", nil, path))
	b.Run("minisign-S", external("minisign", nil, "-S", "-s", msKey, "-m", path, "-x", path+".ref.minisig"))
	b.Run("slipway-cli", external(slipwayBin, []string{"SLIPWAY_MINISIGN_KEY=" + msKey},
		"sign", "--kind", "minisign", "--version", "1.2.3", path))
	b.Run("go-blake2b-read", func(b *testing.B) {
		var cpu time.Duration
		b.SetBytes(size)
		for b.Loop() {
			t0 := cpuSelf()
			f, err := os.Open(path)
			if err != nil {
				b.Fatal(err)
			}
			if _, err := Prehash(f); err != nil {
				b.Fatal(err)
			}
			f.Close()
			cpu += cpuSelf() - t0
		}
		reportCPU(b, cpu, size)
	})
	b.Run("slipway", func(b *testing.B) {
		sk, err := ParseSecretKey(readFile(b, msKey), nil)
		if err != nil {
			b.Fatal(err)
		}
		s, err := New(sk, Options{Version: "1.2.3"})
		if err != nil {
			b.Fatal(err)
		}
		var cpu time.Duration
		b.SetBytes(size)
		for b.Loop() {
			t0 := cpuSelf()
			if _, err := s.Sign(b.Context(), path); err != nil {
				b.Fatal(err)
			}
			cpu += cpuSelf() - t0
		}
		reportCPU(b, cpu, size)
	})
}

// cpuSelf is this process's user+system CPU time so far.
func cpuSelf() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// reportCPU adds CPU time per op and CPU-time throughput to the results.
func reportCPU(b *testing.B, cpu time.Duration, size int64) {
	if cpu <= 0 {
		return
	}
	b.ReportMetric(float64(cpu.Milliseconds())/float64(b.N), "cpu-ms/op")
	b.ReportMetric(float64(size)*float64(b.N)/cpu.Seconds()/1e6, "cpu-MB/s")
}

// writeRandomFile writes size pseudo-random (incompressible) bytes.
func writeRandomFile(b *testing.B, path string, size int64) {
	b.Helper()
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	w := bufio.NewWriterSize(f, 1<<20)
	if _, err := io.CopyN(w, detRand(byte(time.Now().Unix())), size); err != nil {
		b.Fatal(err)
	}
	if err := w.Flush(); err != nil {
		b.Fatal(err)
	}
	if err := f.Close(); err != nil {
		b.Fatal(err)
	}
}
