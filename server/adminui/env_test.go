package adminui_test

import (
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/slipwayhq/slipway/server"
	"github.com/slipwayhq/slipway/server/adminui"
	"github.com/slipwayhq/slipway/server/store"
	"github.com/slipwayhq/slipway/server/store/sqlite"
)

const provisioning = "swp_prov_adminui-test-secret-0123456789"

// env is a real server (SQLite) with the admin page mounted, on loopback.
type env struct {
	st    store.Store
	srv   *server.Server
	ts    *httptest.Server
	admin string // bootstrap admin token
}

func newEnv(t *testing.T, opts adminui.Options, mounts ...func(chi.Router)) *env {
	t.Helper()
	dir := t.TempDir()
	st, err := sqlite.Open(t.Context(), filepath.Join(dir, "slipway.db"), sqlite.Options{Synchronous: "OFF"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if _, err := server.EnsureBootstrap(t.Context(), st, dir, server.Bootstrap{ProvisioningSecret: provisioning}, time.Now()); err != nil {
		t.Fatal(err)
	}
	tok, err := os.ReadFile(filepath.Join(dir, server.AdminTokenFile))
	if err != nil {
		t.Fatal(err)
	}
	if opts.LiveInterval == 0 {
		opts.LiveInterval = 100 * time.Millisecond
	}
	// As `slipway server` wires it: the page reads the sealed signing keys opened.
	if opts.SigningKeys, err = server.SigningKeys(server.Config{DataDir: dir}, st, slog.New(slog.DiscardHandler)); err != nil {
		t.Fatal(err)
	}
	e := &env{st: st, admin: strings.TrimSpace(string(tok))}
	e.ts = httptest.NewUnstartedServer(nil)
	url := "http://" + e.ts.Listener.Addr().String()
	if opts.OIDC != nil && opts.OIDC.RedirectURL == "" {
		o := *opts.OIDC
		o.RedirectURL = url + "/admin/oidc/callback"
		opts.OIDC = &o
	}
	ui, err := adminui.New(st, opts)
	if err != nil {
		t.Fatal(err)
	}
	e.srv, err = server.New(server.Config{DataDir: dir, PublicURL: url, RateLimit: 1000, RateBurst: 1000},
		server.Options{Store: st, Mount: append(mounts, ui.Routes), SigningKeys: opts.SigningKeys, Channels: channelActions(opts)})
	if err != nil {
		t.Fatal(err)
	}
	e.ts.Config.Handler = e.srv
	e.ts.Start()
	t.Cleanup(func() { e.ts.Close(); e.srv.Close() })
	return e
}

// channelActions is what `slipway server` gives the admin API: the page's
// channels file, unless it is in git.
func channelActions(opts adminui.Options) server.ChannelActions {
	if opts.Rollouts == nil || opts.GitOps {
		return nil
	}
	return opts.Rollouts
}

// client is a browser-like client: a cookie jar and no automatic redirects.
func (e *env) client() *http.Client {
	jar, _ := cookiejar.New(nil)
	return &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

func (e *env) login(t testing.TB, c *http.Client) string {
	t.Helper()
	res, err := c.PostForm(e.ts.URL+"/admin/login", url.Values{"token": {e.admin}})
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusSeeOther {
		t.Fatalf("login: %d", res.StatusCode)
	}
	_, body := get(t, c, e.ts.URL+"/admin/")
	m := regexp.MustCompile(`name="csrf-token" content="([^"]+)"`).FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no CSRF token in page:\n%s", body)
	}
	return m[1]
}

func get(t testing.TB, c *http.Client, u string) (*http.Response, string) {
	t.Helper()
	res, err := c.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var b strings.Builder
	_, _ = bufCopy(&b, res)
	return res, b.String()
}
