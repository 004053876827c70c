package fleet

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/slipwayhq/slipway/server"
	"github.com/slipwayhq/slipway/server/store/sqlite"
	"github.com/slipwayhq/slipway/storage"
	"github.com/slipwayhq/slipway/updater/endpoint"
	"github.com/slipwayhq/slipway/updater/repo"
)

// Clock is the scenario's clock, shared by the server and the machines.
type Clock struct{ ns atomic.Int64 }

// Now returns the simulated time.
func (c *Clock) Now() time.Time { return time.Unix(0, c.ns.Load()).UTC() }

// Set moves the clock.
func (c *Clock) Set(t time.Time) { c.ns.Store(t.UnixNano()) }

// errDown is what the release store answers during an outage.
var errDown = errors.New("fleet: release store outage")

// faultStore is a storage.Store that fails every call while down.
type faultStore struct {
	storage.Store
	down atomic.Bool
}

func (f *faultStore) check() error {
	if f.down.Load() {
		return errDown
	}
	return nil
}

func (f *faultStore) Put(ctx context.Context, key string, r io.Reader, size int64, ct string) error {
	if err := f.check(); err != nil {
		return err
	}
	return f.Store.Put(ctx, key, r, size, ct)
}

func (f *faultStore) PutIf(ctx context.Context, key string, data []byte, ct string, prev []byte) error {
	if err := f.check(); err != nil {
		return err
	}
	c, ok := f.Store.(storage.Conditional)
	if !ok {
		return fmt.Errorf("fleet: %T has no conditional writes", f.Store)
	}
	return c.PutIf(ctx, key, data, ct, prev)
}

func (f *faultStore) Get(ctx context.Context, key string) (io.ReadCloser, storage.Info, error) {
	if err := f.check(); err != nil {
		return nil, storage.Info{}, err
	}
	return f.Store.Get(ctx, key)
}

func (f *faultStore) Stat(ctx context.Context, key string) (storage.Info, error) {
	if err := f.check(); err != nil {
		return storage.Info{}, err
	}
	return f.Store.Stat(ctx, key)
}

func (f *faultStore) List(ctx context.Context, prefix string) ([]storage.Info, error) {
	if err := f.check(); err != nil {
		return nil, err
	}
	return f.Store.List(ctx, prefix)
}

// slipway is the server under test: the real machine API and update
// endpoints on one loopback listener, restartable on the same database.
type slipway struct {
	dir, keysDir string
	clock        *Clock
	releases     *faultStore
	cfg          server.Config

	mu  sync.Mutex
	db  *sqlite.Store
	srv *server.Server
	h   *endpoint.Handler

	current atomic.Pointer[http.Handler]
	ts      *httptest.Server
	stats   *httpStats
	secret  string
}

// httpStats counts answers by route and whether a fault was active.
type httpStats struct {
	mu       sync.Mutex
	errors   map[string]int // 5xx outside injected outages
	outage   map[string]int // 5xx during them
	requests map[string]int
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

type countingWriter struct {
	http.ResponseWriter
	status int
	n      int64
}

func (w *countingWriter) WriteHeader(code int) { w.status = code; w.ResponseWriter.WriteHeader(code) }
func (w *countingWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	n, err := w.ResponseWriter.Write(b)
	w.n += int64(n)
	return n, err
}

func (s *httpStats) wrap(next func() http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		cw := &countingWriter{ResponseWriter: w}
		next().ServeHTTP(cw, r)
		rt := route(r.URL.Path)
		s.bytes.Add(cw.n)
		s.mu.Lock()
		s.requests[rt]++
		if cw.status >= 500 {
			if s.inFault.Load() {
				s.outage[rt]++
			} else {
				s.errors[rt]++
			}
		}
		s.mu.Unlock()
	})
}

func newSlipway(ctx context.Context, dir string, clock *Clock, releases *faultStore, sc *Scenario) (*slipway, error) {
	s := &slipway{dir: dir, keysDir: filepath.Join(dir, "keys"), clock: clock, releases: releases,
		stats: &httpStats{errors: map[string]int{}, outage: map[string]int{}, requests: map[string]int{}}}
	s.ts = httptest.NewServer(s.stats.wrap(func() http.Handler { return *s.current.Load() }))
	hb := time.Duration(sc.HeartbeatInterval)
	s.cfg = server.Config{DataDir: dir, PublicURL: s.ts.URL, RateLimit: 1e6, RateBurst: 1e6,
		HeartbeatInterval: hb, StaleAfter: 3 * hb, OfflineAfter: 3650 * 24 * time.Hour,
		HeartbeatRetention: 3650 * 24 * time.Hour, AuditRetention: 3650 * 24 * time.Hour}
	if err := s.start(ctx, true); err != nil {
		s.ts.Close()
		return nil, err
	}
	secret, err := os.ReadFile(filepath.Join(dir, server.ProvisioningSecretFile))
	if err != nil {
		return nil, err
	}
	s.secret = strings.TrimSpace(string(secret))
	return s, nil
}

// start opens the database and builds the server and update handler, as
// `slipway server` does (the online key file re-read on rotation).
func (s *slipway) start(ctx context.Context, first bool) error {
	db, err := sqlite.Open(ctx, filepath.Join(s.dir, "slipway.db"), sqlite.Options{Synchronous: "NORMAL"})
	if err != nil {
		return err
	}
	if first {
		if _, err := server.EnsureBootstrap(ctx, db, s.dir, server.Bootstrap{}, s.clock.Now()); err != nil {
			db.Close()
			return err
		}
	}
	h, err := endpoint.New(ctx, s.releases, endpoint.Options{BaseURL: s.ts.URL, Now: s.clock.Now,
		OnlineKeyFile: filepath.Join(s.keysDir, repo.OnlineKeyFile),
		Lease: func(ctx context.Context) (bool, error) {
			return db.AcquireLease(ctx, "tuf-online-signing", "fleet", s.clock.Now(), 2*time.Minute)
		}})
	if err != nil {
		db.Close()
		return err
	}
	srv, err := server.New(s.cfg, server.Options{Store: db, Now: s.clock.Now, Mount: []func(chi.Router){h.Routes}})
	if err != nil {
		db.Close()
		return err
	}
	s.mu.Lock()
	s.db, s.srv, s.h = db, srv, h
	s.mu.Unlock()
	var hh http.Handler = srv
	s.current.Store(&hh)
	return nil
}

// restart stops the server (flushing acknowledged heartbeats, as on
// SIGTERM) and starts a new one on the same database; requests in
// between reach the old one until the switch.
func (s *slipway) restart(ctx context.Context) error {
	s.mu.Lock()
	srv, db := s.srv, s.db
	s.mu.Unlock()
	if err := s.start(ctx, false); err != nil {
		return fmt.Errorf("restart: %w", err)
	}
	return errors.Join(srv.Close(), db.Close())
}

// tick is the update handler's periodic work (Run's body).
func (s *slipway) tick(ctx context.Context) error {
	s.mu.Lock()
	h := s.h
	s.mu.Unlock()
	return h.Tick(ctx)
}

func (s *slipway) close() error {
	s.ts.Close()
	s.mu.Lock()
	defer s.mu.Unlock()
	return errors.Join(s.srv.Close(), s.db.Close())
}
