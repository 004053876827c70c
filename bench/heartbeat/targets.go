package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	mrand "math/rand/v2"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime/pprof"
	"strings"
	"sync"
	"time"

	"github.com/slipwayhq/slipway/server"
	"github.com/slipwayhq/slipway/server/store"
	"github.com/slipwayhq/slipway/server/store/sqlite"
	"github.com/slipwayhq/slipway/server/token"
)

// seed writes n machines with tokens into the database under dir, and
// history past heartbeats per machine.
func seed(ctx context.Context, dir string, n, history int) ([]string, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	st, err := sqlite.Open(ctx, filepath.Join(dir, "slipway.db"), sqlite.Options{Synchronous: "OFF"})
	if err != nil {
		return nil, err
	}
	defer st.Close()
	tokens, err := seedStore(ctx, st, dir, n, 5000)
	if err != nil {
		return nil, err
	}
	return tokens, seedHistory(ctx, st, n, history)
}

// seedHistory records history heartbeats per machine, one minute apart and
// ending a minute ago, round by round in a shuffled machine order (as a
// fleet's history is written), so the load meets the history index of a
// server that has been running rather than an empty one.
func seedHistory(ctx context.Context, st store.HeartbeatStore, n, history int) error {
	if history <= 0 {
		return nil
	}
	now := time.Now().UTC().Truncate(time.Millisecond)
	order := mrand.New(mrand.NewPCG(11, 11)).Perm(n)
	const batch = 32768
	hbs := make([]store.Heartbeat, 0, batch)
	for k := range history {
		at := now.Add(-time.Duration(history-k) * time.Minute)
		for j, i := range order {
			hbs = append(hbs, store.Heartbeat{MachineID: benchID(i), At: at, Status: "ok", AgentVersion: "1.4.0",
				Metrics: json.RawMessage(fmt.Sprintf(`{"cpu":%d.5,"memory":41.2,"disk":63.0,"uptime":%d}`, (i+k)%100, 3600*k+j))})
			if len(hbs) == batch {
				if err := st.RecordHeartbeats(ctx, hbs); err != nil {
					return fmt.Errorf("seed history: %w", err)
				}
				hbs = hbs[:0]
			}
		}
	}
	if err := st.RecordHeartbeats(ctx, hbs); err != nil {
		return fmt.Errorf("seed history: %w", err)
	}
	return nil
}

// bulkStore is a store that can register machines in bulk (both stores).
type bulkStore interface {
	store.Store
	BulkRegister(ctx context.Context, ms []store.Machine, toks []store.Token) error
}

// seedStore bootstraps st (secret files in dir) and registers n machines,
// batch at a time, each with its own token; it returns the token values.
func seedStore(ctx context.Context, st bulkStore, dir string, n, batch int) ([]string, error) {
	now := time.Now().UTC()
	if _, err := server.EnsureBootstrap(ctx, st, dir, server.Bootstrap{}, now); err != nil {
		return nil, err
	}
	tokens := make([]string, 0, n)
	for lo := 0; lo < n; lo += batch {
		hi := min(n, lo+batch)
		ms := make([]store.Machine, 0, hi-lo)
		toks := make([]store.Token, 0, hi-lo)
		for i := lo; i < hi; i++ {
			value, hash := token.New(token.Machine)
			tokens = append(tokens, value)
			ms = append(ms, benchMachine(i, now))
			toks = append(toks, store.Token{Hash: hash, CreatedAt: now, ExpiresAt: now.Add(30 * 24 * time.Hour)})
		}
		if err := st.BulkRegister(ctx, ms, toks); err != nil {
			return nil, err
		}
	}
	return tokens, nil
}

func seedOnly(ctx context.Context, o options, out io.Writer) error {
	if o.tokensFile == "" {
		return fmt.Errorf("-seed needs -tokens FILE")
	}
	var tokens []string
	var err error
	into := o.seedDir
	if o.databaseURL != "" {
		tokens, err = seedPostgres(ctx, o.databaseURL, o.machines, o.seedDir)
		into = "PostgreSQL (bootstrap files in " + o.seedDir + ")"
	} else {
		tokens, err = seed(ctx, o.seedDir, o.machines, o.history)
	}
	if err != nil {
		return fmt.Errorf("seed: %w", err)
	}
	if err := os.WriteFile(o.tokensFile, []byte(strings.Join(tokens, "\n")+"\n"), 0o600); err != nil {
		return err
	}
	fmt.Fprintf(out, "seeded %d machines into %s; tokens in %s\n", len(tokens), into, o.tokensFile)
	return nil
}

func readTokens(path string) ([]string, error) {
	if path == "" {
		return nil, fmt.Errorf("-target needs -tokens FILE")
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if t := strings.TrimSpace(sc.Text()); t != "" {
			out = append(out, t)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no tokens in %s", path)
	}
	return out, sc.Err()
}

// serve runs h on a loopback port until the returned stop is called.
func serve(h http.Handler) (url string, stop func(), err error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	hs := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second, IdleTimeout: time.Minute}
	go func() { _ = hs.Serve(ln) }()
	return "http://" + ln.Addr().String(), func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = hs.Shutdown(ctx)
	}, nil
}

