package adminui_test

import (
	"bufio"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/slipwayhq/slipway/server/adminui"
	"github.com/slipwayhq/slipway/server/store"
	"github.com/slipwayhq/slipway/server/token"
)

func bufCopy(w io.Writer, res *http.Response) (int64, error) {
	return io.Copy(w, io.LimitReader(res.Body, 4<<20))
}

func TestLoginSessionCookie(t *testing.T) {
	e := newEnv(t, adminui.Options{})
	c := e.client()
	res, _ := get(t, c, e.ts.URL+"/admin/")
	if res.StatusCode != http.StatusSeeOther || !strings.HasPrefix(res.Header.Get("Location"), "/admin/login") {
		t.Fatalf("no session: %d %s", res.StatusCode, res.Header.Get("Location"))
	}
	for _, bad := range []string{"", "nonsense", "swp_admin_" + strings.Repeat("x", 43), e.admin + "x", strings.Repeat("a", 5000)} {
		res, err := c.PostForm(e.ts.URL+"/admin/login", url.Values{"token": {bad}})
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != http.StatusUnauthorized || len(res.Cookies()) != 0 {
			t.Fatalf("login with %.20q: %d, cookies %v", bad, res.StatusCode, res.Cookies())
		}
	}
	res, err := c.PostForm(e.ts.URL+"/admin/login", url.Values{"token": {e.admin}, "next": {"//evil.example/x"}})
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/admin/" {
		t.Fatalf("login: %d to %q (open redirect?)", res.StatusCode, res.Header.Get("Location"))
	}
	ck := res.Cookies()
	if len(ck) != 1 || ck[0].Name != adminui.CookieName || !ck[0].HttpOnly || ck[0].SameSite != http.SameSiteStrictMode || ck[0].Path != "/admin" {
		t.Fatalf("session cookie: %+v", ck)
	}
	if strings.Contains(ck[0].Value, e.admin) {
		t.Fatal("the cookie carries the admin token")
	}
	res, body := get(t, c, e.ts.URL+"/admin/")
	if res.StatusCode != http.StatusOK || !strings.Contains(body, "Machines") {
		t.Fatalf("after login: %d", res.StatusCode)
	}
	if csp := res.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self'") {
		t.Fatalf("CSP %q", csp)
	}
}

// A wrong, tampered, expired or missing session is refused on every page.
func TestWrongSessionRefused(t *testing.T) {
	now := time.Now()
	e := newEnv(t, adminui.Options{Now: func() time.Time { return now }, SessionTTL: time.Hour})
	c := e.client()
	e.login(t, c)
	u, _ := url.Parse(e.ts.URL + "/admin/")
	good := c.Jar.Cookies(u)[0].Value
	p, sig, _ := strings.Cut(good, ".")
	cases := map[string]string{
		"garbage":       "garbage",
		"no signature":  p,
		"bad signature": p + "." + strings.Repeat("A", len(sig)),
		"swapped":       sig + "." + p,
		"oversize":      strings.Repeat("a", 5000),
	}
	for name, v := range cases {
		for _, path := range []string{"/admin/", "/admin/releases", "/admin/machines/x", "/admin/audit"} {
			req, _ := http.NewRequest("GET", e.ts.URL+path, nil)
			req.AddCookie(&http.Cookie{Name: adminui.CookieName, Value: v})
			res, err := e.client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			res.Body.Close()
			if res.StatusCode != http.StatusSeeOther {
				t.Errorf("%s on %s: %d, want redirect to login", name, path, res.StatusCode)
			}
		}
	}
	req, _ := http.NewRequest("GET", e.ts.URL+"/admin/events", nil)
	req.Header.Set("Accept", "text/event-stream")
	if res, err := http.DefaultClient.Do(req); err != nil || res.StatusCode != http.StatusUnauthorized {
		t.Fatalf("events without session: %v %v", res.StatusCode, err)
	}
	now = now.Add(2 * time.Hour) // past SessionTTL
	if res, _ := get(t, c, e.ts.URL+"/admin/"); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("expired session: %d", res.StatusCode)
	}
}

