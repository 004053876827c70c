package adminui_test

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/slipwayhq/slipway/internal/oidctest"
	"github.com/slipwayhq/slipway/server/adminui"
	"github.com/slipwayhq/slipway/server/store"
)

// TestSingleSignOnRecheck: an open single sign-on session is rechecked
// with the provider once SLIPWAY_OIDC_RECHECK has passed (the server's
// clock is moved on): while the user exists the refresh succeeds and the
// page keeps working; after the user is removed at the provider the next
// request is refused, the page asks to sign in again, and the audit log
// says why.
func TestSingleSignOnRecheck(t *testing.T) {
	e, p, skew, ctx := aliceSignedIn(t)
	// Past the recheck: the provider renews the grant, the page still works.
	skew.Store(int64(adminui.DefaultRecheck + time.Minute))
	if err := chromedp.Do(ctx, chromedp.Navigate(e.ts.URL+"/admin/releases"), chromedp.WaitVisible(chromedp.ID("who"))); err != nil {
		t.Fatalf("after a successful recheck: %v", err)
	}
	// Removed at the provider: within one recheck the session is over.
	p.RemoveUser("u1")
	if err := chromedp.Do(ctx, chromedp.Navigate(e.ts.URL+"/admin/"), chromedp.WaitVisible(chromedp.ID("machines"))); err != nil {
		t.Fatalf("before the next recheck is due: %v", err)
	}
	skew.Store(int64(2*adminui.DefaultRecheck + 2*time.Minute))
	doOrDump(t, ctx, "after removal at the provider", chromedp.Navigate(e.ts.URL+"/admin/releases"), chromedp.WaitVisible(chromedp.ID("sso")),
		shot(t, "sso-recheck-signed-out"))
	url, err := chromedp.Run(ctx, chromedp.Location())
	if err != nil || !strings.Contains(url, "/admin/login") {
		t.Errorf("landed on %s (%v), want the sign-in page", url, err)
	}
	wantEndAudit(t, e, "refused to renew the sign-in (invalid_grant)")
}

// doOrDump runs the steps with a minute of the browser's time; when they
// fail it says where the page is and what it shows, so a failure seen
// once (a page that never showed the sign-in link) can be told apart.
func doOrDump(t *testing.T, ctx context.Context, what string, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	sub, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	err := chromedp.Do(sub, steps...)
	if err == nil {
		return
	}
	url, uerr := chromedp.Run(ctx, chromedp.Location())
	body, berr := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("body")))
	t.Fatalf("%s: %v\npage %s (%v) shows:\n%s (%v)", what, err, url, uerr, body, berr)
}

// aliceSignedIn is an SSO-enabled admin page whose clock runs skew ahead,
// with alice signed in through the provider in a browser.
func aliceSignedIn(t *testing.T) (*env, *oidctest.Provider, *atomic.Int64, context.Context) {
	t.Helper()
	skew := new(atomic.Int64)
	now := func() time.Time { return time.Now().Add(time.Duration(skew.Load())) }
	e, p := ssoEnv(t, adminui.Options{Now: now})
	ctx := browser(t)
	steps := append([]chromedp.Action[chromedp.Void]{chromedp.Navigate(e.ts.URL + "/admin/")}, idpSignIn("alice", "alice-pw")...)
	if err := chromedp.Do(ctx, append(steps, chromedp.WaitVisible(chromedp.ID("machines")))...); err != nil {
		t.Fatal(err)
	}
	return e, p, skew, ctx
}

// wantEndAudit checks the audit entry of alice's ended SSO session.
func wantEndAudit(t *testing.T, e *env, reason string) {
	t.Helper()
	entries, err := e.st.ListAudit(t.Context(), store.AuditQuery{Action: store.AuditLogout, Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	var why string
	for _, a := range entries {
		if a.ActorName == "alice@example.com" && a.Target == "single sign-on recheck" {
			why = a.Result
		}
	}
	if !strings.Contains(why, reason) {
		t.Errorf("audit of the ended session: %q, want %q; entries %+v", why, reason, entries)
	}
}

// TestSingleSignOnRecheckOutageAndRole: while the provider is down a due
// recheck refuses the request with a 503 that says why and keeps the
// session; once it is back the session goes on; when the provider then
// maps the user to another role, the session ends and the audit log says
// so.
func TestSingleSignOnRecheckOutageAndRole(t *testing.T) {
	e, p, skew, ctx := aliceSignedIn(t)
	p.SetDown(true)
	skew.Store(int64(adminui.DefaultRecheck + time.Minute))
	if err := chromedp.Do(ctx, chromedp.Navigate(e.ts.URL+"/admin/releases"), chromedp.WaitVisible(chromedp.CSS(`p.error`))); err != nil {
		t.Fatalf("recheck during the outage: %v", err)
	}
	msg, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(`p.error`)))
	if err != nil || !strings.Contains(msg, "identity provider could not be asked") {
		t.Errorf("outage page says %q (%v)", msg, err)
	}
	p.SetDown(false)
	if err := chromedp.Do(ctx, chromedp.Navigate(e.ts.URL+"/admin/"), chromedp.WaitVisible(chromedp.ID("machines"))); err != nil {
		t.Fatalf("the session did not survive the provider's outage: %v", err)
	}
	// staff maps to viewer@default, not alice's release-manager role.
	p.SetGroups("u1", "staff")
	skew.Store(int64(2*adminui.DefaultRecheck + 2*time.Minute))
	doOrDump(t, ctx, "after a role change at the provider", chromedp.Navigate(e.ts.URL+"/admin/releases"), chromedp.WaitVisible(chromedp.ID("sso")))
	wantEndAudit(t, e, "another role")
}
