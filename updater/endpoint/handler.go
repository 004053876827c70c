// Package endpoint serves updates over HTTP: the native update check
// (/v1/updates), Tauri's dynamic and static endpoints (/tauri), the TUF
// repository read-only (/tuf) and proxied artifact downloads with Range
// support (/v1/download). Metadata is kept in memory, refreshed when
// storage changes, and the last good copy is served if storage is down.
package endpoint

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/slipwayhq/slipway/storage"
	"github.com/slipwayhq/slipway/updater/repo"
)

// Download modes for artifact URLs.
const (
	// DownloadProxy: the server streams the file (/v1/download/...) with Range support.
	DownloadProxy = "proxy"
	// DownloadPublic: PublicBaseURL + "/" + storage key (a CDN or public bucket).
	DownloadPublic = "public"
	// DownloadPresigned: a presigned storage URL valid for PresignTTL.
	DownloadPresigned = "presigned"
)

// Options configure a Handler; the zero value is usable.
type Options struct {
	// Prefix of every storage key. Default: "".
	Prefix string
	// BaseURL is the server's external URL for absolute links
	// ("https://updates.example.com"). Default: derived from each request.
	BaseURL string
	// Downloads is DownloadProxy, DownloadPublic or DownloadPresigned. Default: proxy.
	Downloads string
	// PublicBaseURL is required with DownloadPublic.
	PublicBaseURL string
	// PresignTTL is how long presigned URLs last. Default: 15 minutes.
	PresignTTL time.Duration
	// PollInterval is how often Run checks storage for changes. Default: 5 s.
	PollInterval time.Duration
	// OnlineKey, when set, lets Run re-sign the TUF timestamp/snapshot
	// before they expire (Refresh).
	OnlineKey *repo.Signer
	// OnlineKeyFile is the online key's file, re-read whenever it changes
	// (a rotation takes effect without a restart); it overrides OnlineKey
	// while it exists. Default: none.
	OnlineKeyFile string
	// Lease, when set, is asked before re-signing and must report whether
	// this server holds the signing lease, so replicas sharing the key
	// sign one at a time. Default: none (sign alone).
	Lease func(ctx context.Context) (bool, error)
	// Registerer receives slipway_tuf_expiry_days{role}. Default: none.
	Registerer prometheus.Registerer
	// SnapshotGrace is how long superseded N.snapshot.json and
	// N.targets.json stay served from memory, so a client that read the
	// previous timestamp finishes its refresh. Default: 1 hour.
	SnapshotGrace time.Duration
	// Repo are the TUF lifetimes Refresh uses; keep them equal to those
	// `slipway apply` uses. Default: repo defaults.
	Repo repo.Options
	// Identify returns the authenticated machine and tenant of a request
	// (for example server.MachineFromContext); when ok, they replace the
	// machine/tenant query parameters and the Tauri machine header.
	// Default: none (the query parameters are used).
	Identify func(r *http.Request) (machine, tenant string, ok bool)
	// Rollouts caps the rollout of channels with a plan to the step the
	// gate controller allows (0 when halted). Default: none (a planned
	// channel stays at its first step).
	Rollouts Limiter
	// Logger. Default: discard.
	Logger *slog.Logger
	// Now returns the time. Default: time.Now.
	Now func() time.Time
}

// Validate checks the options and fills defaults.
func (o *Options) Validate() error {
	if o.Downloads == "" {
		o.Downloads = DownloadProxy
	}
	switch o.Downloads {
	case DownloadProxy, DownloadPresigned:
	case DownloadPublic:
		if o.PublicBaseURL == "" {
			return errors.New("endpoint: public downloads need PublicBaseURL")
		}
	default:
		return fmt.Errorf("endpoint: unknown download mode %q", o.Downloads)
	}
	o.BaseURL = strings.TrimSuffix(o.BaseURL, "/")
	o.PublicBaseURL = strings.TrimSuffix(o.PublicBaseURL, "/")
	if o.PresignTTL <= 0 {
		o.PresignTTL = 15 * time.Minute
	}
	if o.PollInterval <= 0 {
		o.PollInterval = 5 * time.Second
	}
	if o.SnapshotGrace <= 0 {
		o.SnapshotGrace = time.Hour
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return nil
}

// Handler serves the update endpoints from an in-memory snapshot.
type Handler struct {
	st   storage.Store
	opts Options
	snap atomic.Pointer[snapshot]

	presignMu sync.Mutex
	presigned map[string]presignedURL

	key         *onlineKey
	warnMu      sync.Mutex
	signProblem string // why the online key does not sign, "" when it does
	lastWarn    string
	lastWarnAt  time.Time
}

type presignedURL struct {
	url     string
	expires time.Time
}

// New loads the current metadata from storage and returns a handler.
// Call Run to keep it fresh. When storage is unreachable New still
// returns a handler, logs the error and serves 503 with Retry-After on
// every update route until Run has loaded the metadata; only invalid
// options are an error.
func New(ctx context.Context, st storage.Store, opts Options) (*Handler, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	h := &Handler{st: st, opts: opts, presigned: map[string]presignedURL{},
		key: &onlineKey{path: opts.OnlineKeyFile, fixed: opts.OnlineKey}}
	if opts.Registerer != nil {
		if err := opts.Registerer.Register(newExpiryCollector(h)); err != nil {
			return nil, fmt.Errorf("endpoint: metrics: %w", err)
		}
	}
	if err := h.Reload(ctx); err != nil {
		opts.Logger.ErrorContext(ctx, "release store unreachable; update routes answer 503 until it is back", "err", err)
	}
	return h, nil
}

// Ready reports whether the metadata has been loaded at least once.
func (h *Handler) Ready() bool { return h.snap.Load() != nil }

// Routes mounts the public (unauthenticated) update routes.
func (h *Handler) Routes(r chi.Router) {
	r.Get("/v1/updates/{product}/{channel}", h.whenLoaded(h.native))
	r.Get("/v1/download/{product}/{version}/{file}", h.whenLoaded(h.download))
	r.Get("/tuf/{file}", h.whenLoaded(h.tufMetadata))
	r.Get("/tuf/targets/*", h.whenLoaded(h.tufTarget))
	r.Get("/tauri/{product}/{channel}/latest.json", h.whenLoaded(h.tauriStatic))
	r.Get("/tauri/{product}/{channel}/{target}/{arch}/{current}", h.whenLoaded(h.tauriDynamic))
	r.Get("/tauri/{product}/{channel}/{target}/{arch}/{current}/{bundle}", h.whenLoaded(h.tauriDynamic))
}

// retryAfter is what update routes advise while the store is unreachable.
const retryAfter = "30"

// whenLoaded answers 503 with Retry-After until the metadata was loaded.
func (h *Handler) whenLoaded(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if h.snap.Load() == nil {
			w.Header().Set("Retry-After", retryAfter)
			httpError(w, http.StatusServiceUnavailable, "release store unavailable; retry later")
			return
		}
		next(w, r)
	}
}

