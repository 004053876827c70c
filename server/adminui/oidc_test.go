package adminui_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/go-chi/chi/v5"

	"github.com/slipwayhq/slipway/internal/oidctest"
	"github.com/slipwayhq/slipway/internal/testenv"
	"github.com/slipwayhq/slipway/server/adminui"
	"github.com/slipwayhq/slipway/server/store"
)

const (
	ssoClient = "slipway-admin"
	ssoSecret = "client-secret-0123456789"
)

// ssoEnv is the admin page with single sign-on against a real OpenID
// provider (zitadel's op) on 127.0.0.1: release managers by group, only
// example.com addresses in the release-managers or staff groups.
func ssoEnv(t *testing.T, opts adminui.Options, mounts ...func(chi.Router)) (*env, *oidctest.Provider) {
	t.Helper()
	p := oidctest.New(t,
		oidctest.User{ID: "u1", Username: "alice", Password: "alice-pw", Email: "alice@example.com", EmailVerified: true, Groups: []string{"release-managers"}},
		oidctest.User{ID: "u2", Username: "eve", Password: "eve-pw", Email: "eve@evil.test", EmailVerified: true, Groups: []string{"release-managers"}},
		oidctest.User{ID: "u3", Username: "carol", Password: "carol-pw", Email: "carol@example.com", EmailVerified: true, Groups: []string{"marketing"}},
	)
	rules, err := adminui.ParseRoleRules("group:release-managers=release-manager, group:staff=viewer@default")
	if err != nil {
		t.Fatal(err)
	}
	opts.OIDC = &adminui.OIDC{Issuer: p.Issuer, ClientID: ssoClient, ClientSecret: ssoSecret,
		AllowedDomains: []string{"example.com"}, AllowedGroups: []string{"release-managers", "staff"}, Roles: rules}
	e := newEnv(t, opts, mounts...)
	p.AddClient(ssoClient, ssoSecret, e.ts.URL+"/admin/oidc/callback")
	p.Serve()
	return e, p
}

// idpSignIn signs in on the provider's login page the SSO link led to.
func idpSignIn(user, password string) []chromedp.Action[chromedp.Void] {
	return []chromedp.Action[chromedp.Void]{
		chromedp.WaitVisible(chromedp.ID("sso")),
		chromedp.Click(chromedp.ID("sso")),
		chromedp.WaitVisible(chromedp.ID("username")),
		chromedp.SendKeys(chromedp.ID("username"), user),
		chromedp.SendKeys(chromedp.ID("password"), password),
		chromedp.Click(chromedp.CSS(`button[type="submit"]`)),
	}
}

