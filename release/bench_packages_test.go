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
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/slipwayhq/slipway/signing/keyring"
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
	// The dev keys are made once per data directory: make them before the
	// first timed release, which would otherwise pay for them alone.
	if _, err := keyring.EnsureDevKeys(filepath.Join(root, "data", "keys")); err != nil {
		t.Fatal(err)
	}
	rounds := 1
	if n, err := strconv.Atoi(os.Getenv("SLIPWAY_BENCH_ROUNDS")); err == nil && n > 0 {
		rounds = n
	}
	times, cpus, others := map[string][]time.Duration{}, map[string][]time.Duration{}, map[string][]time.Duration{}
	steps := map[string]map[string][]time.Duration{} // variant -> step -> durations
	traces := map[string]string{}                    // each variant's last output, GoReleaser's included, timed
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
			cpu0, busy0 := cpuTime(t), machineBusy()
			start := time.Now()
			var out timedWriter
			rep, err := Run(context.Background(), Options{Dir: c.dir, Snapshot: true, Store: st, DataDir: filepath.Join(root, "data"),
				GoReleaser: shared.goreleaser, SlipwayBin: shared.hookBin, SkipAttest: c.skip, Out: &out, Verbose: true})
			if err != nil {
				t.Fatalf("%s: %v\n%s", c.name, err, out.String())
			}
			times[c.name] = append(times[c.name], time.Since(start))
			cpus[c.name] = append(cpus[c.name], cpuTime(t)-cpu0)
			if busy0 >= 0 {
				// What the rest of the machine used meanwhile: a run with
				// seconds here was slowed by someone else.
				others[c.name] = append(others[c.name], max(0, machineBusy()-busy0-cpus[c.name][len(cpus[c.name])-1]))
			}
			if steps[c.name] == nil {
				steps[c.name] = map[string][]time.Duration{}
			}
			for _, s := range rep.Steps {
				steps[c.name][s.Name] = append(steps[c.name][s.Name], s.Duration)
			}
			traces[c.name] = fmt.Sprintf("%s, started at %.1f (Unix time), seconds since:\n%s", c.name, float64(start.UnixMilli())/1000, out.String())
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
	for _, v := range pair {
		if len(others[v.name]) > 0 {
			fmt.Fprintf(&out, "\nCPU used by other processes during each run, %s: %s", v.name, seconds(others[v.name]))
		}
	}
	fmt.Fprintf(&out, "\noverhead: wall %+.0f %%, CPU %+.0f %%\n", 100*(wall[1].Seconds()/wall[0].Seconds()-1), 100*(cpu[1].Seconds()/cpu[0].Seconds()-1))
	quietRounds(&out, pair[0].name, pair[1].name, times, cpus, others)
	stepTable(&out, pair[0].name, pair[1].name, steps)
	sizes(t, &out, filepath.Join(full, "dist"))
	t.Log("\n" + out.String())
	if os.Getenv("SLIPWAY_BENCH_TRACE") != "" {
		t.Log("last release of each variant\n" + traces[pair[0].name] + "\n" + traces[pair[1].name])
	}
}

// quietRounds prints the medians over the rounds in which neither run
// shared the machine (other processes used under a second of CPU during
// each): on a shared machine, the only wall times that mean anything.
func quietRounds(out *strings.Builder, bare, full string, times, cpus, others map[string][]time.Duration) {
	var wb, wf, cb, cf []time.Duration
	for i := range others[bare] {
		if others[bare][i] < time.Second && others[full][i] < time.Second {
			wb, wf = append(wb, times[bare][i]), append(wf, times[full][i])
			cb, cf = append(cb, cpus[bare][i]), append(cf, cpus[full][i])
		}
	}
	fmt.Fprintf(out, "quiet rounds: %d of %d", len(wb), len(others[bare]))
	if len(wb) > 0 {
		fmt.Fprintf(out, "; their medians: wall %.1f → %.1f s (%+.0f %%), CPU %.1f → %.1f s (%+.0f %%)",
			median(wb).Seconds(), median(wf).Seconds(), 100*(median(wf).Seconds()/median(wb).Seconds()-1),
			median(cb).Seconds(), median(cf).Seconds(), 100*(median(cf).Seconds()/median(cb).Seconds()-1))
	}
	out.WriteString("\n\n")
}

// stepTable prints the median wall time of each step of both variants
// (steps that run side by side overlap).
func stepTable(out *strings.Builder, bare, full string, steps map[string]map[string][]time.Duration) {
	fmt.Fprintf(out, "| step | %s: median wall | %s: median wall |\n|---|---|---|\n", bare, full)
	for _, name := range []string{"build", "dist", "keys", "msi", "macos", "attest", "check", "sign", "publish"} {
		fmt.Fprintf(out, "| %s | %.2f s | %.2f s |\n", name, median(steps[bare][name]).Seconds(), median(steps[full][name]).Seconds())
	}
	out.WriteString("\n")
}

// timedWriter prefixes every line with the seconds since its first write
// (SLIPWAY_BENCH_TRACE=1 prints the last one of each variant, GoReleaser's
// output included: where the time goes inside the build step).
type timedWriter struct {
	mu    sync.Mutex
	start time.Time
	b     strings.Builder
	bol   bool
}

func (w *timedWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.start.IsZero() {
		w.start, w.bol = time.Now(), true
	}
	for _, c := range p {
		if w.bol {
			fmt.Fprintf(&w.b, "%6.2f ", time.Since(w.start).Seconds())
		}
		w.b.WriteByte(c)
		w.bol = c == '\n'
	}
	return len(p), nil
}

func (w *timedWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.String()
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

// machineBusy is the CPU time the whole machine has spent not idle since
// boot (Linux /proc/stat), or -1 where that is not available.
func machineBusy() time.Duration {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return -1
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line)
	if len(f) < 8 || f[0] != "cpu" {
		return -1
	}
	var busy int64
	for i, v := range f[1:] {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return -1
		}
		if i != 3 && i != 4 && i < 8 { // not idle, not iowait, not guest (counted in user)
			busy += n
		}
	}
	return time.Duration(busy) * time.Second / 100 // USER_HZ
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
