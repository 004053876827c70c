package storetest

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/slipwayhq/slipway/server/store"
)

// Bulk is the seeding both SQL stores offer.
type Bulk interface {
	BulkRegister(ctx context.Context, ms []store.Machine, toks []store.Token) error
}

// BenchEnv reads an integer benchmark setting, with a default.
func BenchEnv(name string, def int) int {
	if n, err := strconv.Atoi(os.Getenv(name)); err == nil && n > 0 {
		return n
	}
	return def
}

// fleetSoftware is machine i's list: 250 titles every machine has (the
// base system), 50 of a 5,000-title long tail, and firefox in one of 16
// versions; bump changes k of the machine's long-tail versions (churn).
func fleetSoftware(i, perMachine, bump int) []store.Software {
	r := rand.New(rand.NewPCG(uint64(i), 7))
	out := make([]store.Software, 0, perMachine)
	out = append(out, store.Software{Name: "firefox", Version: fmt.Sprintf("%d.0.%d", 115+i%16, i%3), Source: "deb_packages"})
	common := perMachine * 5 / 6
	for j := 1; j < common; j++ {
		out = append(out, store.Software{Name: fmt.Sprintf("lib-base-%03d", j), Version: fmt.Sprintf("2.%d.0-1", j%7),
			Source: "deb_packages", Vendor: "Debian Maintainers <debian-devel@lists.debian.org>"})
	}
	for j := len(out); j < perMachine; j++ {
		n := r.IntN(5000)
		v := 1 + r.IntN(4)
		if j-common < bump {
			v += 10
		}
		out = append(out, store.Software{Name: fmt.Sprintf("tool-%04d", n), Version: fmt.Sprintf("%d.%d", v, n%10),
			Source: "deb_packages", Vendor: "Example Vendor"})
	}
	return out
}

// BenchSoftware measures the software inventory at
// SLIPWAY_BENCH_SW_MACHINES machines (default 200) ×
// SLIPWAY_BENCH_SW_PACKAGES packages (default 300): ingest of a full fleet
// report and of 1 % churn, uploaded by SLIPWAY_BENCH_SW_WORKERS concurrent
// callers (default 32, as a server's upload handlers; 1 = one after the
// other), "firefox < 128" (first page of 50 machines) and one machine's
// software page, and, with size, database bytes per machine. It reports
// custom metrics; one b.N iteration runs everything once. It uses only the
// store.Store interface, so the same file measures an older checkout.
func BenchSoftware(b *testing.B, st store.Store, hooks BenchHooks) {
	size := hooks.Size
	ctx := b.Context()
	n := BenchEnv("SLIPWAY_BENCH_SW_MACHINES", 200)
	per := BenchEnv("SLIPWAY_BENCH_SW_PACKAGES", 300)
	now := time.Now().UTC()
	seeded := hooks.Seeded
	if seeded == 0 {
		if err := registerBenchFleet(ctx, st, n, now); err != nil {
			b.Fatal(err)
		}
	}
	before := int64(0)
	if size != nil {
		before = size()
	}
	report := func(i, bump int) {
		if _, err := st.ReplaceSoftware(ctx, benchReport(i, per, bump, now)); err != nil {
			b.Error(err) // from a worker: no Fatal
		}
	}
	workers := BenchEnv("SLIPWAY_BENCH_SW_WORKERS", 32)
	b.ResetTimer()
	for b.Loop() {
		start := time.Now()
		var done atomic.Int64
		fresh := n - seeded // machines whose first list goes through the upload path
		parallel(workers, fresh, func(i int) {
			report(seeded+i, 0)
			// Progress on stderr at once (a benchmark's log shows at its end):
			// a long run cut short still tells its rate.
			if d := done.Add(1); fresh >= 10_000 && d%(int64(fresh)/10) == 0 {
				fmt.Fprintf(os.Stderr, "%s: %d machines in %.0f s (%.1f machines/s)\n", b.Name(), d,
					time.Since(start).Seconds(), float64(d)/time.Since(start).Seconds())
			}
		})
		full := time.Since(start)
		churned := max(1, n/100)
		start = time.Now()
		parallel(workers, churned, func(k int) { report((k*7919)%n, 3) })
		churn := time.Since(start)
		if hooks.AfterIngest != nil {
			hooks.AfterIngest()
		}
		b.ReportMetric(full.Seconds(), "s/full-report")
		b.ReportMetric(float64(fresh)/full.Seconds(), "machines/s")
		b.ReportMetric(churn.Seconds()*1000/float64(churned), "ms/churned-machine")
		b.ReportMetric(median(20, func() {
			hits, err := st.FindSoftware(ctx, store.SoftwareSearch{TenantID: "t", Name: "Firefox",
				Version: func(v string) bool { return v < "128" }, Limit: 51})
			if err != nil || len(hits) == 0 {
				b.Fatalf("search: %d hits, %v", len(hits), err)
			}
		}), "ms/search")
		b.ReportMetric(median(20, func() {
			list, err := st.ListMachineSoftware(ctx, MachineID(n/2))
			if err != nil || len(list) < per/2 {
				b.Fatalf("machine software: %d, %v", len(list), err)
			}
		}), "ms/machine-page")
		if size != nil {
			// Bulk mode: the seeded machines' bytes are in the database
			// before the run (its software tables held nothing else).
			used := size()
			if seeded == 0 {
				used -= before
			}
			b.ReportMetric(float64(used)/float64(n), "bytes/machine")
		}
	}
}

// BenchHooks are what a backend adds to BenchSoftware; nil fields are skipped.
type BenchHooks struct {
	Size        func() int64 // bytes of the software tables and indexes
	AfterIngest func()       // e.g. ANALYZE, as autovacuum would soon after
	// Seeded > 0 is the bulk mode: the store already holds the fleet and
	// the first lists of machines 0..Seeded-1 (SeedSoftwareBench); the
	// timed "full report" is the first lists of the remaining machines,
	// through ReplaceSoftware, on top of them.
	Seeded int
}

// parallel calls f(0..n-1) from w goroutines.
func parallel(w, n int, f func(i int)) {
	var next atomic.Int64
	var wg sync.WaitGroup
	for range min(w, n) {
		wg.Go(func() {
			for i := int(next.Add(1)) - 1; i < n; i = int(next.Add(1)) - 1 {
				f(i)
			}
		})
	}
	wg.Wait()
}

// median runs f k times and returns the median in milliseconds.
func median(k int, f func()) float64 {
	ds := make([]float64, k)
	for i := range ds {
		start := time.Now()
		f()
		ds[i] = float64(time.Since(start).Microseconds()) / 1000
	}
	slices.Sort(ds)
	return ds[k/2]
}
