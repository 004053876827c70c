package adminui_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/slipwayhq/slipway/internal/testenv"
	"github.com/slipwayhq/slipway/server/adminui"
	"github.com/slipwayhq/slipway/server/store"
	"github.com/slipwayhq/slipway/server/token"
	"github.com/slipwayhq/slipway/updater/channel"
)

// TestChannelActionsOnTheAdminAPI: release managers pause, resume and
// roll back channels through the admin API (the page's channels file,
// published), viewers and tenant-scoped tokens are refused with a 403 and
// an audit entry, and bad input is a 400.
func TestChannelActionsOnTheAdminAPI(t *testing.T) {
	h, chans := updater(t)
	e := newEnv(t, adminui.Options{Rollouts: chans}, h.Routes)
	mk := func(role, tenant string) string {
		value, hash := token.New(token.Admin)
		if err := e.st.CreateAdminToken(t.Context(), store.AdminToken{ID: role + tenant, Name: role + tenant, Role: role, TenantID: tenant,
			Hash: hash, Hint: token.Hint(value), CreatedAt: time.Now(), ExpiresAt: time.Now().Add(time.Hour)}); err != nil {
			t.Fatal(err)
		}
		return value
	}
	rm, viewer, scoped := mk(store.RoleReleaseManager, ""), mk(store.RoleViewer, ""), mk(store.RoleAdmin, "default")
	paused := func() bool {
		f, err := channel.Load(chans.Path)
		if err != nil {
			t.Fatal(err)
		}
		c, _ := f.Channel("agent", "stable")
		return c.Paused
	}
	call := func(tok, path string, want int) map[string]any {
		t.Helper()
		code, out := testenv.CallJSON(t, "POST", e.ts.URL+"/api/admin/channels/"+path, tok, nil)
		if code != want {
			t.Fatalf("%s: %d %v, want %d", path, code, out, want)
		}
		return out
	}
	call(viewer, "agent/stable/pause", http.StatusForbidden)
	call(scoped, "agent/stable/pause", http.StatusForbidden)
	call(rm, "agent/stable/explode", http.StatusBadRequest)
	call(rm, "Agent/stable/pause", http.StatusBadRequest)
	call(rm, "agent/"+strings.Repeat("x", 65)+"/pause", http.StatusBadRequest)
	if paused() {
		t.Fatal("a refused request paused the channel")
	}
	call(rm, "agent/stable/pause", http.StatusOK)
	if !paused() {
		t.Fatal("pause did not pause the channel")
	}
	call(rm, "agent/stable/resume", http.StatusOK)
	if paused() {
		t.Fatal("resume did not resume the channel")
	}
	if out := call(rm, "agent/stable/rollback", http.StatusOK); out["version"] != "1.0.0" {
		t.Fatalf("rollback: %v", out)
	}
	call(rm, "agent/nosuch/pause", http.StatusConflict)
	entries, err := e.st.ListAudit(t.Context(), store.AuditQuery{Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]int{}
	for _, a := range entries {
		got[a.Action+" "+a.ActorName]++
	}
	for _, want := range []string{"denied viewer", "denied admindefault", "pause release-manager", "resume release-manager", "rollback release-manager"} {
		if got[want] == 0 {
			t.Errorf("no audit entry %q: %v", want, got)
		}
	}
}