// Every state change needs the session's CSRF token and a same-origin request.
func TestCSRFRequired(t *testing.T) {
	e := newEnv(t, adminui.Options{})
	c := e.client()
	csrf := e.login(t, c)
	other := e.client()
	otherCSRF := e.login(t, other) // another session's token
	post := func(path string, form url.Values, hdr ...string) int {
		req, _ := http.NewRequest("POST", e.ts.URL+path, strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		for i := 0; i+1 < len(hdr); i += 2 {
			req.Header.Set(hdr[i], hdr[i+1])
		}
		res, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res.StatusCode
	}
	for _, path := range []string{"/admin/logout", "/admin/machines/x/revoke", "/admin/releases/agent/stable/pause"} {
		if code := post(path, url.Values{}); code != http.StatusForbidden {
			t.Errorf("%s without CSRF: %d", path, code)
		}
		if code := post(path, url.Values{"csrf": {"wrong"}}); code != http.StatusForbidden {
			t.Errorf("%s with wrong CSRF: %d", path, code)
		}
		if code := post(path, url.Values{"csrf": {otherCSRF}}); code != http.StatusForbidden {
			t.Errorf("%s with another session's CSRF: %d", path, code)
		}
		if code := post(path, url.Values{"csrf": {csrf}}, "Origin", "https://evil.example"); code != http.StatusForbidden {
			t.Errorf("%s cross-origin: %d", path, code)
		}
	}
	if code := post("/admin/logout", url.Values{}, "X-CSRF-Token", csrf); code != http.StatusSeeOther {
		t.Fatalf("logout with CSRF header: %d", code)
	}
}

func TestMachinesFiltersAndTenantScope(t *testing.T) {
	e := newEnv(t, adminui.Options{})
	ctx := t.Context()
	if err := e.st.CreateTenant(ctx, store.Tenant{ID: "other", Name: "Other"}); err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC()
	for i, m := range []store.Machine{
		{ID: "m-linux", TenantID: "default", Hostname: "build-linux", OS: store.OS{Name: "linux"}},
		{ID: "m-win", TenantID: "default", Hostname: "desk-win", OS: store.OS{Name: "windows"}},
		{ID: "m-other", TenantID: "other", Hostname: "other-host", OS: store.OS{Name: "linux"}},
	} {
		m.Source, m.CreatedAt, m.UpdatedAt = "agent", now, now
		if _, _, err := e.st.RegisterMachine(ctx, m, store.Token{Hash: []byte{byte(i)}, CreatedAt: now, ExpiresAt: now.Add(time.Hour)}); err != nil {
			t.Fatal(err)
		}
	}
	if err := e.st.RecordHeartbeats(ctx, []store.Heartbeat{{MachineID: "m-linux", At: now, Status: "ok", AgentVersion: "1.2.0",
		Metrics: []byte(`{"cpu":12.5,"memory":40}`), Inventory: []byte(`{"cpu":{"model":"<script>x</script>"}}`)}}); err != nil {
		t.Fatal(err)
	}
	c := e.client()
	e.login(t, c)
	tests := []struct{ query, want, notWant string }{
		{"", "desk-win", ""},
		{"?os=windows", "desk-win", "build-linux"},
		{"?q=BUILD", "build-linux", "desk-win"},
		{"?status=online", "build-linux", "desk-win"},
		{"?status=offline", "desk-win", "build-linux"},
		{"?tenant=other", "other-host", "desk-win"},
		{"?agentVersion=1.2.0", "build-linux", "desk-win"},
	}
	for _, tc := range tests {
		res, body := get(t, c, e.ts.URL+"/admin/"+tc.query)
		if res.StatusCode != http.StatusOK || !strings.Contains(body, tc.want) || (tc.notWant != "" && strings.Contains(body, tc.notWant)) {
			t.Errorf("%q: %d, want %q and not %q", tc.query, res.StatusCode, tc.want, tc.notWant)
		}
	}
	if res, _ := get(t, c, e.ts.URL+"/admin/?status=sideways"); res.StatusCode != http.StatusBadRequest {
		t.Errorf("bad status: %d", res.StatusCode)
	}
	res, body := get(t, c, e.ts.URL+"/admin/machines/m-linux")
	if res.StatusCode != http.StatusOK || !strings.Contains(body, "<polyline") || strings.Contains(body, "<script>x") {
		t.Fatalf("machine page: %d chart=%v escaped=%v", res.StatusCode, strings.Contains(body, "<polyline"), !strings.Contains(body, "<script>x"))
	}
	// A tenant-scoped admin sees only its tenant.
	value, hash := token.New(token.Admin)
	if err := e.st.CreateAdminToken(ctx, store.AdminToken{ID: "scoped", TenantID: "other", Hash: hash, CreatedAt: now}); err != nil {
		t.Fatal(err)
	}
	e.admin = value
	sc := e.client()
	e.login(t, sc)
	if _, body := get(t, sc, e.ts.URL+"/admin/"); !strings.Contains(body, "other-host") || strings.Contains(body, "desk-win") {
		t.Error("scoped admin sees other tenants")
	}
	if res, _ := get(t, sc, e.ts.URL+"/admin/machines/m-linux"); res.StatusCode != http.StatusNotFound {
		t.Errorf("scoped admin opens another tenant's machine: %d", res.StatusCode)
	}
	if res, _ := get(t, sc, e.ts.URL+"/admin/?tenant=default"); res.StatusCode != http.StatusForbidden {
		t.Errorf("scoped admin filters another tenant: %d", res.StatusCode)
	}
}

func TestEventsStream(t *testing.T) {
	e := newEnv(t, adminui.Options{})
	c := e.client()
	e.login(t, c)
	req, _ := http.NewRequestWithContext(t.Context(), "GET", e.ts.URL+"/admin/events", nil)
	req.Header.Set("Accept", "text/event-stream")
	res, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if res.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("content type %q", res.Header.Get("Content-Type"))
	}
	sc := bufio.NewScanner(res.Body)
	for sc.Scan() {
		if strings.HasPrefix(sc.Text(), "data: ") {
			if !strings.Contains(sc.Text(), `"rows":[]`) {
				t.Fatalf("first event: %s", sc.Text())
			}
			return
		}
	}
	t.Fatalf("no event: %v", sc.Err())
}