// TestSingleSignOnBrowser: in headless Chromium, a release manager signs
// in through the provider, lands with the mapped role, may pause a channel,
// is refused revoking a machine (403 and an audit entry) and signs out; a
// user outside the allowed domain, and one outside the allowed groups, are
// refused.
func TestSingleSignOnBrowser(t *testing.T) {
	h, chans := updater(t)
	e, _ := ssoEnv(t, adminui.Options{Rollouts: chans}, h.Routes)
	register(t, e.ts.URL, "sso-host", "SN-SSO")
	code, list := testenv.CallJSON(t, "GET", e.ts.URL+"/api/admin/machines", e.admin, nil)
	if code != http.StatusOK {
		t.Fatalf("list machines: %d", code)
	}
	machineID := list["items"].([]any)[0].(map[string]any)["id"].(string)
	ctx := browser(t)
	text := func(sel string) string {
		t.Helper()
		v, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
		if err != nil {
			t.Fatalf("text of %s: %v", sel, err)
		}
		return v
	}
	steps := append([]chromedp.Action[chromedp.Void]{chromedp.Navigate(e.ts.URL + "/admin/")}, idpSignIn("alice", "alice-pw")...)
	if err := chromedp.Do(ctx, append(steps, chromedp.WaitVisible(chromedp.ID("machines")), shot(t, "sso-1-signed-in"))...); err != nil {
		t.Fatal(err)
	}
	who := text("#who")
	err := chromedp.Do(ctx,
		// Release managers act on channels...
		chromedp.Navigate(e.ts.URL+"/admin/releases"),
		chromedp.WaitVisible(chromedp.CSS(`tr[data-channel="agent/stable"] button.act`)),
		chromedp.Click(chromedp.CSS(`tr[data-channel="agent/stable"] button.act`)),
		chromedp.WaitVisible(chromedp.ID("done")),
		chromedp.WaitVisible(chromedp.CSS(`tr[data-channel="agent/stable"] .badge.paused`)),
		// ...but may not revoke a machine (the form, submitted past its confirm prompt).
		// (Navigated to, not clicked: the live machines table is redrawn under the cursor.)
		chromedp.Navigate(e.ts.URL+"/admin/machines/"+machineID),
		chromedp.WaitVisible(chromedp.ID("hostname")),
		chromedp.Submit(chromedp.CSS(`form[action$="/revoke"]`)),
		chromedp.WaitVisible(chromedp.CSS(`p.error`)),
		shot(t, "sso-2-refused"),
	)
	if err != nil {
		t.Fatal(err)
	}
	refusal := text("p.error")
	// Sign out: back to the sign-in page, and the page needs signing in again.
	err = chromedp.Do(ctx,
		chromedp.Navigate(e.ts.URL+"/admin/"),
		chromedp.Click(chromedp.ID("logout")),
		chromedp.WaitVisible(chromedp.ID("sso")),
		chromedp.Navigate(e.ts.URL+"/admin/releases"),
		chromedp.WaitVisible(chromedp.ID("sso")),
	)
	if err != nil {
		t.Fatal(err)
	}
	if who != "alice@example.com (release-manager)" {
		t.Errorf("signed in as %q", who)
	}
	if !strings.Contains(refusal, "needs admin") {
		t.Errorf("revoke refusal: %q", refusal)
	}
	for _, c := range []struct{ user, password, want string }{
		{"eve", "eve-pw", "not in a domain allowed"},
		{"carol", "carol-pw", "not in a group allowed"},
	} {
		steps := append([]chromedp.Action[chromedp.Void]{chromedp.Navigate(e.ts.URL + "/admin/login")}, idpSignIn(c.user, c.password)...)
		if err := chromedp.Do(ctx, append(steps, chromedp.WaitVisible(chromedp.CSS(`p.error`)))...); err != nil {
			t.Fatalf("%s: %v", c.user, err)
		}
		msg := text("p.error")
		if !strings.Contains(msg, c.want) {
			t.Errorf("%s refused with %q, want %q", c.user, msg, c.want)
		}
	}
	entries, err := e.st.ListAudit(t.Context(), store.AuditQuery{Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]int{}
	for _, a := range entries {
		if strings.HasPrefix(a.ActorID, "oidc:") {
			got[a.Action+" "+a.ActorName]++
		}
	}
	for _, want := range []string{"login alice@example.com", "pause alice@example.com", "denied alice@example.com",
		"logout alice@example.com", "denied eve@evil.test", "denied carol@example.com"} {
		if got[want] == 0 {
			t.Errorf("no audit entry %q; have %v", want, got)
		}
	}
}

// TestSingleSignOnRefusals: a callback without the flow cookie, with a
// state that does not match, or with the provider's error is a 403 page
// and a "denied" audit entry; token sign-in can be turned off.
func TestSingleSignOnRefusals(t *testing.T) {
	e, p := ssoEnv(t, adminui.Options{NoTokenLogin: true})
	c := e.client()
	res, body := get(t, c, e.ts.URL+"/admin/login")
	if res.StatusCode != http.StatusOK || !strings.Contains(body, `id="sso"`) || strings.Contains(body, `id="token"`) {
		t.Fatalf("login page with token sign-in off: %d\n%s", res.StatusCode, body)
	}
	if res, err := c.PostForm(e.ts.URL+"/admin/login", url.Values{"token": {e.admin}}); err != nil || res.StatusCode != http.StatusForbidden {
		t.Fatalf("token sign-in turned off: %v %v", res.StatusCode, err)
	}
	res, _ = get(t, c, e.ts.URL+"/admin/oidc/start?next=/admin/releases")
	loc, _ := url.Parse(res.Header.Get("Location"))
	q := loc.Query()
	if res.StatusCode != http.StatusSeeOther || !strings.HasPrefix(loc.String(), p.Issuer) || q.Get("code_challenge_method") != "S256" ||
		q.Get("code_challenge") == "" || q.Get("nonce") == "" || len(q.Get("state")) < 32 || q.Get("client_id") != ssoClient {
		t.Fatalf("start: %d %s", res.StatusCode, loc)
	}
	for _, c := range []struct{ name, query, want string }{
		{"wrong state", "state=" + strings.Repeat("A", 32) + "&code=x", "state does not match"},
		{"provider error", "state=" + q.Get("state") + "&error=access_denied", "refused the sign-in (access_denied)"},
		{"bad code", "state=" + q.Get("state") + "&code=not-a-code", "single sign-on failed"},
	} {
		cl := e.client()
		u, _ := url.Parse(e.ts.URL)
		cl.Jar.SetCookies(u, jarCookies(res)) // the flow cookie of the start above
		if r, body := get(t, cl, e.ts.URL+"/admin/oidc/callback?"+c.query); r.StatusCode != http.StatusForbidden || !strings.Contains(body, c.want) {
			t.Errorf("%s: %d\n%s", c.name, r.StatusCode, body)
		}
	}
	if r, body := get(t, e.client(), e.ts.URL+"/admin/oidc/callback?state="+q.Get("state")+"&code=x"); r.StatusCode != http.StatusForbidden ||
		!strings.Contains(body, "expired or was started elsewhere") {
		t.Errorf("no flow cookie: %d\n%s", r.StatusCode, body)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	entries, err := e.st.ListAudit(ctx, store.AuditQuery{Action: store.AuditDenied, Limit: 100})
	if err != nil || len(entries) < 5 {
		t.Fatalf("denied audit entries: %d, %v", len(entries), err)
	}
	for _, a := range entries {
		if strings.Contains(a.Detail+a.Result, "code=") || strings.Contains(a.Detail+a.Result, ssoSecret) {
			t.Errorf("audit entry leaks a secret: %+v", a)
		}
	}
}

func jarCookies(res *http.Response) []*http.Cookie {
	var out []*http.Cookie
	for _, c := range res.Cookies() {
		c.Path = "/" // cookiejar stores by request path; the cookie's own path is /admin/oidc
		out = append(out, c)
	}
	return out
}
