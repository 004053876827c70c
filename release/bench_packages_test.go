//go:build unix

package release

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/slipwayhq/slipway/storage/fs"
)

// TestBenchReleasePackages (SLIPWAY_BENCH_RELEASE=1, several minutes)
// times full snapshot releases side by side, alternating: this checkout as
// is (archives + Linux packages + SBOMs + provenance) and the same commit
// with the nfpms section removed and --skip-attest (archives only, the
// release before issue 16). It prints a markdown table for
// docs/benchmarks.md, and the size of each package next to its binary.
func TestBenchReleasePackages(t *testing.T) {
	if os.Getenv("SLIPWAY_BENCH_RELEASE") == "" {
		t.Skip("set SLIPWAY_BENCH_RELEASE=1 (several minutes)")
	}
	sharedBuild(t) // builds the hook binary and warms the build cache
	root := t.TempDir()
	full, bare := filepath.Join(root, "full"), filepath.Join(root, "bare")
	for _, dir := range []string{full, bare} {
		if err := makeRepo(dir); err != nil {
			t.Fatal(err)
		}
	}
	cfg := filepath.Join(bare, ".goreleaser.yaml")
	b, err := os.ReadFile(cfg)
	if err != nil {
		t.Fatal(err)
	}
	stripped := regexp.MustCompile(`(?s)\nnfpms:\n.*?\n\n# One checksums file`).ReplaceAll(b, []byte("\n\n# One checksums file"))
	if bytes.Equal(stripped, b) {
		t.Fatal("could not remove the nfpms section")
	}
	if err := os.WriteFile(cfg, stripped, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := gitOut(bare, "-c", "user.name=b", "-c", "user.email=b@example.invalid", "commit", "-qam", "no packages"); err != nil {
		t.Fatal(err)
	}
	rounds := 1
	if n, err := strconv.Atoi(os.Getenv("SLIPWAY_BENCH_ROUNDS")); err == nil && n > 0 {
		rounds = n
	}
	times, cpus := map[string][]time.Duration{}, map[string][]time.Duration{}
	type variant struct {
		name, dir string
		skip      bool
	}
	pair := []variant{{"archives only", bare, true}, {"+ packages, SBOMs, provenance", full, false}}
	for i := 0; i < rounds; i++ {
		order := pair
		if i%2 == 1 { // ABBA: neither variant always runs first
			order = []variant{pair[1], pair[0]}
		}
		for _, c := range order {
			st, err := fs.New(filepath.Join(root, fmt.Sprintf("store-%s-%d", filepath.Base(c.dir), i)), fs.Options{})
			if err != nil {
				t.Fatal(err)
			}
			cpu0 := cpuTime(t)
			start := time.Now()
			_, err = Run(context.Background(), Options{Dir: c.dir, Snapshot: true, Store: st, DataDir: filepath.Join(root, "data"),
				GoReleaser: shared.goreleaser, SlipwayBin: shared.hookBin, SkipAttest: c.skip})
			if err != nil {
				t.Fatalf("%s: %v", c.name, err)
			}
			times[c.name] = append(times[c.name], time.Since(start))
			cpus[c.name] = append(cpus[c.name], cpuTime(t)-cpu0)
		}
	}
	var out strings.Builder
	fmt.Fprintf(&out, "| release (snapshot, 12 binaries, build cache warm) | wall, each run | median wall | CPU (user+sys, with subprocesses), each run | median CPU |\n|---|---|---|---|---|\n")
	var wall, cpu []time.Duration
	for _, v := range pair {
		wall = append(wall, median(times[v.name]))
		cpu = append(cpu, median(cpus[v.name]))
		fmt.Fprintf(&out, "| %s | %s | %.1f s | %s | %.1f s |\n", v.name, seconds(times[v.name]), wall[len(wall)-1].Seconds(),
			seconds(cpus[v.name]), cpu[len(cpu)-1].Seconds())
	}
	fmt.Fprintf(&out, "\noverhead: wall %+.0f %%, CPU %+.0f %%\n\n", 100*(wall[1].Seconds()/wall[0].Seconds()-1), 100*(cpu[1].Seconds()/cpu[0].Seconds()-1))
	sizes(t, &out, filepath.Join(full, "dist"))
	t.Log("\n" + out.String())
}

// cpuTime is the CPU time (user + system) of this process and of every
// subprocess it has waited for (GoReleaser, the compilers it runs, wixl...),
// which unlike wall time does not grow with the machine's other load.
func cpuTime(t *testing.T) time.Duration {
	var total time.Duration
	for _, who := range []int{syscall.RUSAGE_SELF, syscall.RUSAGE_CHILDREN} {
		var ru syscall.Rusage
		if err := syscall.Getrusage(who, &ru); err != nil {
			t.Fatal(err)
		}
		total += time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	return total
}

func median(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func seconds(ds []time.Duration) string {
	var s []string
	for _, d := range ds {
		s = append(s, fmt.Sprintf("%.1f s", d.Seconds()))
	}
	return strings.Join(s, ", ")
}

// sizes prints each Linux package's size next to its binary's.
func sizes(t *testing.T, out *strings.Builder, dist string) {
	d, err := ReadDist(dist)
	if err != nil {
		t.Fatal(err)
	}
	bins, err := binaries(d)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(out, "| package | size | binary | package / binary |\n|---|---|---|---|\n")
	for _, a := range d.Artifacts {
		if a.Type != TypeLinuxPackage && a.Type != TypeArchive && a.Type != typeInstaller {
			continue
		}
		pkg, err1 := os.Stat(filepath.Join(dist, a.Name))
		bin, err2 := os.Stat(bins[a.Extra.ID+"/"+a.Goos+"/"+a.Goarch])
		if err1 != nil || err2 != nil {
			t.Fatal(err1, err2)
		}
		fmt.Fprintf(out, "| %s | %.1f MiB | %.1f MiB | %.0f %% |\n", a.Name, float64(pkg.Size())/(1<<20), float64(bin.Size())/(1<<20), 100*float64(pkg.Size())/float64(bin.Size()))
	}
}
