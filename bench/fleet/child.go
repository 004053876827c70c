package fleet

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/slipwayhq/slipway/server"
	"github.com/slipwayhq/slipway/server/store"
	"github.com/slipwayhq/slipway/server/store/postgres"
	"github.com/slipwayhq/slipway/server/store/sqlite"
	"github.com/slipwayhq/slipway/storage/fs"
	"github.com/slipwayhq/slipway/updater/endpoint"
	"github.com/slipwayhq/slipway/updater/repo"
)

// childEnv carries a childConfig (JSON) to a server subprocess: the
// rehearsal re-executes its own binary (the test binary, or cmd/fleet),
// which calls ServeChild first.
const childEnv = "SLIPWAY_FLEET_CHILD"

// childConfig is what one server subprocess runs.
type childConfig struct {
	DataDir     string        `json:"dataDir"`
	DatabaseURL string        `json:"databaseURL,omitempty"` // PostgreSQL; SQLite in DataDir otherwise
	Releases    string        `json:"releases"`              // the local release store's root
	KeysDir     string        `json:"keysDir"`
	PublicURL   string        `json:"publicURL"`
	Heartbeat   time.Duration `json:"heartbeat"`
	Holder      string        `json:"holder"` // signing lease holder name
	Now         time.Time     `json:"now"`
}

// ServeChild runs a server subprocess when the process was started as one
// (it never returns then) and returns otherwise. Call it first in main or
// TestMain.
func ServeChild() {
	raw := os.Getenv(childEnv)
	if raw == "" {
		return
	}
	var cfg childConfig
	err := json.Unmarshal([]byte(raw), &cfg)
	if err == nil {
		err = serveChild(cfg)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "fleet server:", err)
		os.Exit(1)
	}
	os.Exit(0)
}

// serveChild is the real server (server.New with the update endpoints, as
// `slipway server` wires them) on the scenario's clock. A control route,
// /_fleet/, outside the product's routes, lets the rehearsal move the
// clock, run the periodic tick and switch the release store's fault.
func serveChild(cfg childConfig) error {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	clock := &Clock{}
	clock.Set(cfg.Now)
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return err
	}
	raw, err := fs.New(cfg.Releases, fs.Options{})
	if err != nil {
		return err
	}
	releases := &faultStore{Store: raw}
	db, err := openDB(ctx, cfg)
	if err != nil {
		return err
	}
	defer db.Close()
	if _, err := server.EnsureBootstrap(ctx, db, cfg.DataDir, server.Bootstrap{}, clock.Now()); err != nil {
		return err
	}
	opts := endpoint.Options{BaseURL: cfg.PublicURL, Now: clock.Now, OnlineKeyFile: filepath.Join(cfg.KeysDir, repo.OnlineKeyFile)}
	if ls, ok := db.(store.LeaseStore); ok {
		opts.Lease = func(ctx context.Context) (bool, error) {
			return ls.AcquireLease(ctx, "tuf-online-signing", cfg.Holder, clock.Now(), 2*time.Minute)
		}
	}
	h, err := endpoint.New(ctx, releases, opts)
	if err != nil {
		return err
	}
	hb := cfg.Heartbeat
	scfg := server.Config{DataDir: cfg.DataDir, PublicURL: cfg.PublicURL, RateLimit: 1e6, RateBurst: 1e6,
		HeartbeatInterval: hb, StaleAfter: 3 * hb, OfflineAfter: 3650 * 24 * time.Hour,
		HeartbeatRetention: 3650 * 24 * time.Hour, AuditRetention: 3650 * 24 * time.Hour}
	control := func(r chi.Router) {
		r.Post("/_fleet/clock", func(w http.ResponseWriter, r *http.Request) {
			ns, err := strconv.ParseInt(r.URL.Query().Get("ns"), 10, 64)
			if err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
			clock.Set(time.Unix(0, ns))
		})
		r.Post("/_fleet/store", func(w http.ResponseWriter, r *http.Request) {
			releases.down.Store(r.URL.Query().Get("down") == "1")
		})
		r.Post("/_fleet/tick", func(w http.ResponseWriter, r *http.Request) {
			if err := h.Tick(r.Context()); err != nil && !releases.down.Load() {
				http.Error(w, err.Error(), http.StatusInternalServerError)
			}
		})
	}
	srv, err := server.New(scfg, server.Options{Store: db, Now: clock.Now, Mount: []func(chi.Router){h.Routes, control}})
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	hs := &http.Server{Handler: srv, ReadHeaderTimeout: 10 * time.Second}
	go func() { <-ctx.Done(); _ = hs.Close() }()
	fmt.Printf("listening http://%s\n", ln.Addr())
	if err := hs.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return srv.Close() // flushes acknowledged heartbeats (SIGTERM)
}

func openDB(ctx context.Context, cfg childConfig) (store.Store, error) {
	if cfg.DatabaseURL != "" {
		return postgres.Open(ctx, cfg.DatabaseURL, postgres.Options{})
	}
	return sqlite.Open(ctx, filepath.Join(cfg.DataDir, "slipway.db"), sqlite.Options{Synchronous: "NORMAL"})
}

// readListening waits for the child's "listening <url>" line.
func readListening(sc *bufio.Scanner) (string, error) {
	for sc.Scan() {
		if u, ok := strings.CutPrefix(sc.Text(), "listening "); ok {
			return u, nil
		}
	}
	if err := sc.Err(); err != nil {
		return "", err
	}
	return "", errors.New("server subprocess exited before listening")
}
