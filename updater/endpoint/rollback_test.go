package endpoint

import (
	"encoding/json"
	"errors"
	"net/http"
	"testing"

	"github.com/slipwayhq/slipway/updater/channel"
	"github.com/slipwayhq/slipway/updater/tauri"
	"github.com/slipwayhq/slipway/updater/updatertest"
)

// TestRollbackOffersRevokedMachinesTheTarget: after `slipway rollback`
// machines that took the bad version are offered the restored one (a
// downgrade, marked rollback), the bad version is offered to nobody on any
// channel, and Tauri apps get the rollback only when they say they accept
// downgrades.
func TestRollbackOffersRevokedMachinesTheTarget(t *testing.T) {
	e := newEnv(t, Options{BaseURL: "https://updates.example.com"})
	e.pub.Publish(t, "myapp", "1.3.0", updatertest.TauriApp("1.3.0")...)
	for _, p := range []struct{ prod, ch, v string }{{"myapp", "beta", "1.2.3"}, {"myapp", "beta", "1.3.0"},
		{"myapp", "stable", "1.3.0"}, {"agent", "beta", "1.0.0"}, {"agent", "beta", "1.1.0"}} {
		if err := e.file.Promote(p.prod, p.ch, p.v, 100); err != nil {
			t.Fatal(err)
		}
	}
	// agent stable: 1.0.0 -> 1.1.0 at 50 %, rolled back to 1.0.0.
	for _, p := range []struct{ prod, ch string }{{"agent", "stable"}, {"myapp", "stable"}} {
		if _, err := e.file.Rollback(p.prod, p.ch); err != nil {
			t.Fatal(err)
		}
	}
	// The revocation is product-wide: beta stops serving 1.1.0 and 1.3.0.
	for _, p := range []struct{ prod, want string }{{"agent", "1.0.0"}, {"myapp", "1.2.3"}} {
		if c, _ := e.file.Channel(p.prod, "beta"); c.Version != p.want {
			t.Fatalf("%s beta serves %s after the rollback on stable", p.prod, c.Version)
		}
	}
	if err := e.file.Promote("agent", "beta", "1.1.0", 100); !errors.Is(err, channel.ErrRevoked) {
		t.Fatalf("promoting a revoked version: %v", err)
	}
	e.apply(t)
	if err := e.h.Reload(t.Context()); err != nil {
		t.Fatal(err)
	}

	in, out := machines("agent", "1.1.0", 50)
	for _, m := range []string{in, out} {
		resp, body := get(t, e.srv.URL+"/v1/updates/agent/stable?os=linux&arch=amd64&current=1.1.0&machine="+m)
		var up Update
		if resp.StatusCode != http.StatusOK || json.Unmarshal(body, &up) != nil || up.Version != "1.0.0" || !up.Rollback {
			t.Fatalf("machine %s on revoked 1.1.0: %d %s", m, resp.StatusCode, body)
		}
	}
	for _, ch := range []string{"stable", "beta"} {
		resp, body := get(t, e.srv.URL+"/v1/updates/agent/"+ch+"?os=linux&arch=amd64&current=0.9.0&machine="+in)
		var up Update
		if resp.StatusCode != http.StatusOK || json.Unmarshal(body, &up) != nil || up.Version != "1.0.0" || up.Rollback {
			t.Fatalf("%s offered %d %s, want 1.0.0", ch, resp.StatusCode, body)
		}
	}

	tauriURL := e.srv.URL + "/tauri/myapp/stable/linux/x86_64/1.3.0"
	if resp, body := get(t, tauriURL); resp.StatusCode != http.StatusNoContent {
		t.Fatalf("default Tauri app offered a downgrade: %d %s", resp.StatusCode, body)
	}
	resp, body := get(t, tauriURL, RollbackHeader, "1")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("opted-in Tauri app: %d %s", resp.StatusCode, body)
	}
	ver, _, sig, err := tauri.Validate(body, "linux-x86_64")
	if err != nil || ver != "1.2.3" {
		t.Fatalf("tauri rollback %s %v\n%s", ver, err, body)
	}
	e.verifyTauri(t, "MyApp_1.2.3_amd64.AppImage", sig, ver)
	// A Tauri app on a good version is never offered a downgrade, header or not.
	if resp, body := get(t, e.srv.URL+"/tauri/myapp/stable/linux/x86_64/1.2.9", RollbackHeader, "1"); resp.StatusCode != http.StatusNoContent {
		t.Fatalf("downgrade of a good version: %d %s", resp.StatusCode, body)
	}
}
