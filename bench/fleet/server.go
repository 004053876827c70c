package fleet

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/slipwayhq/slipway/internal/rehearsal"
	"github.com/slipwayhq/slipway/server"
	"github.com/slipwayhq/slipway/server/store/postgres"
	"github.com/slipwayhq/slipway/server/store/sqlite"
)

// Clock is the scenario's clock, shared by the harness and the machines
// (the servers' clocks follow it through /_rehearsal/clock).
type Clock = rehearsal.Clock

// faultStore is the operator's view of the release store, failing every
// call while an outage is on.
type faultStore = rehearsal.FaultStore

// slipway is the server under test: Replicas subprocesses of the real
// server (see ServeChild) on one database (SQLite in the data directory,
// or PostgreSQL), behind one loopback listener that spreads requests
// round-robin and measures them. Restart is SIGTERM (acknowledged
// heartbeats flushed) and a new process; Kill is SIGKILL.
type slipway struct {
	dir, keysDir string
	clock        *Clock
	releases     *faultStore // the operator's view of the release store
	releasesDir  string
	sc           *Scenario
	dbURL        string
	binary       string // slipway, rehearsal build
	token        string // authenticates /_rehearsal/ calls

	mu    sync.RWMutex
	procs []*child
	next  atomic.Uint64

	tr     *http.Transport // to the replicas
	stats  *httpStats
	secret string
	ctl    *http.Client

	cpu    time.Duration // CPU of stopped server processes
	maxRSS int64         // peak resident set of any server process, KiB
	starts int
}

// child is one server subprocess.
type child struct {
	cmd  *exec.Cmd
	url  string
	host string // its listen address
	log  *testenvBuffer
}

// publicURL is the address machines use: the harness's transport
// (slipway.RoundTrip) sends each request to a replica in turn. No proxy
// in between: the round-robin costs no HTTP hop.
const publicURL = "http://slipway.rehearsal"

// httpStats counts answers by route and whether a fault was active.
type httpStats struct {
	mu       sync.Mutex
	errors   map[string]int // 5xx outside injected outages
	outage   map[string]int // 5xx during them
	requests map[string]int
	latency  map[string]*histogram
	bytes    atomic.Int64
	inFault  atomic.Bool
}

func route(p string) string {
	for _, pre := range []string{"/api/machines/heartbeat", "/api/machines/register", "/v1/updates/", "/v1/download/", "/tuf/targets/", "/tuf/"} {
		if strings.HasPrefix(p, pre) {
			return strings.TrimSuffix(pre, "/")
		}
	}
	return "other"
}

// record counts one answer (status 0: the request failed).
func (s *httpStats) record(rt string, status int, took time.Duration, n int64) {
	s.bytes.Add(n)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.requests[rt]++
	h := s.latency[rt]
	if h == nil {
		h = &histogram{}
		s.latency[rt] = h
	}
	h.add(took)
	if status >= 500 {
		if s.inFault.Load() {
			s.outage[rt]++
		} else {
			s.errors[rt]++
		}
	}
}

// p99 is the 99th percentile wall time per route, in milliseconds.
func (s *httpStats) p99() map[string]float64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string]float64{}
	for rt, h := range s.latency {
		out[rt] = float64(h.quantile(0.99).Microseconds()) / 1000
	}
	return out
}

// histogram holds durations in buckets 2 % wide (a p99 within 2 %, in
// constant memory whatever the number of requests).
type histogram struct {
	counts []int64
	n      int64
}

const histBase = 1.02

func (h *histogram) add(d time.Duration) {
	us := max(float64(d.Microseconds()), 1)
	i := int(math.Log(us) / math.Log(histBase))
	if i >= len(h.counts) {
		h.counts = append(h.counts, make([]int64, i+1-len(h.counts))...)
	}
	h.counts[i]++
	h.n++
}

