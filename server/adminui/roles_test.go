package adminui_test

import (
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/slipwayhq/slipway/server/adminui"
	"github.com/slipwayhq/slipway/server/store"
	"github.com/slipwayhq/slipway/server/token"
)

// TestPageRolesAndTokenRevocation: a viewer's page session may look but
// not act (403 and a "denied" audit entry for each refusal; a release
// manager may act on channels but not revoke machines), and revoking the
// token ends its page session on the next request.
func TestPageRolesAndTokenRevocation(t *testing.T) {
	e := newEnv(t, adminui.Options{})
	ctx := t.Context()
	signIn := func(role string) (*http.Client, string) {
		value, hash := token.New(token.Admin)
		if err := e.st.CreateAdminToken(ctx, store.AdminToken{ID: role, Name: role, Role: role, Hash: hash,
			Hint: token.Hint(value), CreatedAt: time.Now(), ExpiresAt: time.Now().Add(time.Hour)}); err != nil {
			t.Fatal(err)
		}
		c := e.client()
		res, err := c.PostForm(e.ts.URL+"/admin/login", url.Values{"token": {value}})
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != http.StatusSeeOther {
			t.Fatalf("%s login: %d", role, res.StatusCode)
		}
		_, body := get(t, c, e.ts.URL+"/admin/")
		m := regexp.MustCompile(`name="csrf-token" content="([^"]+)"`).FindStringSubmatch(body)
		if m == nil {
			t.Fatalf("%s: no page after login", role)
		}
		return c, m[1]
	}
	post := func(c *http.Client, path, csrf string) (int, string) {
		req, _ := http.NewRequest("POST", e.ts.URL+path, strings.NewReader(url.Values{"csrf": {csrf}}.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		res, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		var b strings.Builder
		_, _ = bufCopy(&b, res)
		return res.StatusCode, b.String()
	}
	viewer, vcsrf := signIn(store.RoleViewer)
	rm, rcsrf := signIn(store.RoleReleaseManager)
	for _, c := range []struct {
		c          *http.Client
		csrf, path string
		want       int
	}{
		{viewer, vcsrf, "/admin/machines/x/revoke", http.StatusForbidden},
		{viewer, vcsrf, "/admin/releases/agent/stable/pause", http.StatusForbidden},
		{rm, rcsrf, "/admin/machines/x/revoke", http.StatusForbidden},
		// Allowed for a release manager: past the role check, the
		// updater is not configured in this test.
		{rm, rcsrf, "/admin/releases/agent/stable/pause", http.StatusNotFound},
	} {
		code, body := post(c.c, c.path, c.csrf)
		if code != c.want {
			t.Errorf("%s: %d, want %d", c.path, code, c.want)
		}
		if code == http.StatusForbidden && !strings.Contains(body, "may not do this") {
			t.Errorf("%s: refusal does not say why", c.path)
		}
	}
	denied, err := e.st.ListAudit(ctx, store.AuditQuery{Action: store.AuditDenied})
	if err != nil || len(denied) != 3 {
		t.Fatalf("%d denied entries (%v), want 3", len(denied), err)
	}
	if err := e.st.RevokeAdminToken(ctx, store.RoleViewer, time.Now()); err != nil {
		t.Fatal(err)
	}
	if res, _ := get(t, viewer, e.ts.URL+"/admin/"); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("session of a revoked token: %d", res.StatusCode)
	}
}
