package server_test

import (
	"bytes"
	"encoding/json"
	"flag"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/slipwayhq/slipway/server"
	"github.com/slipwayhq/slipway/server/store"
	"github.com/slipwayhq/slipway/server/store/sqlite"
	"github.com/slipwayhq/slipway/server/token"
)

var update = flag.Bool("update", false, "rewrite golden files")

// clock is a settable test clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// env is a real server (real router, real SQLite) behind httptest.
type env struct {
	t      testing.TB
	srv    *server.Server
	ts     *httptest.Server
	st     store.Store
	clock  *clock
	admin  string // bootstrap admin token
	secret string // default tenant provisioning secret
	client *http.Client
}

func newEnv(t testing.TB, mod ...func(*server.Config)) *env {
	t.Helper()
	return newEnvWith(t, server.Options{}, mod...)
}

// newEnvWith is newEnv with options: Now is set by it, Store defaults to
// SQLite in a temporary directory.
func newEnvWith(t testing.TB, opts server.Options, mod ...func(*server.Config)) *env {
	t.Helper()
	dir := t.TempDir()
	st := opts.Store
	if st == nil {
		var err error
		if st, err = sqlite.Open(t.Context(), filepath.Join(dir, "slipway.db"), sqlite.Options{Synchronous: "NORMAL"}); err != nil {
			t.Fatal(err)
		}
	}
	opts.Store = st
	return newEnvOpts(t, dir, opts, mod...)
}

// newEnvStore is newEnv on the given store (closed by the test's cleanup).
func newEnvStore(t testing.TB, dir string, st store.Store, mod ...func(*server.Config)) *env {
	t.Helper()
	return newEnvOpts(t, dir, server.Options{Store: st}, mod...)
}

// newEnvOpts is the common part: opts.Store must be set.
func newEnvOpts(t testing.TB, dir string, opts server.Options, mod ...func(*server.Config)) *env {
	t.Helper()
	st := opts.Store
	clk := &clock{t: time.Date(2026, 5, 4, 10, 0, 0, 0, time.UTC)}
	if _, err := server.EnsureBootstrap(t.Context(), st, dir, server.Bootstrap{}, clk.Now()); err != nil {
		t.Fatal(err)
	}
	cfg := server.Config{DataDir: dir, RateLimit: 1000, RateBurst: 1000, AuthFailureBurst: 1000,
		PublicURL: "http://slipway.test", PortalURL: "https://portal.example.com/tickets",
		RedirectOrigins: []string{"https://help.example.com"}, CORSOrigins: []string{"https://admin.example.com"}}
	for _, m := range mod {
		m(&cfg)
	}
	opts.Store, opts.Now = st, clk.Now
	srv, err := server.New(cfg, opts)
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv)
	t.Cleanup(func() { ts.Close(); srv.Close(); st.Close() })
	e := &env{t: t, srv: srv, ts: ts, st: st, clock: clk,
		admin: readFile(t, filepath.Join(dir, server.AdminTokenFile)), secret: readFile(t, filepath.Join(dir, server.ProvisioningSecretFile)),
		client: &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
	return e
}

func readFile(t testing.TB, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}

// response is a decoded HTTP answer.
type response struct {
	Status int
	Header http.Header
	Body   []byte
}

func (r response) JSON(t testing.TB) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.Body, &m); err != nil {
		t.Fatalf("body is not a JSON object: %v\n%s", err, r.Body)
	}
	return m
}

// do sends a request; body may be a string, []byte, nil or any JSON value.
func (e *env) do(method, path, bearer string, body any, hdr ...string) response {
	e.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		j, err := json.Marshal(b)
		if err != nil {
			e.t.Fatal(err)
		}
		rd = bytes.NewReader(j)
	}
	req, err := http.NewRequestWithContext(e.t.Context(), method, e.ts.URL+path, rd)
	if err != nil {
		e.t.Fatal(err)
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	res, err := e.client.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	return response{Status: res.StatusCode, Header: res.Header, Body: b}
}

// expect fails unless the status matches; error bodies must be JSON errors.
func expect(t testing.TB, r response, status int) response {
	t.Helper()
	if r.Status != status {
		t.Fatalf("status %d, want %d; body: %s", r.Status, status, r.Body)
	}
	if status >= 400 {
		m := r.JSON(t)
		if m["error"] == "" || m["error"] == nil || m["message"] == nil {
			t.Fatalf("error body lacks error/message: %s", r.Body)
		}
		if !strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") {
			t.Fatalf("error content type %q", r.Header.Get("Content-Type"))
		}
	}
	return r
}

// scopedAdmin stores an admin token limited to one tenant.
func (e *env) scopedAdmin(tenantID string) string {
	e.t.Helper()
	value, hash := token.New(token.Admin)
	if err := e.st.CreateAdminToken(e.t.Context(), store.AdminToken{ID: "scoped-" + tenantID, Name: "scoped",
		TenantID: tenantID, Hash: hash, CreatedAt: e.clock.Now()}); err != nil {
		e.t.Fatal(err)
	}
	return value
}

type registered struct {
	ID, Token string
}

func registerBody(secret, host string, serials ...string) map[string]any {
	return map[string]any{
		"provisioningSecret": secret, "hostname": host,
		"os":            map[string]any{"name": "linux", "version": "12", "architecture": "amd64"},
		"serialNumbers": serials, "macAddresses": []string{"00:1a:2b:3c:4d:5e"},
		"inventory": map[string]any{"model": "ThinkPad X1", "manufacturer": "Lenovo"},
		"metrics":   map[string]any{"cpu": 12.5, "memory": 40},
	}
}

func (e *env) register(secret, host string, serials ...string) registered {
	e.t.Helper()
	r := e.do("POST", "/api/machines/register", "", registerBody(secret, host, serials...))
	if r.Status != http.StatusCreated && r.Status != http.StatusOK {
		e.t.Fatalf("register: %d %s", r.Status, r.Body)
	}
	m := r.JSON(e.t)
	return registered{ID: m["machineId"].(string), Token: m["machineToken"].(string)}
}

// checkGolden compares got (JSON) to testdata/<name>.golden after masking
// the values of volatile keys.
func checkGolden(t *testing.T, name string, got []byte, volatile ...string) {
	t.Helper()
	var v any
	if err := json.Unmarshal(got, &v); err != nil {
		t.Fatal(err)
	}
	mask(v, volatile)
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		t.Fatal(err)
	}
	out := buf.Bytes()
	path := filepath.Join("testdata", name+".golden")
	if *update {
		if err := os.WriteFile(path, out, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update)", err)
	}
	if !bytes.Equal(out, want) {
		t.Errorf("%s mismatch:\n--- got\n%s\n--- want\n%s", path, out, want)
	}
}

func mask(v any, keys []string) {
	switch x := v.(type) {
	case map[string]any:
		for k, val := range x {
			for _, vk := range keys {
				if k == vk {
					x[k] = "<" + k + ">"
				}
			}
			mask(val, keys)
		}
	case []any:
		for _, val := range x {
			mask(val, keys)
		}
	}
}
