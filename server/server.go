// Package server is Slipway's machine API: machines register, heartbeat and
// open browser sessions; Fleet pushes inventory; admins list and manage
// machines, tenants and secrets. Routes are grouped by auth mode in routes().
package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/slipwayhq/slipway/server/heartbeat"
	"github.com/slipwayhq/slipway/server/session"
	"github.com/slipwayhq/slipway/server/store"
)

// Options are the server's collaborators; the zero value is safe.
type Options struct {
	// Store keeps all data. Default: SQLite at <DataDir>/slipway.db, owned
	// (and closed) by the server.
	Store store.Store
	// Logger receives request failures. Default: discard.
	Logger *slog.Logger
	// Now is the clock. Default: time.Now.
	Now func() time.Time
	// Mount adds route groups of other packages (the updater). Mounted
	// routes see the calling machine, when a valid machine token or session
	// is presented, through MachineFromContext.
	Mount []func(r chi.Router)
	// Registry receives the server's Prometheus metrics and is served at
	// /metrics. Default: a fresh registry with Go and process collectors.
	Registry *prometheus.Registry
	// SigningKeys reads and writes the session signing keys, when the
	// caller already opened them with SigningKeys (to share them with the
	// admin page). Default: SigningKeys(cfg, Store, Logger).
	SigningKeys store.SigningKeyStore
	// Channels serves the release managers' channel actions on the admin
	// API (POST /api/admin/channels/{product}/{channel}/{action}). Default:
	// none (404).
	Channels ChannelActions
}

// Server is the machine API; it is an http.Handler.
type Server struct {
	cfg       Config
	st        store.Store
	ownsStore bool
	log       *slog.Logger
	now       func() time.Time
	sessions  *session.Issuer
	channels  ChannelActions
	batcher   *heartbeat.Batcher
	router    chi.Router
	metrics   *metrics
	register  *limiter
	handshake *limiter
	// authFailures limits failed authentications per address (authlimit.go).
	authFailures *limiter
	redirects    map[string]bool
	swHashes     hashCache
	cors         map[string]bool

	stop     context.CancelFunc
	wg       sync.WaitGroup
	closeErr error
	once     sync.Once
}

// New builds the server from a configuration (defaults applied) and options.
// Call Close when done: it flushes pending heartbeats.
func New(cfg Config, opts Options) (*Server, error) {
	cfg = cfg.Default()
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("server: config: %w", err)
	}
	s := &Server{cfg: cfg, st: opts.Store, log: opts.Logger, now: opts.Now, channels: opts.Channels}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.now == nil {
		s.now = time.Now
	}
	ctx := context.Background()
	if s.st == nil {
		st, err := OpenStoreLogged(ctx, cfg, s.log)
		if err != nil {
			return nil, err
		}
		s.st, s.ownsStore = st, true
	}
	keys := opts.SigningKeys
	if keys == nil {
		var err error
		if keys, err = SigningKeys(cfg, s.st, s.log); err != nil {
			s.closeStore()
			return nil, err
		}
	}
	err := withLock(ctx, s.st, "session-keys", func(ctx context.Context) (err error) {
		s.sessions, err = session.Load(ctx, keys, cfg.PublicURL, s.now())
		return err
	})
	if err != nil {
		s.closeStore()
		return nil, fmt.Errorf("server: %w", err)
	}
	s.redirects = originSet(append([]string{cfg.PortalURL}, cfg.RedirectOrigins...))
	s.cors = originSet(append(append([]string{}, desktopOrigins...), cfg.CORSOrigins...))
	s.register = newLimiter(cfg.RateLimit, cfg.RateBurst)
	s.handshake = newLimiter(cfg.RateLimit, cfg.RateBurst)
	s.authFailures = newLimiter(cfg.AuthFailureRate, cfg.AuthFailureBurst)
	s.metrics = newMetrics(opts.Registry)
	if j, ok := s.st.(store.HeartbeatJournal); ok {
		s.metrics.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "slipway_heartbeat_journal_unfolded",
			Help: "Heartbeats acknowledged from the SQLite heartbeat journal and not yet folded into the database (grows while the database fails).",
		}, func() float64 { return float64(j.UnfoldedHeartbeats()) }))
	}
	s.batcher = heartbeat.New(s.st, heartbeat.Options{Logger: s.log, OnCommit: s.metrics.observeBatch,
		MaxWait: batchWait(cfg.HeartbeatBatchWait, s.st)})
	runCtx, stop := context.WithCancel(ctx)
	s.stop = stop
	s.wg.Add(2)
	go func() { defer s.wg.Done(); _ = s.batcher.Run(runCtx) }()
	go func() { defer s.wg.Done(); s.prune(runCtx) }()
	s.watchSoftwareLists(runCtx)
	s.router = s.routes(opts.Mount)
	return s, nil
}

