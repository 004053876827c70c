package sqlite_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/slipwayhq/slipway/server/store"
	"github.com/slipwayhq/slipway/server/store/sqlite"
)

// BenchmarkRecordHeartbeats measures the heartbeat write path: batches of 64
// heartbeats (SLIPWAY_BENCH_BATCH) over SLIPWAY_BENCH_MACHINES machines
// (default 10,000), one op = one heartbeat. SLIPWAY_BENCH_CACHE_KB sets the
// page cache.
func BenchmarkRecordHeartbeats(b *testing.B) {
	n, _ := strconv.Atoi(os.Getenv("SLIPWAY_BENCH_MACHINES"))
	if n <= 0 {
		n = 10000
	}
	cache, _ := strconv.Atoi(os.Getenv("SLIPWAY_BENCH_CACHE_KB"))
	path := filepath.Join(b.TempDir(), "bench.db")
	seed, err := sqlite.Open(b.Context(), path, sqlite.Options{Synchronous: "OFF"})
	if err != nil {
		b.Fatal(err)
	}
	now := time.Now()
	if err := seed.CreateTenant(b.Context(), store.Tenant{ID: "t", CreatedAt: now}); err != nil {
		b.Fatal(err)
	}
	ms := make([]store.Machine, n)
	toks := make([]store.Token, n)
	for i := range ms {
		ms[i] = store.Machine{ID: fmt.Sprintf("m%07d", i), TenantID: "t", Fingerprint: fmt.Sprint(i), Hostname: "h",
			Source: "agent", AgentVersion: "1.4.0", SerialNumbers: []string{fmt.Sprint("S", i)}, CreatedAt: now, UpdatedAt: now}
		toks[i] = store.Token{Hash: []byte(fmt.Sprintf("%032d", i)), CreatedAt: now, ExpiresAt: now.Add(time.Hour)}
	}
	if err := seed.BulkRegister(b.Context(), ms, toks); err != nil {
		b.Fatal(err)
	}
	seed.Close()
	st, err := sqlite.Open(b.Context(), path, sqlite.Options{CacheKB: cache, Synchronous: os.Getenv("SLIPWAY_BENCH_SYNC")})
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	metrics := []byte(`{"cpu":12.5,"memory":40,"disk":70,"uptime":12345}`)
	size, _ := strconv.Atoi(os.Getenv("SLIPWAY_BENCH_BATCH"))
	if size <= 0 {
		size = 64
	}
	batch := make([]store.Heartbeat, 0, size)
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		batch = append(batch, store.Heartbeat{MachineID: fmt.Sprintf("m%07d", (i*7919)%n), At: time.Now(),
			Status: "ok", AgentVersion: "1.4.0", Metrics: metrics})
		if len(batch) == cap(batch) {
			if err := st.RecordHeartbeats(b.Context(), batch); err != nil {
				b.Fatal(err)
			}
			batch = batch[:0]
		}
	}
}