// quantile is the upper bound of the bucket holding quantile q.
func (h *histogram) quantile(q float64) time.Duration {
	want := int64(math.Ceil(q * float64(h.n)))
	var seen int64
	for i, c := range h.counts {
		if seen += c; seen >= want && c > 0 {
			return time.Duration(math.Pow(histBase, float64(i+1))) * time.Microsecond
		}
	}
	return 0
}

func newSlipway(ctx context.Context, binary, dir, releasesDir string, clock *Clock, releases *faultStore, sc *Scenario, dbURL string) (*slipway, error) {
	s := &slipway{dir: dir, keysDir: filepath.Join(dir, "keys"), clock: clock, releases: releases, releasesDir: releasesDir,
		sc: sc, dbURL: dbURL, binary: binary, token: rand.Text(), ctl: &http.Client{Timeout: 2 * time.Minute},
		tr:    &http.Transport{MaxIdleConnsPerHost: 256, IdleConnTimeout: 30 * time.Second},
		stats: &httpStats{errors: map[string]int{}, outage: map[string]int{}, requests: map[string]int{}, latency: map[string]*histogram{}}}
	replicas := 1
	if dbURL != "" {
		replicas = max(1, sc.Replicas)
	}
	s.procs = make([]*child, replicas)
	for i := range replicas {
		if err := s.start(ctx, i); err != nil {
			s.close()
			return nil, err
		}
	}
	secret, err := os.ReadFile(filepath.Join(s.replicaDir(0), server.ProvisioningSecretFile))
	if err != nil {
		s.close()
		return nil, err
	}
	s.secret = strings.TrimSpace(string(secret))
	return s, nil
}

// RoundTrip sends a machine's request to the next replica and measures
// the answer (status, time until its body is read or closed, bytes). The
// control routes are not reachable this way.
func (s *slipway) RoundTrip(r *http.Request) (*http.Response, error) {
	if strings.HasPrefix(r.URL.Path, "/_rehearsal/") {
		return nil, errors.New("fleet: control routes are not for machines")
	}
	s.mu.RLock()
	c := s.procs[s.next.Add(1)%uint64(len(s.procs))]
	s.mu.RUnlock()
	out := r.Clone(r.Context())
	out.URL.Scheme, out.URL.Host = "http", c.host
	began := time.Now()
	resp, err := s.tr.RoundTrip(out)
	rt := route(r.URL.Path)
	if err != nil {
		s.stats.record(rt, 0, time.Since(began), 0)
		return nil, err
	}
	resp.Body = &measured{ReadCloser: resp.Body, done: func(n int64) { s.stats.record(rt, resp.StatusCode, time.Since(began), n) }}
	return resp, nil
}

// measured calls done once, with the bytes read, at EOF or Close.
type measured struct {
	io.ReadCloser
	n    int64
	done func(int64)
	once sync.Once
}

func (m *measured) Read(p []byte) (int, error) {
	n, err := m.ReadCloser.Read(p)
	m.n += int64(n)
	if err != nil {
		m.once.Do(func() { m.done(m.n) })
	}
	return n, err
}

func (m *measured) Close() error {
	m.once.Do(func() { m.done(m.n) })
	return m.ReadCloser.Close()
}

func (s *slipway) replicaDir(i int) string { return filepath.Join(s.dir, fmt.Sprintf("replica-%d", i)) }