// ServeHTTP serves the API.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.router.ServeHTTP(w, r) }

// Router exposes the chi router (for route walking in tests and docs).
func (s *Server) Router() chi.Router { return s.router }

// Store returns the server's store.
func (s *Server) Store() store.Store { return s.st }

// Close stops background work, persisting queued heartbeats, and closes an
// owned store. It is safe to call more than once.
func (s *Server) Close() error {
	s.once.Do(func() {
		s.stop()
		s.wg.Wait()
		s.closeErr = s.closeStore()
	})
	return s.closeErr
}

func (s *Server) closeStore() error {
	if s.ownsStore {
		return s.st.Close()
	}
	return nil
}

// prune deletes old heartbeat history every hour.
func (s *Server) prune(ctx context.Context) {
	t := time.NewTicker(time.Hour)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			s.pruneOld(ctx)
		}
	}
}

// pruneOld deletes heartbeat history and audit entries past their retention.
func (s *Server) pruneOld(ctx context.Context) {
	now := s.now()
	for _, p := range []struct {
		what  string
		prune func(context.Context, time.Time) (int64, error)
		keep  time.Duration
	}{
		{"heartbeats", s.st.PruneHeartbeats, s.cfg.HeartbeatRetention},
		{"audit entries", s.st.PruneAudit, s.cfg.AuditRetention},
		{"software history", s.st.PruneSoftwareHistory, s.cfg.SoftwareHistoryRetention},
		{"admin session revocations", s.st.PruneAdminSessions, 0}, // kept until the session would have expired
	} {
		n, err := p.prune(ctx, now.Add(-p.keep))
		if err != nil && !errors.Is(err, context.Canceled) {
			s.log.Error("prune "+p.what, "err", err)
		} else if n > 0 {
			s.log.Info("pruned "+p.what, "rows", n)
		}
	}
}

func originSet(urls []string) map[string]bool {
	m := map[string]bool{}
	for _, u := range urls {
		if o, err := origin(u); err == nil {
			m[o] = true
		}
	}
	return m
}

