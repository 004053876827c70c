package adminui_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/slipwayhq/slipway/server/adminui"
	"github.com/slipwayhq/slipway/server/store"
	"github.com/slipwayhq/slipway/updater/channel"
	"github.com/slipwayhq/slipway/updater/gate"
)

// TestReleasesShowHaltAndRollBack: a rollout halted by a gate shows as a
// banner with the numbers and an SVG of steps and gates; the Roll back
// button is there for a version at 100 % (it only appeared during partial
// rollouts before), and rolling back shows the version revoked.
func TestReleasesShowHaltAndRollBack(t *testing.T) {
	_, chans := updater(t)
	f, err := channel.Load(chans.Path)
	if err != nil {
		t.Fatal(err)
	}
	c, _ := f.Channel("agent", "stable")
	c.Plan = &gate.Plan{Steps: []float64{5, 25, 100}, Bake: gate.Duration(time.Hour), Gates: gate.Gates{MinSample: 10}}
	if err := f.Save(chans.Path); err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, adminui.Options{Rollouts: chans})
	at := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	halted := gate.State{Version: "1.1.0", Halted: true, HaltedAt: at,
		Gate: gate.GateOffline, Sample: gate.Sample{Upgraded: 40, Offline: 7}, History: []gate.Point{
			{At: at.Add(-20 * time.Minute), Percent: 5, Sample: gate.Sample{Fleet: 800}},
			{At: at.Add(-10 * time.Minute), Percent: 5, Sample: gate.Sample{Upgraded: 30, Fleet: 800}},
			{At: at, Percent: 0, Sample: gate.Sample{Upgraded: 40, Offline: 7, Fleet: 800}},
		}}
	data, _ := json.Marshal(halted)
	if ok, err := e.st.(store.RolloutGateStore).SaveRolloutGate(t.Context(), "agent", "stable", 0, data, time.Now()); !ok || err != nil {
		t.Fatalf("save: %v %v", ok, err)
	}
	cl := e.client()
	csrf := e.login(t, cl)
	res, body := get(t, cl, e.ts.URL+"/admin/releases")
	for _, want := range []string{
		`id="halt-agent-stable"`,
		"halted by gate offline-after-upgrade at 2026-03-01T12:00:00Z: 7 of 40 upgraded machines offline",
		`<svg class="gate-chart"`, `fill="#dc2626"`, // the halted step and the tripped gate in red
		`<svg class="adoption-chart"`, `<polyline class="adoption" points="1.0,89.0 180.0,85.7 359.0,84.6"`, `<line class="halt" x1="359.0"`,
		`action="/admin/releases/agent/stable/rollback"`, "bring agent/stable machines back to 1.0.0",
	} {
		if res.StatusCode != http.StatusOK || !strings.Contains(body, want) {
			t.Fatalf("releases page lacks %q (%d):\n%s", want, res.StatusCode, body)
		}
	}
	resp, err := cl.PostForm(e.ts.URL+"/admin/releases/agent/stable/rollback", url.Values{"csrf": {csrf}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if _, body := get(t, cl, e.ts.URL+"/admin/releases"); !strings.Contains(body, "revoked 1.1.0") || strings.Contains(body, `id="halt-agent-stable"`) {
		t.Fatalf("after rollback:\n%s", body)
	}
}