// start runs replica i's server process (`slipway server` of the
// rehearsal build) and waits until it listens.
func (s *slipway) start(ctx context.Context, i int) error {
	hb := time.Duration(s.sc.HeartbeatInterval)
	const decade = "87600h"
	env := []string{
		"SLIPWAY_ADDR=127.0.0.1:0",
		"SLIPWAY_DATA=" + s.replicaDir(i),
		"SLIPWAY_PUBLIC_URL=" + publicURL,
		"SLIPWAY_STORE=" + s.releasesDir,
		"SLIPWAY_TUF_KEYS=" + s.keysDir,
		"SLIPWAY_HEARTBEAT_INTERVAL=" + hb.String(),
		"SLIPWAY_STALE_AFTER=" + (3 * hb).String(),
		"SLIPWAY_OFFLINE_AFTER=" + decade,
		"SLIPWAY_HEARTBEAT_RETENTION=" + decade,
		"SLIPWAY_AUDIT_RETENTION=" + decade,
		// Every machine comes from the round-robin's loopback address.
		"SLIPWAY_RATE_LIMIT=1000000", "SLIPWAY_RATE_BURST=1000000",
		"SLIPWAY_LOG_LEVEL=warn",
		rehearsal.EnvToken + "=" + s.token,
		rehearsal.EnvClock + "=" + strconv.FormatInt(s.clock.Now().UnixNano(), 10),
	}
	if s.dbURL != "" {
		env = append(env, "SLIPWAY_DATABASE_URL="+s.dbURL)
	}
	cmd := exec.CommandContext(ctx, s.binary, "server")
	cmd.Env = append(parentEnv(), env...)
	cmd.SysProcAttr = childAttr() // dies with the harness
	log := &testenvBuffer{}
	cmd.Stderr = log
	out, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	if err := cmd.Start(); err != nil {
		return err
	}
	sc := bufio.NewScanner(out)
	raw, err := readListening(sc)
	if err != nil {
		_ = cmd.Wait()
		return fmt.Errorf("replica %d: %w\n%s", i, err, log.String())
	}
	go func() { // keep draining stdout
		for sc.Scan() {
		}
	}()
	u, err := url.Parse(raw)
	if err != nil {
		return err
	}
	s.mu.Lock()
	s.procs[i] = &child{cmd: cmd, url: raw, host: u.Host, log: log}
	s.starts++
	s.mu.Unlock()
	return nil
}

// parentEnv is this process's environment without the server's own
// variables (a developer's SLIPWAY_DATABASE_URL must not leak in).
func parentEnv() []string {
	var out []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "SLIPWAY_") && !strings.HasPrefix(kv, "MACHINE_") {
			out = append(out, kv)
		}
	}
	return out
}

// readListening waits for the server's line giving its real address.
func readListening(sc *bufio.Scanner) (string, error) {
	for sc.Scan() {
		if u, ok := strings.CutPrefix(sc.Text(), rehearsal.ListeningPrefix); ok {
			return u, nil
		}
	}
	if err := sc.Err(); err != nil {
		return "", err
	}
	return "", errors.New("server process exited before listening (is it a -tags rehearsal build?)")
}

// stop ends replica i with sig after recording its CPU and memory.
func (s *slipway) stop(i int, sig syscall.Signal) error {
	s.mu.RLock()
	c := s.procs[i]
	s.mu.RUnlock()
	if c == nil || c.cmd.Process == nil {
		return nil
	}
	cpu, rss := procUsage(c.cmd.Process.Pid)
	s.mu.Lock()
	s.cpu += cpu
	s.maxRSS = max(s.maxRSS, rss)
	s.mu.Unlock()
	if err := c.cmd.Process.Signal(sig); err != nil {
		return err
	}
	err := c.cmd.Wait()
	s.tr.CloseIdleConnections() // those to the stopped process are dead
	if sig == syscall.SIGKILL {
		return nil // "signal: killed" is the point
	}
	if err != nil {
		return fmt.Errorf("replica %d: %w\n%s", i, err, c.log.String())
	}
	return nil
}

// restart stops every replica (SIGTERM: acknowledged heartbeats are
// flushed) and starts it again on the same database, one at a time.
func (s *slipway) restart(ctx context.Context) error {
	for i := range s.procs {
		if err := s.stop(i, syscall.SIGTERM); err != nil {
			return err
		}
		if err := s.start(ctx, i); err != nil {
			return fmt.Errorf("restart: %w", err)
		}
	}
	return nil
}