// runServer seeds, starts the real server and loads it, then verifies.
func runServer(ctx context.Context, o options, out io.Writer) (result, error) {
	sr, err := openServerRun(ctx, o, out)
	if err != nil {
		return result{}, err
	}
	defer sr.cleanup()
	res, err := sr.round(ctx, o.duration)
	if err != nil {
		return result{}, err
	}
	return sr.finish(ctx, res)
}

// serverRun is the in-process slipway server on a seeded SQLite store,
// loaded one or more times (rounds) before it is stopped and verified.
type serverRun struct {
	o           options
	url         string
	tokens      []string
	st          *sqlite.Store
	srv         *server.Server
	state       string // of the token cache: warm or cold
	stopProfile func()
	stopHTTP    func()
	cleanups    []func()
}

// openServerRun seeds the store, opens it as slipway server does and starts
// the real server on loopback; the CPU profile, if any, starts too.
func openServerRun(ctx context.Context, o options, out io.Writer) (sr *serverRun, err error) {
	sr = &serverRun{o: o, stopProfile: func() {}}
	defer func() {
		if err != nil {
			sr.cleanup()
		}
	}()
	dir := o.dataDir
	if dir == "" {
		tmp, err := os.MkdirTemp("", "slipway-bench-")
		if err != nil {
			return nil, err
		}
		sr.cleanups = append(sr.cleanups, func() { os.RemoveAll(tmp) })
		dir = tmp
	}
	t0 := time.Now()
	if sr.tokens, err = seed(ctx, dir, o.machines, o.history); err != nil {
		return nil, fmt.Errorf("seed: %w", err)
	}
	fmt.Fprintf(out, "seeded %d machines and %d history rows in %s\n", len(sr.tokens), len(sr.tokens)*o.history, time.Since(t0).Round(time.Millisecond))
	sopts := sqlite.Options{Synchronous: o.synchronous, WriterCacheKB: o.writerCacheKB, FoldInterval: o.foldInterval, FoldBatch: o.foldBatch}
	if o.journal {
		// As `slipway server` opens its SQLite store (server.OpenStore).
		sopts.HeartbeatJournal = filepath.Join(dir, "heartbeats")
	}
	if sr.st, err = sqlite.Open(ctx, filepath.Join(dir, "slipway.db"), sopts); err != nil {
		return nil, err
	}
	sr.cleanups = append(sr.cleanups, func() { sr.st.Close() })
	sr.state = "cold"
	if !o.cold {
		// Steady state: every machine has heartbeated since the server
		// started, so its token is in the store's cache. Warm it directly.
		for _, tok := range sr.tokens {
			if _, err := sr.st.GetToken(ctx, token.Hash(tok)); err != nil {
				return nil, fmt.Errorf("warm: %w", err)
			}
		}
		sr.state = "warm"
	}
	if sr.srv, err = server.New(server.Config{DataDir: dir, HeartbeatBatchWait: o.batchWait}, server.Options{Store: sr.st, Logger: slog.New(slog.DiscardHandler)}); err != nil {
		return nil, err
	}
	url, stop, err := serve(sr.srv)
	if err != nil {
		sr.srv.Close()
		return nil, err
	}
	sr.url, sr.stopHTTP = url, sync.OnceFunc(stop)
	sr.cleanups = append(sr.cleanups, func() { sr.stopHTTP(); _ = sr.srv.Close() })
	if sr.stopProfile, err = startProfile(o.cpuProfile); err != nil {
		sr.stopProfile = func() {}
		return nil, err
	}
	return sr, nil
}

// round loads the server for d. With the journal, what the fold had not
// applied when the load ended is part of the work: it is folded at once and
// its time and CPU count in the round (CountHeartbeats folds before it reads).
func (sr *serverRun) round(ctx context.Context, d time.Duration) (result, error) {
	res := load(ctx, sr.url, sr.tokens, sr.o.concurrency, d)
	t0, cpu0 := time.Now(), cpuTime()
	if _, err := sr.st.CountHeartbeats(ctx); err != nil {
		return result{}, err
	}
	res.settle = time.Since(t0)
	res.elapsed += res.settle
	res.cpu += cpuTime() - cpu0
	return res, nil
}

// finish stops the profile and the server, names res (every round's load
// together) and checks that the store holds every acknowledged heartbeat.
func (sr *serverRun) finish(ctx context.Context, res result) (result, error) {
	sr.stopProfile()
	sr.stopProfile = func() {}
	sr.stopHTTP()
	if err := sr.srv.Close(); err != nil {
		return result{}, err
	}
	res.name = "slipway server (SQLite, synchronous=" + sr.o.synchronous + ", " + sr.state + " token cache)"
	if sr.o.journal {
		res.name = fmt.Sprintf("slipway server (SQLite, synchronous=%s, heartbeat journal, %s token cache; incl. %s folding what was left)",
			sr.o.synchronous, sr.state, res.settle.Round(time.Millisecond))
	}
	res.seeded, res.history = int64(len(sr.tokens)*sr.o.history), sr.o.history
	res.verified, res.verifyErr = verify(ctx, sr.st, res)
	return res, nil
}