// routes registers every endpoint, grouped by who may call it.
func (s *Server) routes(mounts []func(chi.Router)) chi.Router {
	r := chi.NewRouter()
	r.Use(s.recoverer, s.metrics.middleware, s.corsMiddleware, s.limitFailedAuth)
	r.NotFound(s.h(func(http.ResponseWriter, *http.Request) error { return errNotFound }))
	r.MethodNotAllowed(s.h(func(http.ResponseWriter, *http.Request) error {
		return &Error{Status: http.StatusMethodNotAllowed, Code: "method_not_allowed", Message: "method not allowed"}
	}))

	// Public: health, metrics, documents, keys; registration (provisioning
	// secret in the body) and handshake completion (one-time code), both
	// rate limited per client address.
	r.Group(func(r chi.Router) {
		r.Get("/healthz", s.healthz)
		r.Get("/readyz", s.h(s.readyz))
		r.Method(http.MethodGet, "/metrics", s.metrics.handler())
		r.Get("/openapi.json", s.openapi)
		r.Get("/.well-known/jwks.json", s.jwks)
		r.With(s.rateLimit(s.register)).Post("/api/machines/register", s.h(s.handleRegister))
		r.With(s.rateLimit(s.handshake)).Get("/machines/handshake", s.h(s.handleHandshakeComplete))
	})

	// Machine token: bearer header, or machineToken in the heartbeat body
	// (checked by the handler once the body is read).
	r.Post("/api/machines/heartbeat", s.h(s.handleHeartbeat))
	r.Group(func(r chi.Router) {
		r.Use(s.requireMachineToken)
		r.Post("/api/machines/sessions", s.h(s.handleSession))
		r.Post("/api/machines/software", s.h(s.handleSoftwareUpload))
		r.With(s.rateLimit(s.handshake)).Post("/api/machines/handshake", s.h(s.handleHandshakeStart))
	})

	// Machine session: session cookie, bearer session JWT or machine token.
	r.Group(func(r chi.Router) {
		r.Use(s.requireMachineSession)
		r.Get("/api/machines/me", s.h(s.handleMe))
	})

	// Fleet webhook: tenant secret in x-fleet-secret or ?secret=.
	r.Group(func(r chi.Router) {
		r.Use(s.requireFleetSecret)
		r.Post("/api/integrations/fleet/hosts", s.h(s.handleFleetHosts))
	})

	// Admin: admin bearer token; each route names the least role it needs
	// (viewer reads, release managers act on channels, admin changes).
	r.Route("/api/admin", func(r chi.Router) {
		r.Use(s.requireAdmin, s.auditDenied)
		viewer, admin := s.requireRole(store.RoleViewer), s.requireRole(store.RoleAdmin)
		r.With(viewer).Get("/machines", s.h(s.handleListMachines))
		r.With(viewer).Get("/machines/{machineID}", s.h(s.handleGetMachine))
		r.With(admin).Delete("/machines/{machineID}", s.h(s.handleDeleteMachine))
		r.With(admin).Post("/machines/{machineID}/token/revoke", s.h(s.handleRevokeToken))
		r.With(admin).Post("/machines/{machineID}/token/rotate", s.h(s.handleRotateToken))
		r.With(viewer).Get("/machines/{machineID}/software", s.h(s.handleMachineSoftware))
		r.With(viewer).Get("/machines/{machineID}/software/history", s.h(s.handleSoftwareHistory))
		r.With(viewer).Get("/software", s.h(s.handleFindSoftware))
		r.With(viewer).Get("/tenants", s.h(s.handleListTenants))
		r.With(admin).Post("/tenants", s.h(s.handleCreateTenant))
		r.With(viewer).Get("/tenants/{tenantID}", s.h(s.handleGetTenant))
		r.With(admin).Get("/tenants/{tenantID}/secrets", s.h(s.handleListSecrets))
		r.With(admin).Post("/tenants/{tenantID}/secrets", s.h(s.handleCreateSecret))
		r.With(admin).Post("/tenants/{tenantID}/secrets/{secretID}/rotate", s.h(s.handleRotateSecret))
		r.With(admin).Delete("/tenants/{tenantID}/secrets/{secretID}", s.h(s.handleRevokeSecret))
		r.With(viewer).Get("/audit", s.h(s.handleListAudit))
		r.With(admin).Get("/tokens", s.h(s.handleListAdminTokens))
		r.With(admin).Post("/tokens", s.h(s.handleCreateAdminToken))
		r.With(admin).Post("/tokens/{tokenID}/revoke", s.h(s.handleRevokeAdminToken))
		r.With(admin).Post("/tokens/{tokenID}/rotate", s.h(s.handleRotateAdminToken))
		r.With(s.requireRole(store.RoleReleaseManager)).Post("/channels/{product}/{channel}/{action}", s.h(s.handleChannelAction))
		r.With(admin).Get("/session-keys", s.h(s.handleListSessionKeys))
		r.With(admin).Post("/session-keys/rotate", s.h(s.handleRotateSessionKey))
	})

	// Other packages' routes, with the calling machine identified if possible.
	r.Group(func(r chi.Router) {
		r.Use(s.identifyMachine)
		for _, mount := range mounts {
			mount(r)
		}
	})
	return r
}

func (s *Server) recoverer(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				s.renderError(w, r, fmt.Errorf("panic: %v", v))
			}
		}()
		next.ServeHTTP(w, r)
	})
}

// batchWait is the heartbeat batch's MaxWait: the configured one, else the
// store's preference.
func batchWait(configured time.Duration, st store.Store) time.Duration {
	if configured != 0 {
		return max(0, configured)
	}
	if w, ok := st.(store.HeartbeatBatchWaiter); ok {
		return w.HeartbeatBatchWait()
	}
	return 0
}
