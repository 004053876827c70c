package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/slipwayhq/slipway/server"
	"github.com/slipwayhq/slipway/server/store"
	"github.com/slipwayhq/slipway/storage"
	"github.com/slipwayhq/slipway/updater/endpoint"
	"github.com/slipwayhq/slipway/updater/repo"
)

// updates are the update endpoints (native, Tauri, /tuf, downloads) that
// `slipway server` and `slipway up` mount into the machine API server.
type updates struct {
	h *endpoint.Handler
}

// updateOptions locate the release store and the TUF online key.
type updateOptions struct {
	store   string // storage spec; default <data>/artifacts
	prefix  string
	keysDir string // TUF keys; the online key re-signs timestamps when present
	baseURL string
	// rollouts caps planned channels to the step the gates allow.
	rollouts endpoint.Limiter
	// leases, when set, makes replicas sharing the database re-sign one
	// at a time.
	leases store.LeaseStore
	// registry receives slipway_tuf_expiry_days.
	registry prometheus.Registerer
	// now is the clock (default time.Now); wrapStore, when set, wraps the
	// release store (the rehearsal build's fault switch).
	now       func() time.Time
	wrapStore func(storage.Store) storage.Store
}

// signingLease is the lease replicas take before re-signing TUF metadata.
const (
	signingLease    = "tuf-online-signing"
	signingLeaseTTL = 2 * time.Minute
)

// newUpdates loads the update metadata from the store. A store without
// any release yet is fine: the endpoints answer 204/404 until `apply`; an
// unreachable store too: the update routes answer 503 until it is back.
func newUpdates(ctx context.Context, data string, o updateOptions, log *slog.Logger) (*updates, error) {
	spec := o.store
	if spec == "" {
		spec = filepath.Join(data, "artifacts")
	}
	st, err := storage.Open(ctx, spec)
	if err != nil {
		return nil, fmt.Errorf("update store: %w", err)
	}
	if o.wrapStore != nil {
		st = o.wrapStore(st)
	}
	now := o.now
	if now == nil {
		now = time.Now
	}
	keysDir := o.keysDir
	if keysDir == "" {
		keysDir = filepath.Join(data, "keys")
	}
	opts := endpoint.Options{
		Prefix:     o.prefix,
		BaseURL:    o.baseURL,
		Logger:     log,
		Rollouts:   o.rollouts,
		Registerer: o.registry,
		Now:        now,
		Identify: func(r *http.Request) (string, string, bool) {
			c, ok := server.MachineFromContext(r.Context())
			return c.MachineID, c.TenantID, ok
		},
	}
	// The key file is re-read when it changes: `slipway tuf rotate online`
	// takes effect without a restart.
	opts.OnlineKeyFile = filepath.Join(keysDir, repo.OnlineKeyFile)
	if _, err := os.Stat(opts.OnlineKeyFile); err != nil {
		log.WarnContext(ctx, "no TUF online key: this server will not re-sign timestamp and snapshot, and clients stop updating when they expire",
			"key", opts.OnlineKeyFile, "err", err)
	}
	if o.leases != nil {
		holder := leaseHolder()
		opts.Lease = func(ctx context.Context) (bool, error) {
			return o.leases.AcquireLease(ctx, signingLease, holder, now(), signingLeaseTTL)
		}
	}
	h, err := endpoint.New(ctx, st, opts)
	if err != nil {
		return nil, err
	}
	return &updates{h: h}, nil
}

// leaseHolder names this process among replicas: host, pid and a random
// suffix (two containers may share a host name and pid).
func leaseHolder() string {
	host, _ := os.Hostname()
	var b [6]byte
	_, _ = rand.Read(b[:])
	return fmt.Sprintf("%s/%d/%s", host, os.Getpid(), hex.EncodeToString(b[:]))
}

// warnings are the update problems the admin page shows (nil-safe).
func (u *updates) warnings() []string {
	if u == nil {
		return nil
	}
	return u.h.Warnings()
}

// mount returns the route group for server.Options.Mount.
func (u *updates) mount() func(chi.Router) { return u.h.Routes }

// run keeps the metadata fresh until ctx ends.
func (u *updates) run(ctx context.Context) { _ = u.h.Run(ctx) }
