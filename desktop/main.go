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
	"os"
	"os/signal"
	"syscall"

	"github.com/slipwayhq/slipway/agent/identity"
	"github.com/slipwayhq/slipway/agent/inventory"
	"github.com/slipwayhq/slipway/desktop/browser"
	"github.com/slipwayhq/slipway/desktop/ui"
	"github.com/slipwayhq/slipway/machineapi"
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
	s, err := ui.New(opts)
	if err != nil {
		return err
	}
	if err := s.Listen(); err != nil {
		return err
	}
	if noBrowser {
		fmt.Fprintln(stdout, s.URL()) // the secret URL goes to this user's terminal only
	} else if err := browser.OpenApp(ctx, s.URL()); err != nil {
		log.Warn("could not open a browser; open the address printed below", "err", err)
		fmt.Fprintln(stdout, s.URL())
	}
	log.Info("desktop UI ready", "addr", "127.0.0.1", "version", version)
	return s.Serve(ctx)
}
