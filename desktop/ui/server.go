// Package ui is the desktop client's local web UI: served on 127.0.0.1 at a
// random port behind a per-launch secret path, opened in the system browser.
// Screens: enrollment, machine status and "Open support portal".
package ui

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/slipwayhq/slipway/agent/enroll"
	"github.com/slipwayhq/slipway/agent/identity"
	"github.com/slipwayhq/slipway/machineapi"
)

//go:embed assets
var assets embed.FS

// Options configures the UI; the zero value is safe.
type Options struct {
	// Dirs are the token stores to read, in order (the agent's first).
	// Default: identity.Candidates().
	Dirs []string
	// EnrollDir is where the desktop stores a token it obtained itself.
	// Default: identity.UserDir() (or $SLIPWAY_CONFIG_DIR).
	EnrollDir string
	// Server pre-fills the enrollment form.
	Server string
	// Version is the desktop client's version.
	Version string
	// Collector provides the inventory preview and registration data.
	// Default: a fresh inventory collector.
	Collector enroll.Collector
	// ClientOptions configure the machine API client.
	ClientOptions machineapi.Options
	// OpenBrowser opens the portal handshake URL in the system browser. When
	// nil the UI window itself navigates there.
	OpenBrowser func(ctx context.Context, url string) error
	// Updates reports the desktop client's own update status (may be nil).
	Updates func() *identity.UpdateStatus
	// Logger. Default: discard.
	Logger *slog.Logger
}

// Server is the local UI.
type Server struct {
	opts   Options
	secret string
	csrf   string
	host   string // "127.0.0.1:port", the only Host accepted
	origin string // "http://127.0.0.1:port"
	ln     net.Listener
	pages  map[string]*template.Template
	quit   chan struct{}
	once   sync.Once
}

// New prepares the UI (call Listen, then Serve).
func New(opts Options) (*Server, error) {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if len(opts.Dirs) == 0 {
		opts.Dirs = identity.Candidates()
	}
	if opts.EnrollDir == "" {
		opts.EnrollDir = opts.Dirs[len(opts.Dirs)-1]
	}
	if opts.Collector == nil {
		return nil, errors.New("ui: Options.Collector is required")
	}
	pages, err := parsePages()
	if err != nil {
		return nil, err
	}
	return &Server{opts: opts, secret: newSecret(), csrf: newSecret(), pages: pages, quit: make(chan struct{})}, nil
}

func parsePages() (map[string]*template.Template, error) {
	pages := map[string]*template.Template{}
	for _, name := range []string{"enroll", "status", "portal"} {
		t, err := template.New(name).Funcs(funcs).ParseFS(assets, "assets/layout.html", "assets/"+name+".html")
		if err != nil {
			return nil, fmt.Errorf("ui: parse %s: %w", name, err)
		}
		pages[name] = t
	}
	return pages, nil
}

var funcs = template.FuncMap{
	"bytes": func(n uint64) string {
		const gib = 1 << 30
		if n >= gib {
			return fmt.Sprintf("%.1f GiB", float64(n)/gib)
		}
		return fmt.Sprintf("%d MiB", n>>20)
	},
	"ptr": func(t time.Time) *time.Time { return &t },
	"when": func(t *time.Time) string {
		if t == nil || t.IsZero() {
			return "never"
		}
		return t.Local().Format("2006-01-02 15:04:05 MST")
	},
}

// Listen binds a random port on 127.0.0.1.
func (s *Server) Listen() error {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return fmt.Errorf("ui: listen: %w", err)
	}
	s.ln = ln
	s.host = ln.Addr().String()
	s.origin = "http://" + s.host
	return nil
}

// URL is the address to open, secret included. Treat it as a credential.
func (s *Server) URL() string { return s.origin + "/" + s.secret + "/" }

// Serve serves until ctx is done or the user presses Quit.
func (s *Server) Serve(ctx context.Context) error {
	if s.ln == nil {
		return errors.New("ui: Serve before Listen")
	}
	srv := &http.Server{
		Handler:           s.guard(s.routes()),
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    16 << 10,
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(s.ln) }()
	select {
	case <-ctx.Done():
	case <-s.quit:
	case err := <-errc:
		return err
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	return srv.Shutdown(sctx)
}

func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	static, _ := fs.Sub(assets, "assets/static")
	mux.Handle("GET /static/", http.StripPrefix("/static/", http.FileServerFS(static)))
	mux.HandleFunc("GET /{$}", s.handleHome)
	mux.HandleFunc("GET /enroll", s.handleEnrollPage)
	mux.HandleFunc("POST /enroll", s.handleEnroll)
	mux.HandleFunc("POST /portal", s.handlePortal)
	mux.HandleFunc("POST /quit", s.handleQuit)
	return http.MaxBytesHandler(mux, maxFormBytes)
}
