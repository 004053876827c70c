package main

import (
	"context"
	"fmt"
	"io"
	"slices"
)

// runRounds alternates the bare handler and the server, -rounds times each,
// on the same two listeners and the same seeded store: round i loads the
// baseline first when i is even and the server first when it is odd, so a
// drift in the machine's speed during the run (this VM's CPU time per
// request varies by a third from one minute to the next) weighs on both
// sides alike. It prints each round's ratios and their medians, then the
// usual table over all rounds together.
func runRounds(ctx context.Context, o options, out io.Writer) error {
	if o.databaseURL != "" || o.mode != "both" {
		return fmt.Errorf("-rounds needs -mode both on SQLite (the in-process server)")
	}
	b, err := startBaseline(o)
	if err != nil {
		return err
	}
	defer b.stop()
	sr, err := openServerRun(ctx, o, out)
	if err != nil {
		return err
	}
	defer sr.cleanup()
	var bare, srv []result
	for i := range o.rounds {
		var rb, rs result
		if i%2 == 1 {
			if rs, err = sr.round(ctx, o.duration); err != nil {
				return err
			}
		}
		rb = b.round(ctx, o.duration)
		if i%2 == 0 {
			if rs, err = sr.round(ctx, o.duration); err != nil {
				return err
			}
		}
		bare, srv = append(bare, rb), append(srv, rs)
	}
	total, err := sr.finish(ctx, mergeRounds(srv))
	if err != nil {
		return err
	}
	printRounds(out, bare, srv)
	bareAll := mergeRounds(bare)
	bareAll.name, bareAll.verified = bare[0].name, bare[0].verified
	printResults(out, o, []result{bareAll, total})
	return total.verifyErr
}

// mergeRounds adds up rounds of load on one target, one after the other
// (merge's counts; times and latencies summed, so the rate and CPU per
// heartbeat of the sum are over all rounds' time).
func mergeRounds(rs []result) result {
	var m result
	for _, r := range rs {
		elapsed, cpu, settle := m.elapsed+r.elapsed, m.cpu+r.cpu, m.settle+r.settle
		lat := append(m.latencies, r.latencies...)
		m = merge(m, r)
		m.elapsed, m.cpu, m.settle, m.latencies = elapsed, cpu, settle, lat
	}
	slices.Sort(m.latencies)
	return m
}

// printRounds is the per-round table: each round's bare and server rate
// and CPU per heartbeat, their ratios, and the median ratios.
func printRounds(out io.Writer, bare, srv []result) {
	fmt.Fprintln(out, "\n| round | first | bare/s | server/s | rate ratio | bare CPU/hb | server CPU/hb | CPU ratio | server p99 |")
	fmt.Fprintln(out, "|---:|---|---:|---:|---:|---:|---:|---:|---:|")
	var rates, cpus []float64
	for i := range bare {
		first := "bare"
		if i%2 == 1 {
			first = "server"
		}
		rate := srv[i].rate() / bare[i].rate()
		cpu := float64(bare[i].cpuPer()) / float64(srv[i].cpuPer())
		rates, cpus = append(rates, rate), append(cpus, cpu)
		fmt.Fprintf(out, "| %d | %s | %.0f | %.0f | %.2f× | %d µs | %d µs | %.2f× | %s |\n", i+1, first, bare[i].rate(), srv[i].rate(),
			rate, bare[i].cpuPer().Microseconds(), srv[i].cpuPer().Microseconds(), cpu, ms(srv[i].pct(0.99)))
	}
	fmt.Fprintf(out, "\nmedian of %d rounds: rate ratio %.2f× (min %.2f×, max %.2f×), CPU ratio %.2f× (min %.2f×, max %.2f×)\n",
		len(bare), median(rates), slices.Min(rates), slices.Max(rates), median(cpus), slices.Min(cpus), slices.Max(cpus))
}

func median(v []float64) float64 {
	s := slices.Sorted(slices.Values(v))
	if n := len(s); n%2 == 1 {
		return s[n/2]
	} else {
		return (s[n/2-1] + s[n/2]) / 2
	}
}
