package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"slices"
	"sync"
	"time"

	"github.com/slipwayhq/slipway/server"
	"github.com/slipwayhq/slipway/server/store"
	"github.com/slipwayhq/slipway/server/store/postgres"
)

// seedPostgres writes n machines with tokens into an empty PostgreSQL
// database. The bootstrap secret files go to bootDir ("": a temporary
// directory, removed).
func seedPostgres(ctx context.Context, url string, n int, bootDir string) ([]string, error) {
	st, err := postgres.Open(ctx, url, postgres.Options{})
	if err != nil {
		return nil, err
	}
	defer st.Close()
	dir := bootDir
	if dir == "" {
		tmp, err := os.MkdirTemp("", "slipway-bench-boot-")
		if err != nil {
			return nil, err
		}
		defer os.RemoveAll(tmp)
		dir = tmp
	} else if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	return seedStore(ctx, st, dir, n, 10000)
}

// uuidIDs (-uuid-ids) makes benchID return IDs as long as the server's
// (UUIDv7, 36 characters) instead of 13 characters.
var uuidIDs bool

// benchID is the ID of the i-th seeded machine.
func benchID(i int) string {
	if uuidIDs {
		return fmt.Sprintf("01938a5e-0000-7000-8000-%012d", i)
	}
	return fmt.Sprintf("bench-%07d", i)
}

func benchMachine(i int, now time.Time) store.Machine {
	return store.Machine{
		ID: benchID(i), TenantID: server.DefaultTenant, Fingerprint: fmt.Sprintf("fp-%07d", i),
		Hostname: fmt.Sprintf("host-%07d", i), OS: store.OS{Name: "linux", Version: "12", Architecture: "amd64"},
		SerialNumbers: []string{fmt.Sprintf("SN%07d", i)}, Source: "agent", CreatedAt: now, UpdatedAt: now,
		// What registration stores from the agent (the version the load's
		// heartbeats report): until session 5 of issue 12 the seed left it
		// empty, so every machine's first heartbeat also moved its entry in
		// the rollout index, which a registered agent's heartbeat does not.
		AgentVersion: "1.4.0",
	}
}

// runPostgres seeds the PostgreSQL database, starts o.replicas servers on
// it (each with its own connection pool, batcher and listener, as separate
// processes would have), loads them round-robin and verifies persistence.
func runPostgres(ctx context.Context, o options, out io.Writer) (result, error) {
	t0 := time.Now()
	tokens, err := seedPostgres(ctx, o.databaseURL, o.machines, "")
	if err != nil {
		return result{}, fmt.Errorf("seed: %w", err)
	}
	fmt.Fprintf(out, "seeded %d machines into PostgreSQL in %s\n", len(tokens), time.Since(t0).Round(time.Millisecond))
	n := max(1, o.replicas)
	var urls []string
	var verifyStore store.Store
	for i := range n {
		st, err := postgres.Open(ctx, o.databaseURL, postgres.Options{MaxConns: int32(max(8, o.concurrency/n))})
		if err != nil {
			return result{}, err
		}
		defer st.Close()
		verifyStore = st
		srv, err := server.New(server.Config{DataDir: os.TempDir(), HeartbeatBatchWait: o.batchWait}, server.Options{Store: st, Logger: slog.New(slog.DiscardHandler)})
		if err != nil {
			return result{}, err
		}
		url, stop, err := serve(srv)
		if err != nil {
			return result{}, err
		}
		defer func() { stop(); _ = srv.Close() }()
		urls = append(urls, url)
		fmt.Fprintf(out, "replica %d at %s\n", i+1, url)
	}
	stopProfile, err := startProfile(o.cpuProfile)
	if err != nil {
		return result{}, err
	}
	res := loadReplicas(ctx, urls, tokens, o.concurrency, o.duration)
	stopProfile()
	res.name = fmt.Sprintf("slipway server (PostgreSQL, %d replica(s))", n)
	res.verified, res.verifyErr = verify(ctx, verifyStore, res)
	return res, nil
}

// loadReplicas runs load against every replica at once, concurrency split
// between them. Replica p starts its walk over the machines at offset
// p·N/len, so a machine's consecutive heartbeats land on different replicas
// (no sticky sessions) without two replicas beating the same machine at the
// same instant, which no real fleet does. The results are merged.
func loadReplicas(ctx context.Context, urls, tokens []string, concurrency int, duration time.Duration) result {
	n := len(urls)
	parts := make([]result, n)
	offs := make([]int, n)
	var wg sync.WaitGroup
	for p, u := range urls {
		offs[p] = p * len(tokens) / n
		rot := append(append([]string{}, tokens[offs[p]:]...), tokens[:offs[p]]...)
		wg.Go(func() { parts[p] = load(ctx, u, rot, max(1, concurrency/n), duration) })
	}
	wg.Wait()
	m := parts[0] // its CPU time is the process's during the whole (concurrent) run
	m.ackedBy = make([]int64, len(tokens))
	for p, r := range parts {
		if p > 0 {
			m.sent, m.acked, m.failed = m.sent+r.sent, m.acked+r.acked, m.failed+r.failed
			m.elapsed = max(m.elapsed, r.elapsed)
			m.latencies = append(m.latencies, r.latencies...)
		}
		for j, k := range r.ackedBy {
			m.ackedBy[(j+offs[p])%len(tokens)] += k
		}
	}
	slices.Sort(m.latencies)
	return m
}
