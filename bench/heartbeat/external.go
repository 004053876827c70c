package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/slipwayhq/slipway/server/store"
	"github.com/slipwayhq/slipway/server/store/postgres"
	"github.com/slipwayhq/slipway/server/store/sqlite"
)

// runTarget loads servers that run elsewhere (-target URL[,URL...],
// round-robin as loadReplicas does), optionally after a warm-up pass, and
// then checks persistence against their store when -database-url or -data
// names it. With -slices it reports the CPU each cgroup used during the
// measured load.
func runTarget(ctx context.Context, o options, out io.Writer) error {
	urls := splitList(o.target)
	if len(urls) == 0 {
		return fmt.Errorf("-target: no URL in %q", o.target)
	}
	tokens, err := readTokens(o.tokensFile)
	if err != nil {
		return err
	}
	sl, err := parseSlices(o.cgroupRoot, o.slices)
	if err != nil {
		return err
	}
	var st store.Store
	if o.databaseURL != "" || o.dataDir != "" {
		if st, err = openVerifyStore(ctx, o); err != nil {
			return err
		}
		defer st.Close()
	}
	var warm result
	if o.warm {
		warm = warmUp(ctx, urls, tokens, o.concurrency)
		fmt.Fprintf(out, "warm-up: %d of %d heartbeats acknowledged in %s (every token once per target)\n",
			warm.acked, warm.sent, warm.elapsed.Round(time.Millisecond))
	}
	before, err := sampleSlices(sl)
	if err != nil {
		return err
	}
	res := loadReplicas(ctx, urls, tokens, o.concurrency, o.duration)
	after, err := sampleSlices(sl)
	if err != nil {
		return err
	}
	res.name = "external " + strings.Join(urls, " + ") + " (CPU/heartbeat: the load generator)"
	res.verified = "not checked (no -database-url or -data)"
	if st != nil {
		all := merge(warm, res)
		res.verified, res.verifyErr = verify(ctx, st, all)
		if res.verifyErr == nil && o.warm {
			res.verified += fmt.Sprintf(" (incl. %d warm-up)", warm.acked)
		}
	}
	printResults(out, o, []result{res})
	printSlices(out, sl, before, after, res)
	return res.verifyErr
}

// warmUp sends one heartbeat per token to every target, all targets at
// once (concurrency split between them): the steady state in which every
// machine has heartbeated since each server started, so a server that
// caches tokens (SQLite) has them all cached.
func warmUp(ctx context.Context, urls, tokens []string, concurrency int) result {
	parts := make([]result, len(urls))
	var wg sync.WaitGroup
	for p, u := range urls {
		wg.Go(func() {
			parts[p] = loadN(ctx, u, tokens, max(1, concurrency/len(urls)), time.Hour, int64(len(tokens)))
		})
	}
	wg.Wait()
	var m result
	for _, r := range parts {
		m = merge(m, r)
	}
	return m
}

// merge adds b's counts to a's (per-token counts index the same tokens).
func merge(a, b result) result {
	m := a
	m.sent, m.acked, m.failed = a.sent+b.sent, a.acked+b.acked, a.failed+b.failed
	m.elapsed = max(a.elapsed, b.elapsed)
	m.ackedBy = make([]int64, max(len(a.ackedBy), len(b.ackedBy)))
	for i, k := range a.ackedBy {
		m.ackedBy[i] += k
	}
	for i, k := range b.ackedBy {
		m.ackedBy[i] += k
	}
	return m
}

// openVerifyStore opens the store the target servers write: PostgreSQL
// without migrating, or the existing SQLite database under -data.
func openVerifyStore(ctx context.Context, o options) (store.Store, error) {
	if o.databaseURL != "" {
		st, err := postgres.Open(ctx, o.databaseURL, postgres.Options{MaxConns: 2, SkipMigrate: true})
		if err != nil {
			return nil, fmt.Errorf("verify store: %w", err)
		}
		return st, nil
	}
	path := filepath.Join(o.dataDir, "slipway.db")
	if _, err := os.Stat(path); err != nil {
		return nil, fmt.Errorf("verify store: no SQLite database at %s: %w", path, err)
	}
	st, err := sqlite.Open(ctx, path, sqlite.Options{Readers: 1})
	if err != nil {
		return nil, fmt.Errorf("verify store: %w", err)
	}
	return st, nil
}

func splitList(s string) []string {
	var out []string
	for _, v := range strings.Split(s, ",") {
		if v = strings.TrimRight(strings.TrimSpace(v), "/"); v != "" {
			out = append(out, v)
		}
	}
	return out
}