// kill is kill -9 of the first replica, then a new process.
func (s *slipway) kill(ctx context.Context) error {
	if err := s.stop(0, syscall.SIGKILL); err != nil {
		return err
	}
	return s.start(ctx, 0)
}

// control posts to every replica's /_rehearsal/ route.
func (s *slipway) control(ctx context.Context, path string) error {
	s.mu.RLock()
	procs := slices.Clone(s.procs)
	s.mu.RUnlock()
	var errs []error
	for _, c := range procs {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.url+path, nil)
		if err != nil {
			return err
		}
		req.Header.Set(rehearsal.TokenHeader, s.token)
		resp, err := s.ctl.Do(req)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			errs = append(errs, fmt.Errorf("%s: HTTP %d: %s", path, resp.StatusCode, body))
		}
	}
	return errors.Join(errs...)
}

// setClock moves every replica's clock to the scenario's.
func (s *slipway) setClock(ctx context.Context) error {
	return s.control(ctx, "/_rehearsal/clock?ns="+strconv.FormatInt(s.clock.Now().UnixNano(), 10))
}

// setDown starts or ends a release store outage on every side.
func (s *slipway) setDown(ctx context.Context, down bool) error {
	s.releases.Down.Store(down)
	s.stats.inFault.Store(down)
	v := "0"
	if down {
		v = "1"
	}
	return s.control(ctx, "/_rehearsal/store?down="+v)
}

// tick is each replica's periodic work (Handler.Run's body).
func (s *slipway) tick(ctx context.Context) error { return s.control(ctx, "/_rehearsal/tick") }

func (s *slipway) close() error {
	var errs []error
	for i := range s.procs {
		errs = append(errs, s.stop(i, syscall.SIGTERM))
	}
	s.tr.CloseIdleConnections()
	return errors.Join(errs...)
}

// countHeartbeats counts stored heartbeat rows once the servers stopped.
func (s *slipway) countHeartbeats(ctx context.Context) (int64, error) {
	if s.dbURL != "" {
		db, err := postgres.Open(ctx, s.dbURL, postgres.Options{SkipMigrate: true})
		if err != nil {
			return 0, err
		}
		defer db.Close()
		return db.CountHeartbeats(ctx)
	}
	db, err := sqlite.Open(ctx, filepath.Join(s.replicaDir(0), "slipway.db"), sqlite.Options{})
	if err != nil {
		return 0, err
	}
	defer db.Close()
	return db.CountHeartbeats(ctx)
}

// procUsage is a process's CPU time (user + system) and peak resident
// set (KiB) from /proc; zero where /proc is missing.
func procUsage(pid int) (time.Duration, int64) {
	var cpu time.Duration
	if stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid)); err == nil {
		// Fields after the parenthesised command name; utime and stime
		// are fields 14 and 15 (clock ticks, 100 per second on Linux).
		if i := bytes.LastIndexByte(stat, ')'); i > 0 {
			f := strings.Fields(string(stat[i+1:]))
			if len(f) > 13 {
				u, _ := strconv.ParseInt(f[11], 10, 64)
				st, _ := strconv.ParseInt(f[12], 10, 64)
				cpu = time.Duration(u+st) * 10 * time.Millisecond
			}
		}
	}
	var rss int64
	if status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid)); err == nil {
		for line := range strings.SplitSeq(string(status), "\n") {
			if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
				rss, _ = strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			}
		}
	}
	return cpu, rss
}

// testenvBuffer is a goroutine-safe, bounded log of a subprocess.
type testenvBuffer struct {
	mu  sync.Mutex
	buf []byte
}

func (b *testenvBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf = append(b.buf, p...)
	if len(b.buf) > 64<<10 {
		b.buf = b.buf[len(b.buf)-32<<10:]
	}
	return len(p), nil
}

func (b *testenvBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return string(b.buf)
}
