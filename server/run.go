package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"
)

// Info describes a running server, for the command that started it.
type Info struct {
	URL       string          // base URL clients use (Config.PublicURL)
	Addr      string          // the address actually listened on
	DataDir   string          // data directory
	Bootstrap BootstrapResult // secret files written on this start
}

// RunOptions extends Options for Run.
type RunOptions struct {
	Options
	// Bootstrap secrets for the default tenant (from the environment).
	Bootstrap Bootstrap
	// Ready is called once the server listens.
	Ready func(Info)
	// ShutdownTimeout bounds graceful shutdown. Default: 15s.
	ShutdownTimeout time.Duration
}

// Run opens the store under cfg.DataDir (unless opts.Store is set),
// bootstraps the default tenant, listens on cfg.Addr and serves until ctx is
// done, then shuts down gracefully. `slipway server` and `slipway up` use it.
func Run(ctx context.Context, cfg Config, opts RunOptions) error {
	if cfg.Addr == "" {
		cfg.Addr = Config{}.Default().Addr
	}
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return fmt.Errorf("server: listen: %w", err)
	}
	defer ln.Close()
	if cfg.PublicURL == "" { // the real port, when Addr asked for port 0
		cfg.PublicURL = "http://" + ln.Addr().String()
	}
	cfg = cfg.Default()
	if err := cfg.Validate(); err != nil {
		return fmt.Errorf("server: config: %w", err)
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
		opts.Logger = log
	}
	// One server process per SQLite database (server.lock in the data
	// directory), taken before the database is opened.
	_, shared := opts.Store.(locker)
	if (opts.Store == nil && cfg.DatabaseURL == "") || (opts.Store != nil && !shared) {
		unlock, err := lockDataDir(cfg.DataDir)
		if err != nil {
			return err
		}
		defer unlock()
	}
	if opts.Store == nil {
		st, err := OpenStoreLogged(ctx, cfg, log)
		if err != nil {
			return err
		}
		defer st.Close()
		opts.Store = st
	}
	now := time.Now
	if opts.Now != nil {
		now = opts.Now
	}
	var boot BootstrapResult
	err = withLock(ctx, opts.Store, "bootstrap", func(ctx context.Context) (err error) {
		boot, err = EnsureBootstrap(ctx, opts.Store, cfg.DataDir, opts.Bootstrap, now().UTC())
		return err
	})
	if err != nil {
		return fmt.Errorf("server: %w", err)
	}
	srv, err := New(cfg, opts.Options)
	if err != nil {
		return err
	}
	defer srv.Close()
	log.Info("server listening", "addr", ln.Addr().String(), "url", cfg.PublicURL, "data", cfg.DataDir)
	if opts.Ready != nil {
		opts.Ready(Info{URL: cfg.PublicURL, Addr: ln.Addr().String(), DataDir: cfg.DataDir, Bootstrap: boot})
	}
	if err := serve(ctx, ln, srv, log, opts.ShutdownTimeout); err != nil {
		return err
	}
	return srv.Close()
}

// serve runs an http.Server with explicit timeouts on ln until ctx ends,
// then shuts it down gracefully within timeout (default 15s).
func serve(ctx context.Context, ln net.Listener, h http.Handler, log *slog.Logger, timeout time.Duration) error {
	hs := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
		BaseContext:       func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
	}
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("server: %w", err)
	case <-ctx.Done():
	}
	if timeout <= 0 {
		timeout = 15 * time.Second
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), timeout)
	defer cancel()
	log.Info("server shutting down")
	if err := hs.Shutdown(sctx); err != nil {
		return fmt.Errorf("server: shutdown: %w", err)
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("server: %w", err)
	}
	return nil
}