// cleanup stops and removes what openServerRun started (last first).
func (sr *serverRun) cleanup() {
	sr.stopProfile()
	for i := len(sr.cleanups) - 1; i >= 0; i-- {
		sr.cleanups[i]()
	}
	sr.cleanups = nil
}

// verify checks that the store holds at least every acknowledged heartbeat
// (requests cut off by the deadline may have committed without an ack).
func verify(ctx context.Context, st store.Store, res result) (string, error) {
	n, err := st.CountHeartbeats(ctx)
	if err != nil {
		return "", err
	}
	n -= res.seeded
	if n < res.acked || n > res.sent {
		return "", fmt.Errorf("persistence check failed: %d acknowledged, %d sent, %d stored", res.acked, res.sent, n)
	}
	// Spot-check per machine: machines with acks have history rows.
	for i := 0; i < len(res.ackedBy); i += max(1, len(res.ackedBy)/200) {
		if res.ackedBy[i] == 0 {
			continue
		}
		hbs, err := st.ListHeartbeats(ctx, benchID(i), 1000+res.history)
		if err != nil {
			return "", err
		}
		if int64(len(hbs)-res.history) < res.ackedBy[i] {
			return "", fmt.Errorf("machine %d: %d acknowledged, %d stored", i, res.ackedBy[i], len(hbs))
		}
	}
	return fmt.Sprintf("%d acknowledged, %d stored", res.acked, n), nil
}

// baselineRequest mirrors the server's heartbeat body.
type baselineRequest struct {
	MachineToken string          `json:"machineToken"`
	Status       string          `json:"status"`
	Metrics      json.RawMessage `json:"metrics"`
	AgentVersion string          `json:"agentVersion"`
	Inventory    json.RawMessage `json:"inventory"`
}

// baseline decodes the same JSON and answers 204 without storage.
func baseline() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req baselineRequest
		dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&req); err != nil || r.Header.Get("Authorization") == "" {
			http.Error(w, "bad request", http.StatusBadRequest)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
}

func runBaseline(ctx context.Context, o options) (result, error) {
	b, err := startBaseline(o)
	if err != nil {
		return result{}, err
	}
	defer b.stop()
	return b.round(ctx, o.duration), nil
}

// baselineRun is the bare handler on loopback with its own tokens (never
// checked: it only needs the same header and body sizes).
type baselineRun struct {
	o      options
	url    string
	tokens []string
	stop   func()
}

func startBaseline(o options) (*baselineRun, error) {
	url, stop, err := serve(baseline())
	if err != nil {
		return nil, err
	}
	tokens := make([]string, o.machines)
	for i := range tokens {
		tokens[i], _ = token.New(token.Machine)
	}
	return &baselineRun{o: o, url: url, tokens: tokens, stop: stop}, nil
}

func (b *baselineRun) round(ctx context.Context, d time.Duration) result {
	res := load(ctx, b.url, b.tokens, b.o.concurrency, d)
	res.name = "baseline (net/http, decode, 204)"
	res.verified = "n/a (no storage)"
	return res
}

func printResults(out io.Writer, o options, rs []result) {
	fmt.Fprintf(out, "\nmachines=%d concurrency=%d duration=%s\n\n", o.machines, o.concurrency, o.duration)
	fmt.Fprintln(out, "| target | acked | failed | heartbeats/s | p50 | p90 | p99 | max | CPU/heartbeat | persistence |")
	fmt.Fprintln(out, "|---|---:|---:|---:|---:|---:|---:|---:|---:|---|")
	for _, r := range rs {
		v := r.verified
		if r.verifyErr != nil {
			v = "FAILED: " + r.verifyErr.Error()
		}
		fmt.Fprintf(out, "| %s | %d | %d | %.0f | %s | %s | %s | %s | %d µs | %s |\n", r.name, r.acked, r.failed, r.rate(),
			ms(r.pct(0.50)), ms(r.pct(0.90)), ms(r.pct(0.99)), ms(r.pct(1)), r.cpuPer().Microseconds(), v)
	}
}

func ms(d time.Duration) string { return fmt.Sprintf("%.2f ms", float64(d.Microseconds())/1000) }

// startProfile starts a CPU profile into path ("" profiles nothing); the
// returned function stops it.
func startProfile(path string) (func(), error) {
	if path == "" {
		return func() {}, nil
	}
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, err
	}
	return func() {
		pprof.StopCPUProfile()
		f.Close()
		// Beside the CPU profile, the allocations since the process started.
		if m, err := os.Create(path + ".allocs"); err == nil {
			_ = pprof.Lookup("allocs").WriteTo(m, 0)
			m.Close()
		}
	}, nil
}
