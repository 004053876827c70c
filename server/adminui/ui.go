// Package adminui is the admin web page served by `slipway server` under
// /admin: a login that exchanges an admin token for an HttpOnly session
// cookie, the machines table with live status (Server-Sent Events), a
// machine page with inventory and a metrics chart, and releases with
// rollout health and pause / resume / roll back, and the audit log of admin
// actions.
//
// Pages are server-rendered html/template with a little JavaScript, all
// embedded; there is no build step. Sessions are stateless signed cookies
// (the key is derived from the server's signing key in the database), so
// any replica serves any request. Every state change needs the session's
// CSRF token.
package adminui

import (
	"cmp"
	"context"
	"embed"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/slipwayhq/slipway/server/store"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// Options configure the admin page; the zero value is safe.
type Options struct {
	// Rollouts reads and changes release channels. Default: nil (the
	// releases page says the updater is not configured).
	Rollouts Rollouts
	// GitOps: the channels file is in git, so the page shows the command
	// to run instead of changing channels itself.
	GitOps bool
	// ChannelsFile is the channels file path used in the commands shown. Default: release/channels.yaml.
	ChannelsFile string
	// StaleAfter and OfflineAfter classify machines like the admin API.
	// Defaults: 3 minutes and 24 hours (the server's defaults).
	StaleAfter, OfflineAfter time.Duration
	// SessionTTL is the lifetime of an admin session. Default: 8 hours.
	SessionTTL time.Duration
	// Secure marks cookies Secure (set when served over https).
	Secure bool
	// LiveInterval is how often the live view refreshes. Default: 2s.
	LiveInterval time.Duration
	// StatsTTL is how long fleet counts and rollout health are cached.
	// Default: 5s.
	StatsTTL time.Duration
	// Logger receives audit records (also kept in the store's audit log)
	// and errors. Default: discard.
	Logger *slog.Logger
	// Now is the clock. Default: time.Now.
	Now func() time.Time
	// SigningKeys is where the session signing keys are read (the admin
	// cookie key derives from the oldest); the server passes the store
	// wrapped by server.SigningKeys so sealed seeds are opened. Default: st.
	SigningKeys store.SigningKeyStore
	// OIDC enables single sign-on (nil: admin tokens only).
	OIDC *OIDC
	// NoTokenLogin turns off signing in to the page with an admin token
	// (with OIDC set: single sign-on only). The admin API still takes tokens.
	NoTokenLogin bool
	// Warnings returns problems every page shows at the top (TUF metadata
	// close to expiry, no online key, release store down). Default: none.
	Warnings func() []string
}

// UI is the admin web page.
type UI struct {
	st    store.Store
	stats store.StatsStore // nil when the store cannot summarise
	opts  Options
	tmpl  map[string]*template.Template
	keys  *sessionKeys
	cache statsCache
	sso   *sso // nil: no single sign-on
}

// New returns the admin page for st.
func New(st store.Store, opts Options) (*UI, error) {
	if opts.StaleAfter <= 0 {
		opts.StaleAfter = 3 * time.Minute
	}
	if opts.OfflineAfter <= 0 {
		opts.OfflineAfter = 24 * time.Hour
	}
	if opts.SessionTTL <= 0 {
		opts.SessionTTL = 8 * time.Hour
	}
	if opts.LiveInterval <= 0 {
		opts.LiveInterval = 2 * time.Second
	}
	if opts.StatsTTL <= 0 {
		opts.StatsTTL = 5 * time.Second
	}
	if opts.ChannelsFile == "" {
		opts.ChannelsFile = "release/channels.yaml"
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	ks := opts.SigningKeys
	if ks == nil {
		ks = st
	}
	u := &UI{st: st, opts: opts, keys: &sessionKeys{st: ks}}
	u.stats, _ = st.(store.StatsStore)
	if opts.OIDC != nil {
		cfg := *opts.OIDC
		if err := cfg.validate(); err != nil {
			return nil, fmt.Errorf("adminui: %w", err)
		}
		if cfg.HTTPClient == nil {
			cfg.HTTPClient = &http.Client{Timeout: 10 * time.Second}
		}
		if cfg.Recheck == 0 {
			cfg.Recheck = DefaultRecheck
		}
		u.sso = &sso{cfg: cfg}
	} else if opts.NoTokenLogin {
		return nil, errors.New("adminui: token sign-in is turned off and single sign-on is not configured: nobody could sign in")
	}
	var err error
	if u.tmpl, err = parseTemplates(); err != nil {
		return nil, fmt.Errorf("adminui: %w", err)
	}
	return u, nil
}

func parseTemplates() (map[string]*template.Template, error) {
	funcs := template.FuncMap{
		"ago":  ago,
		"pct":  func(f float64) string { return fmt.Sprintf("%g%%", f) },
		"json": prettyJSON,
	}
	out := map[string]*template.Template{}
	for _, page := range []string{"login", "machines", "machine", "releases", "audit", "software"} {
		t, err := template.New("layout.html").Funcs(funcs).ParseFS(templateFS, "templates/layout.html", "templates/"+page+".html")
		if err != nil {
			return nil, err
		}
		out[page] = t
	}
	return out, nil
}

// Routes mounts the admin page under /admin.
func (u *UI) Routes(r chi.Router) {
	r.Route("/admin", func(r chi.Router) {
		r.Use(securityHeaders)
		r.Get("/static/*", serveStatic)
		r.Get("/login", u.loginPage)
		r.Post("/login", u.login)
		if u.sso != nil {
			r.Get("/oidc/start", u.oidcStart)
			r.Get("/oidc/callback", u.oidcCallback)
		}
		r.Group(func(r chi.Router) {
			r.Use(u.requireSession)
			r.Get("/", u.machinesPage)
			r.Get("/events", u.events)
			r.Get("/machines/{machineID}", u.machinePage)
			r.Get("/releases", u.releasesPage)
			r.Get("/audit", u.auditPage)
			r.Get("/software", u.softwarePage)
			r.Group(func(r chi.Router) {
				r.Use(u.requireCSRF)
				r.Post("/logout", u.logout)
				r.With(u.requireRole(store.RoleAdmin)).Post("/machines/{machineID}/revoke", u.revokeMachine)
				r.With(u.requireRole(store.RoleReleaseManager)).Post("/releases/{product}/{channel}/{action}", u.channelAction)
			})
		})
	})
}

// serveStatic serves an embedded file, and 404 for anything else: names
// that are not valid paths (invalid UTF-8 such as %ff, "..") and
// directories (no listings). http.FileServer answered such names with a
// 500.
func serveStatic(w http.ResponseWriter, r *http.Request) {
	name := "static/" + chi.URLParam(r, "*")
	if !fs.ValidPath(name) {
		http.NotFound(w, r)
		return
	}
	if st, err := fs.Stat(staticFS, name); err != nil || st.IsDir() {
		http.NotFound(w, r)
		return
	}
	http.ServeFileFS(w, r, staticFS, name)
}

func securityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; frame-ancestors 'none'; form-action 'self'")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "same-origin")
		h.Set("Cache-Control", "no-store")
		next.ServeHTTP(w, r)
	})
}