// With GitOps on, the page shows the command and refuses to edit channels.
func TestGitOpsShowsCommands(t *testing.T) {
	_, chans := updater(t)
	e := newEnv(t, adminui.Options{Rollouts: chans, GitOps: true, ChannelsFile: "release/channels.yaml"})
	c := e.client()
	csrf := e.login(t, c)
	res, body := get(t, c, e.ts.URL+"/admin/releases")
	want := "slipway pause agent stable --channels release/channels.yaml"
	if res.StatusCode != http.StatusOK || !strings.Contains(body, want) || strings.Contains(body, `class="act"`) {
		t.Fatalf("releases page: %d, command shown: %v", res.StatusCode, strings.Contains(body, want))
	}
	res, err := c.PostForm(e.ts.URL+"/admin/releases/agent/stable/pause", url.Values{"csrf": {csrf}})
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusConflict {
		t.Fatalf("pause with GitOps on: %d, want 409", res.StatusCode)
	}
	list, err := chans.Channels(t.Context())
	if err != nil || len(list) != 1 || list[0].Paused {
		t.Fatalf("channels changed behind git's back: %+v %v", list, err)
	}
}

// TestLogoutRevokesCopiedCookie: signing out ends the session itself, not
// just this browser's cookie: a copy of the cookie (stolen, or another tab
// of a shared machine) is refused afterwards; other sessions of the same
// admin token carry on.
func TestLogoutRevokesCopiedCookie(t *testing.T) {
	e := newEnv(t, adminui.Options{})
	c := e.client()
	csrf := e.login(t, c)
	other := e.client()
	e.login(t, other)
	base, _ := url.Parse(e.ts.URL + "/admin/")
	copied := e.client()
	copied.Jar.SetCookies(base, c.Jar.Cookies(base))
	if res, _ := get(t, copied, e.ts.URL+"/admin/"); res.StatusCode != http.StatusOK {
		t.Fatalf("copied cookie before sign-out: %d", res.StatusCode)
	}
	req, _ := http.NewRequest("POST", e.ts.URL+"/admin/logout", strings.NewReader(url.Values{"csrf": {csrf}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	res, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusSeeOther {
		t.Fatalf("logout: %d", res.StatusCode)
	}
	if res, _ := get(t, copied, e.ts.URL+"/admin/"); res.StatusCode != http.StatusSeeOther ||
		!strings.HasPrefix(res.Header.Get("Location"), "/admin/login") {
		t.Fatalf("copied cookie after sign-out: %d %s", res.StatusCode, res.Header.Get("Location"))
	}
	if res, _ := get(t, other, e.ts.URL+"/admin/"); res.StatusCode != http.StatusOK {
		t.Fatalf("the admin's other session was signed out too: %d", res.StatusCode)
	}
}

// TestWarningsShown: problems the updater reports (TUF metadata close to
// expiry) head every page for signed-in admins, escaped, and not the
// sign-in page.
func TestWarningsShown(t *testing.T) {
	msg := "TUF targets metadata (version 3) expires in 12.0 days: run <slipway tuf refresh>"
	e := newEnv(t, adminui.Options{Warnings: func() []string { return []string{msg} }})
	c := e.client()
	res, body := get(t, c, e.ts.URL+"/admin/login")
	if strings.Contains(body, "TUF targets") {
		t.Fatalf("warning shown before sign-in: %d", res.StatusCode)
	}
	e.login(t, c)
	for _, page := range []string{"/admin/", "/admin/releases", "/admin/audit"} {
		res, body := get(t, c, e.ts.URL+page)
		if res.StatusCode != http.StatusOK || !strings.Contains(body, `<p class="warning" role="alert">TUF targets metadata (version 3) expires in 12.0 days: run &lt;slipway tuf refresh&gt;</p>`) {
			t.Fatalf("%s: %d, warning missing", page, res.StatusCode)
		}
	}
}

// TestStaticFiles is the sweep's finding: GET /admin/static/%ff answered
// 500 (http.FileServer over the embedded files). Bad names and
// directories are 404; real files are served.
func TestStaticFiles(t *testing.T) {
	e := newEnv(t, adminui.Options{})
	c := e.client()
	for path, want := range map[string]int{
		"/admin/static/admin.css":      http.StatusOK,
		"/admin/static/admin.js":       http.StatusOK,
		"/admin/static/%ff":            http.StatusNotFound,
		"/admin/static/a%00b":          http.StatusNotFound,
		"/admin/static/":               http.StatusNotFound,
		"/admin/static/..%2fui.go":     http.StatusNotFound,
		"/admin/static/missing.css":    http.StatusNotFound,
		"/admin/static/admin.css/x":    http.StatusNotFound,
		"/admin/static/" + "%ef%bf%bf": http.StatusNotFound,
	} {
		res, body := get(t, c, e.ts.URL+path)
		if res.StatusCode != want {
			t.Errorf("GET %s: %d, want %d (%.80s)", path, res.StatusCode, want, body)
		}
		if want == http.StatusOK && res.Header.Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("GET %s: no security headers", path)
		}
	}
}
