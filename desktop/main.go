// Command slipway-desktop is the desktop client: the user's window into the
// ticket portal. It serves a small UI on 127.0.0.1 behind a per-launch secret
// and opens it in the browser (an app window when Chromium/Chrome/Edge is
// installed).
//
//	slipway-desktop [--server URL] [--no-browser] [--config-dir DIR]
//	slipway-desktop version
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/slipwayhq/slipway/agent/enroll"
	"github.com/slipwayhq/slipway/agent/identity"
	"github.com/slipwayhq/slipway/agent/inventory"
	"github.com/slipwayhq/slipway/agent/selfupdate"
	"github.com/slipwayhq/slipway/desktop/browser"
	"github.com/slipwayhq/slipway/desktop/ui"
	"github.com/slipwayhq/slipway/machineapi"
	"github.com/slipwayhq/slipway/updater/client"
)

// Set by the linker (-X main.version=... -X main.commit=...).
var (
	version = "dev"
	commit  = "none"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 && (args[0] == "version" || args[0] == "--version") {
		fmt.Fprintf(stdout, "slipway-desktop %s (%s)\n", version, commit)
		return 0
	}
	fs := flag.NewFlagSet("slipway-desktop", flag.ContinueOnError)
	fs.SetOutput(stderr)
	server := fs.String("server", os.Getenv("SLIPWAY_SERVER"), "Slipway server URL to pre-fill when enrolling (env SLIPWAY_SERVER)")
	noBrowser := fs.Bool("no-browser", false, "print the UI address instead of opening a browser")
	dir := fs.String("config-dir", "", "token store directory (default: the agent's, then ~/.config/slipway; env SLIPWAY_CONFIG_DIR)")
	logLevel := fs.String("log-level", "info", "debug, info, warn or error")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	var lvl slog.Level
	_ = lvl.UnmarshalText([]byte(*logLevel))
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: lvl}))
	if err := serve(ctx, *server, *dir, *noBrowser, stdout, log); err != nil {
		fmt.Fprintln(stderr, "slipway-desktop:", err)
		return 1
	}
	return 0
}

func serve(ctx context.Context, server, dir string, noBrowser bool, stdout io.Writer, log *slog.Logger) error {
	opts := ui.Options{
		Server:        server,
		Version:       version,
		Collector:     inventory.New(inventory.Options{Logger: log}),
		ClientOptions: machineapi.Options{UserAgent: "slipway-desktop/" + version},
		OpenBrowser:   browser.Open,
		Logger:        log,
	}
	if dir != "" {
		opts.Dirs, opts.EnrollDir = []string{dir}, dir
	} else if d, err := identity.UserDir(); err == nil && os.Getenv(identity.EnvConfigDir) == "" {
		opts.EnrollDir = d
	}
	// A trial run (client.TrialEnv) leaves the installation's update
	// state alone: the running version decides.
	trial := client.TrialVersion()
	updates := &desktopUpdates{log: log}
	if trial == "" {
		var err error
		if updates, err = startUpdates(ctx, log); err != nil {
			return err
		}
	}
	opts.Updates = updates.status
	s, err := ui.New(opts)
	if err != nil {
		return err
	}
	if err := s.Listen(); err != nil {
		return err
	}
	if trial != "" {
		return trialRun(ctx, s, trial, stdout)
	}
	updates.run(ctx)
	if noBrowser {
		fmt.Fprintln(stdout, s.URL()) // the secret URL goes to this user's terminal only
	} else if err := browser.OpenApp(ctx, s.URL()); err != nil {
		log.Warn("could not open a browser; open the address printed below", "err", err)
		fmt.Fprintln(stdout, s.URL())
	}
	log.Info("desktop UI ready", "addr", "127.0.0.1", "version", version)
	return s.Serve(ctx)
}

// trialRun is the desktop client's trial run: started by the running
// version with client.TrialEnv before a self-update, the new version must
// get through its normal start-up (flags, token store, UI) and answer one
// request for its UI on loopback — what "healthy" means for the desktop
// client — then report healthy and exit, without opening a browser.
func trialRun(ctx context.Context, s *ui.Server, trial string, stdout io.Writer) error {
	if trial != version {
		return fmt.Errorf("trial run of %s started, but this binary is %s", trial, version)
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	served := make(chan error, 1)
	go func() { served <- s.Serve(ctx) }()
	hc := &http.Client{
		Transport:     &http.Transport{Proxy: nil},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.URL(), nil)
	if err != nil {
		return err
	}
	resp, err := hc.Do(req)
	if err != nil {
		return fmt.Errorf("trial run: the UI does not answer: %w", err)
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
	resp.Body.Close()
	cancel()
	<-served
	if resp.StatusCode >= http.StatusBadRequest {
		return fmt.Errorf("trial run: the UI answers %s", resp.Status)
	}
	return client.TrialHealthy(stdout, trial)
}

// desktopUpdates is the desktop client's own self-update: the same trust
// material and agent.json "update" section as the agent (system config
// dir), product "desktop", state and outcome in <user dir>/desktop.
type desktopUpdates struct {
	store identity.Store
	mgr   *selfupdate.Manager
	log   *slog.Logger
}

func startUpdates(ctx context.Context, log *slog.Logger) (*desktopUpdates, error) {
	userDir, err := identity.UserDir()
	if err != nil {
		return &desktopUpdates{log: log}, nil
	}
	u := &desktopUpdates{store: identity.Store{Dir: filepath.Join(userDir, "desktop")}, log: log}
	state := filepath.Join(u.store.Dir, "update-state")
	if err := selfupdate.StartupState(state, u.store, time.Now()); err != nil {
		if errors.Is(err, client.ErrUnhealthy) {
			return nil, fmt.Errorf("the last update did not start correctly and was rolled back; start Slipway again: %w", err)
		}
		log.Warn("reading the update state", "err", err)
	}
	cfg, err := enroll.LoadConfig(identity.SystemDir(), enroll.Config{})
	if err != nil {
		log.Warn("reading agent.json", "err", err)
	}
	if cfg.Server == "" {
		for _, d := range identity.Candidates() {
			if st, err := (identity.Store{Dir: d}).Load(); err == nil {
				cfg.Server = st.Server
				break
			}
		}
	}
	u.mgr, err = selfupdate.NewFor(selfupdate.Options{Product: "desktop", TrustDir: identity.SystemDir(),
		StateDir: state, Store: u.store, Config: cfg, Version: version, Logger: log, TrialArgs: []string{"--no-browser"}})
	if err != nil {
		log.Info("self-update off", "reason", err)
	}
	return u, nil
}

func (u *desktopUpdates) status() *identity.UpdateStatus {
	if u.store.Dir == "" {
		return nil
	}
	return selfupdate.Status(u.store)
}

// run confirms this version healthy (the UI is up) and checks for updates
// in the background; an installed update applies at the next start.
func (u *desktopUpdates) run(ctx context.Context) {
	if u.mgr == nil {
		return
	}
	u.mgr.Healthy(ctx)
	go func() {
		if err := u.mgr.Run(ctx); errors.Is(err, selfupdate.ErrRestart) {
			u.log.Info("update installed; it applies when Slipway starts next")
		} else if err != nil {
			u.log.Warn("self-update stopped", "err", err)
		}
	}()
}