// page is what every template gets.
type page struct {
	Title  string
	Nav    string
	CSRF   string
	Tenant string // the admin's tenant scope, "" = all
	User   string // who is signed in: the admin token's name or the SSO email
	Role   string
	Error  string
	// Warnings are Options.Warnings, shown to signed-in admins.
	Warnings []string
	Data     any
}

func (u *UI) render(w http.ResponseWriter, r *http.Request, name string, status int, p page) {
	if s, ok := sessionFrom(r.Context()); ok {
		p.CSRF, p.Tenant, p.User, p.Role = s.csrf, s.Tenant, s.name, cmp.Or(s.role, store.RoleAdmin)
		if u.opts.Warnings != nil {
			p.Warnings = u.opts.Warnings()
		}
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	if err := u.tmpl[name].Execute(w, p); err != nil {
		u.opts.Logger.ErrorContext(r.Context(), "admin page", "page", name, "err", err)
	}
}

// fail renders an error page; not-found store errors become 404.
func (u *UI) fail(w http.ResponseWriter, r *http.Request, err error) {
	status, msg := http.StatusInternalServerError, "something went wrong; see the server log"
	var he *httpError
	switch {
	case errors.As(err, &he):
		status, msg = he.status, he.msg
	case errors.Is(err, store.ErrNotFound):
		status, msg = http.StatusNotFound, "not found"
	case errors.Is(err, context.Canceled):
		return
	default:
		u.opts.Logger.ErrorContext(r.Context(), "admin page", "path", r.URL.Path, "err", err)
	}
	u.render(w, r, "login", status, page{Title: http.StatusText(status), Error: msg, Data: errorOnly{}})
}

type errorOnly struct{}

type httpError struct {
	status int
	msg    string
}

func (e *httpError) Error() string { return e.msg }

func badRequest(msg string) error { return &httpError{http.StatusBadRequest, msg} }
