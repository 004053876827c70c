package main

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"path/filepath"

	"github.com/go-chi/chi/v5"

	"github.com/slipwayhq/slipway/server"
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
}

// newUpdates loads the update metadata from the store. A store without
// any release yet is fine: the endpoints answer 204/404 until `apply`.
func newUpdates(ctx context.Context, data string, o updateOptions, log *slog.Logger) (*updates, error) {
	spec := o.store
	if spec == "" {
		spec = filepath.Join(data, "artifacts")
	}
	st, err := storage.Open(ctx, spec)
	if err != nil {
		return nil, fmt.Errorf("update store: %w", err)
	}
	keysDir := o.keysDir
	if keysDir == "" {
		keysDir = filepath.Join(data, "keys")
	}
	opts := endpoint.Options{
		Prefix:   o.prefix,
		BaseURL:  o.baseURL,
		Logger:   log,
		Rollouts: o.rollouts,
		Identify: func(r *http.Request) (string, string, bool) {
			c, ok := server.MachineFromContext(r.Context())
			return c.MachineID, c.TenantID, ok
		},
	}
	if k, err := repo.LoadKey(filepath.Join(keysDir, repo.OnlineKeyFile)); err == nil {
		opts.OnlineKey = k
	}
	h, err := endpoint.New(ctx, st, opts)
	if err != nil {
		return nil, err
	}
	return &updates{h: h}, nil
}

// mount returns the route group for server.Options.Mount.
func (u *updates) mount() func(chi.Router) { return u.h.Routes }

// run keeps the metadata fresh until ctx ends.
func (u *updates) run(ctx context.Context) { _ = u.h.Run(ctx) }