// Reload rebuilds the snapshot from storage if storage changed. On error
// the previous snapshot stays in service.
func (h *Handler) Reload(ctx context.Context) error {
	if cur := h.snap.Load(); cur != nil {
		fp, err := fingerprint(ctx, h.st, h.opts.Prefix)
		if err != nil {
			return fmt.Errorf("check storage: %w", err)
		}
		if fp == cur.version {
			return nil
		}
	}
	s, err := load(ctx, h.st, h.opts.Prefix, h.opts.Logger)
	if err != nil {
		return fmt.Errorf("load update metadata: %w", err)
	}
	if prev := h.snap.Load(); prev != nil {
		s.keepPrevious(prev, h.opts.Now(), h.opts.SnapshotGrace)
	}
	h.snap.Store(s)
	h.opts.Logger.InfoContext(ctx, "update metadata loaded", "products", len(s.state.Products), "targets", len(s.targets))
	return nil
}

// Run polls storage every PollInterval (with jitter), reloads on change
// and, with an online key, re-signs TUF timestamps before they expire.
// It returns when ctx ends.
func (h *Handler) Run(ctx context.Context) error {
	t := time.NewTimer(h.opts.PollInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		if err := h.Tick(ctx); err != nil {
			h.opts.Logger.WarnContext(ctx, "update metadata refresh failed; serving last good copy", "err", err)
		}
		t.Reset(h.opts.PollInterval + jitter(h.opts.PollInterval/10))
	}
}

// Tick is one iteration of Run: refresh the TUF timestamp if needed, then
// reload from storage if it changed, then log what needs attention.
func (h *Handler) Tick(ctx context.Context) error {
	err := h.refreshTUF(ctx)
	err = errors.Join(err, h.Reload(ctx))
	h.logWarnings(ctx)
	return err
}

func jitter(max time.Duration) time.Duration {
	if max <= 0 {
		return 0
	}
	return time.Duration(time.Now().UnixNano() % int64(max))
}

// baseURL is the external URL of this server for absolute links.
func (h *Handler) baseURL(r *http.Request) string {
	if h.opts.BaseURL != "" {
		return h.opts.BaseURL
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}

// artifactURL is where a client downloads an artifact (or one of its
// signature files, by name).
func (h *Handler) artifactURL(ctx context.Context, r *http.Request, product, version, name, key string) (string, error) {
	switch h.opts.Downloads {
	case DownloadPublic:
		return h.opts.PublicBaseURL + "/" + key, nil
	case DownloadPresigned:
		return h.presign(ctx, key)
	}
	return h.baseURL(r) + "/v1/download/" + product + "/" + version + "/" + name, nil
}

// presign caches presigned URLs for half their lifetime.
func (h *Handler) presign(ctx context.Context, key string) (string, error) {
	now := h.opts.Now()
	h.presignMu.Lock()
	p, ok := h.presigned[key]
	h.presignMu.Unlock()
	if ok && now.Before(p.expires) {
		return p.url, nil
	}
	u, err := h.st.URL(ctx, key, h.opts.PresignTTL)
	if err != nil {
		return "", err
	}
	h.presignMu.Lock()
	if len(h.presigned) > 10000 {
		clear(h.presigned)
	}
	h.presigned[key] = presignedURL{url: u, expires: now.Add(h.opts.PresignTTL / 2)}
	h.presignMu.Unlock()
	return u, nil
}
