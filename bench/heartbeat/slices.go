package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// cpuSlice is a cgroup v1 CPU group a server runs in (-slices label=name):
// its quota from <root>/cpu/<name>, its CPU use from <root>/cpuacct/<name>.
type cpuSlice struct {
	label, name string
	cpuDir      string  // <root>/cpu/<name>
	acctDir     string  // <root>/cpuacct/<name>
	cores       float64 // cfs_quota_us / cfs_period_us; 0 when unlimited
}

// sliceSample is one reading of a slice's counters.
type sliceSample struct {
	usage         time.Duration // cpuacct.usage
	throttled     int64         // cpu.stat nr_throttled (periods at the quota)
	throttledTime time.Duration // cpu.stat throttled_time
}

// parseSlices reads "label=name,label=name" and checks every group exists.
func parseSlices(root, spec string) ([]cpuSlice, error) {
	var out []cpuSlice
	for _, item := range splitList(spec) {
		label, name, ok := strings.Cut(item, "=")
		if !ok || label == "" || name == "" || strings.Contains(name, "..") || strings.ContainsRune(name, os.PathSeparator) {
			return nil, fmt.Errorf("-slices: want label=cgroup, got %q", item)
		}
		s := cpuSlice{label: label, name: name,
			cpuDir: filepath.Join(root, "cpu", name), acctDir: filepath.Join(root, "cpuacct", name)}
		quota, err := readInt(filepath.Join(s.cpuDir, "cpu.cfs_quota_us"))
		if err != nil {
			return nil, fmt.Errorf("-slices %s: %w", label, err)
		}
		period, err := readInt(filepath.Join(s.cpuDir, "cpu.cfs_period_us"))
		if err != nil {
			return nil, fmt.Errorf("-slices %s: %w", label, err)
		}
		if quota > 0 && period > 0 {
			s.cores = float64(quota) / float64(period)
		}
		if _, err := readInt(filepath.Join(s.acctDir, "cpuacct.usage")); err != nil {
			return nil, fmt.Errorf("-slices %s: %w", label, err)
		}
		out = append(out, s)
	}
	return out, nil
}

func sampleSlices(sl []cpuSlice) ([]sliceSample, error) {
	out := make([]sliceSample, len(sl))
	for i, s := range sl {
		usage, err := readInt(filepath.Join(s.acctDir, "cpuacct.usage"))
		if err != nil {
			return nil, err
		}
		stat, err := readStat(filepath.Join(s.cpuDir, "cpu.stat"))
		if err != nil {
			return nil, err
		}
		out[i] = sliceSample{usage: time.Duration(usage), throttled: stat["nr_throttled"],
			throttledTime: time.Duration(stat["throttled_time"])}
	}
	return out, nil
}

// printSlices prints each slice's CPU during the measured load: seconds
// used, the share of its quota, µs per acknowledged heartbeat, and the
// periods in which the quota stopped it.
func printSlices(out io.Writer, sl []cpuSlice, before, after []sliceSample, res result) {
	if len(sl) == 0 {
		return
	}
	fmt.Fprintln(out, "\n| slice | quota | CPU used | of quota | CPU/heartbeat | throttled periods | throttled time |")
	fmt.Fprintln(out, "|---|---:|---:|---:|---:|---:|---:|")
	var total time.Duration
	var full []string
	busy := 0
	for i, s := range sl {
		used := after[i].usage - before[i].usage
		total += used
		quota, share := "none", "n/a"
		if s.cores > 0 {
			f := used.Seconds() / (s.cores * res.elapsed.Seconds())
			quota, share = fmt.Sprintf("%.2f cores", s.cores), fmt.Sprintf("%.0f%%", 100*f)
			if f >= fullShare {
				full = append(full, s.label)
			}
		}
		thr := after[i].throttled - before[i].throttled
		if thr > 0 {
			busy++
		}
		fmt.Fprintf(out, "| %s (%s) | %s | %.2f s | %s | %.1f µs | %d | %s |\n", s.label, s.name, quota, used.Seconds(), share,
			perBeat(used, res.acked), thr, (after[i].throttledTime - before[i].throttledTime).Round(time.Millisecond))
	}
	limit := "at quota: " + strings.Join(full, ", ")
	if len(full) == 0 {
		limit = "none at quota (the limit is elsewhere: load generator or shared cores)"
	}
	fmt.Fprintf(out, "\nslices: %.1f µs CPU per heartbeat in all; %d of %d slices throttled; %s\n",
		perBeat(total, res.acked), busy, len(sl), limit)
}

// fullShare is the share of its quota above which a slice counts as the
// bottleneck (CFS accounting lets a saturated slice read 97-100%).
const fullShare = 0.95

func perBeat(d time.Duration, n int64) float64 {
	if n == 0 {
		return 0
	}
	return float64(d.Nanoseconds()) / 1e3 / float64(n)
}

func readInt(path string) (int64, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	n, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%s: %w", path, err)
	}
	return n, nil
}

// readStat reads a cgroup "key value" file such as cpu.stat.
func readStat(path string) (map[string]int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	out := map[string]int64{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(strings.TrimSpace(sc.Text()), " ")
		if !ok {
			continue
		}
		n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
		if err != nil {
			return nil, fmt.Errorf("%s: %s: %w", path, k, err)
		}
		out[k] = n
	}
	return out, sc.Err()
}
