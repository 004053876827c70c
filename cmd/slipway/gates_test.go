package main

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/slipwayhq/slipway/server"
	"github.com/slipwayhq/slipway/server/store"
	"github.com/slipwayhq/slipway/storage/fs"
	"github.com/slipwayhq/slipway/updater/catalog"
	"github.com/slipwayhq/slipway/updater/channel"
	"github.com/slipwayhq/slipway/updater/gate"
	"github.com/slipwayhq/slipway/updater/gate/gatetest"
	"github.com/slipwayhq/slipway/updater/publish"
	"github.com/slipwayhq/slipway/updater/repo"
	"github.com/slipwayhq/slipway/updater/updatertest"
)

// TestGatesHaltFromRealHeartbeats runs the rollout gates as `slipway
// server` wires them: the real server (SQLite) with the update endpoints
// mounted, health sampled from the machines table that heartbeats fill.
// 200 simulated agents report through the store; a version that fails its
// trial run everywhere halts at the first step, with the halt in the audit
// log, and after `slipway rollback` everyone is on the last good version.
func TestGatesHaltFromRealHeartbeats(t *testing.T) {
	for _, tt := range []struct{ behaviour, gate string }{{gatetest.Crash, gate.GateFailed}, {gatetest.Silent, gate.GateOffline}} {
		t.Run(tt.behaviour, func(t *testing.T) { gatesScenario(t, tt.behaviour, tt.gate) })
	}
}

func gatesScenario(t *testing.T, behaviour, wantGate string) {
	ctx := t.Context()
	data := t.TempDir()
	cfg := server.Config{DataDir: data}
	st, err := server.OpenStore(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	arts, err := fs.New(filepath.Join(data, "artifacts"), fs.Options{})
	if err != nil {
		t.Fatal(err)
	}
	pub := updatertest.New(t, arts, "", 1)
	keys, err := repo.EnsureKeys(filepath.Join(data, "keys"), 1)
	if err != nil {
		t.Fatal(err)
	}
	file := &channel.File{}
	fleet := &gatetest.Fleet{Product: "agent", Channel: "stable", Now: time.Now().UTC().Truncate(time.Second),
		Step: 5 * time.Minute, Behave: map[string]string{"1.1.0": behaviour}}
	var u *updates
	apply := func() {
		t.Helper()
		pcfg := publish.Config{Store: arts, Verifier: catalog.Minisign{Key: pub.PK}}
		if _, err := publish.Apply(ctx, pcfg, file, keys, fleet.Now); err != nil {
			t.Fatal(err)
		}
		if u != nil {
			if err := u.h.Reload(ctx); err != nil {
				t.Fatal(err)
			}
		}
	}
	for _, v := range []string{"1.0.0", "1.1.0"} {
		pub.Publish(t, "agent", v, updatertest.Agent(v)...)
	}
	if err := file.Promote("agent", "stable", "1.0.0", 100); err != nil {
		t.Fatal(err)
	}
	apply()

	log := slog.New(slog.DiscardHandler)
	health := newFleetHealth(st, fleet.Step, 3*fleet.Step) // one round = one heartbeat interval
	fleet.Ctrl = gate.New(gateStore(st), health, gate.Options{OnEvent: auditGate(st, log)})
	if u, err = newUpdates(ctx, data, updateOptions{rollouts: fleet.Ctrl}, log); err != nil {
		t.Fatal(err)
	}
	srv, err := server.New(cfg, server.Options{Store: st, Mount: []func(chi.Router){u.mount()}})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv)
	t.Cleanup(func() { ts.Close(); srv.Close() })
	fleet.URL, fleet.Rollouts = ts.URL, u.h.Rollouts

	if err := st.CreateTenant(ctx, store.Tenant{ID: "default", Name: "Default"}); err != nil {
		t.Fatal(err)
	}
	fleet.AddMachines(200, "1.0.0")
	for i, m := range fleet.Machines {
		tok := store.Token{Hash: []byte{byte(i), byte(i >> 8), 'g'}, CreatedAt: fleet.Now, ExpiresAt: fleet.Now.Add(24 * time.Hour)}
		if _, _, err := st.RegisterMachine(ctx, store.Machine{ID: m.ID, TenantID: "default", Hostname: m.ID, Source: "agent",
			CreatedAt: fleet.Now, UpdatedAt: fleet.Now}, tok); err != nil {
			t.Fatal(err)
		}
	}
	var batch []store.Heartbeat
	fleet.Heartbeat = func(_ context.Context, m *gatetest.Machine, now time.Time) error {
		hb := store.Heartbeat{MachineID: m.ID, At: now, Status: "ok", AgentVersion: m.Current}
		if m.Failed != "" {
			hb.Inventory, _ = json.Marshal(map[string]any{"agent": map[string]any{"version": m.Current, "update": map[string]any{
				"available": m.Failed, "installed": m.Current, "result": store.UpdateRolledBack, "at": now}}})
		}
		batch = append(batch, hb)
		return nil
	}
	fleet.Flush = func(ctx context.Context) error {
		err := st.RecordHeartbeats(ctx, batch)
		batch = batch[:0]
		return err
	}

	if err := file.Promote("agent", "stable", "1.1.0", 100); err != nil {
		t.Fatal(err)
	}
	c, _ := file.Channel("agent", "stable")
	c.Plan = &gate.Plan{Steps: []float64{5, 25, 100}, Bake: gate.Duration(30 * time.Minute),
		Gates: gate.Gates{MaxFailedRate: 0.05, MaxOfflineRate: 0.10, MinSample: 5}}
	if behaviour == gatetest.Silent {
		// The automatic rollback policy: the halt asks for the rollback,
		// `slipway gate autorollback` performs it below.
		c.Plan.OnHalt = gate.OnHaltRollback
	}
	apply()
	// A second replica evaluates the same rollouts at the same times: the
	// database lets one of them record each decision (one audit entry).
	replica := gate.New(gateStore(st), health, gate.Options{OnEvent: auditGate(st, log)})
	for range 12 {
		now := fleet.Now
		fleet.Round(t)
		if err := replica.Tick(ctx, u.h.Rollouts(), now); err != nil {
			t.Fatal(err)
		}
	}
	k := gate.Key{Product: "agent", Channel: "stable"}
	if rs, _ := replica.State(k); !rs.Halted {
		t.Fatalf("the second replica did not adopt the halt: %v", rs)
	}
	stt, _ := fleet.Ctrl.State(k)
	if !stt.Halted || stt.Gate != wantGate || stt.Step != 0 {
		t.Fatalf("state %v", stt)
	}
	fleet.CheckOffersInsideSteps(t, "1.1.0")
	if n := fleet.Exposed("1.1.0"); n == 0 || n > len(fleet.Machines)*6/100 {
		t.Fatalf("%d of %d machines exposed", n, len(fleet.Machines))
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(newGateMetrics(fleet.Ctrl, u.h.Rollouts))
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var halted float64
	for _, mf := range mfs {
		if mf.GetName() == "slipway_rollout_halted" {
			for _, m := range mf.GetMetric() {
				for _, l := range m.GetLabel() {
					if l.GetName() == "gate" && l.GetValue() == wantGate {
						halted = m.GetGauge().GetValue()
					}
				}
			}
		}
	}
	if halted != 1 {
		t.Fatalf("slipway_rollout_halted{gate=%q} = %v", wantGate, halted)
	}
	entries, err := st.ListAudit(ctx, store.AuditQuery{Action: store.AuditRolloutHalt})
	if err != nil || len(entries) != 1 || entries[0].Detail != stt.String() || entries[0].Target != "agent/stable" {
		t.Fatalf("audit %+v %v", entries, err)
	}
	if behaviour == gatetest.Crash {
		gateCommands(t, data, file, pub.PK.Encode())
	}
	if behaviour == gatetest.Silent {
		if !stt.RollbackRequested {
			t.Fatalf("onHalt: rollback, but the halt requested none: %v", stt)
		}
		*file = *autoRollbackCommand(t, data, file, pub.PK.Encode())
	} else if _, err := file.Rollback("agent", "stable"); err != nil {
		t.Fatal(err)
	}
	apply()
	for range 2 {
		fleet.Round(t)
	}
	if n := fleet.Count("1.0.0"); n != len(fleet.Machines) {
		t.Fatalf("%d of %d machines back on 1.0.0", n, len(fleet.Machines))
	}
}

// autoRollbackCommand runs `slipway gate autorollback` on the file saved
// to disk, as a CI job would, and returns the file it edited: the halted
// version revoked, the channel back on the previous one, an audit entry;
// a second run finds nothing to do.
func autoRollbackCommand(t *testing.T, data string, file *channel.File, minisignPub []byte) *channel.File {
	t.Helper()
	path := filepath.Join(t.TempDir(), "channels.yaml")
	if err := file.Save(path); err != nil {
		t.Fatal(err)
	}
	args := []string{"gate", "autorollback", "--detailed-exitcode", "--data", data, "--channels", path, "--minisign-pub", writeTemp(t, minisignPub)}
	out, err := runSlipway(t, args...)
	if err == nil || !strings.Contains(err.Error(), "exit status 2") || !strings.Contains(out, "agent/stable: 1.1.0 revoked, back to 1.0.0") {
		t.Fatalf("gate autorollback: %v\n%s", err, out)
	}
	edited, err := channel.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if c, _ := edited.Channel("agent", "stable"); c.Version != "1.0.0" || !slices.Contains(c.Revoked, "1.1.0") {
		t.Fatalf("channel after autorollback: %+v", c)
	}
	if out, err := runSlipway(t, args...); err != nil || !strings.Contains(out, "No halted rollout asks for a rollback") {
		t.Fatalf("second autorollback: %v\n%s", err, out)
	}
	st, err := server.OpenStore(t.Context(), server.Config{DataDir: data})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	entries, err := st.ListAudit(t.Context(), store.AuditQuery{Action: store.AuditRollback})
	if err != nil || len(entries) != 1 || entries[0].ActorName != "slipway gate autorollback" {
		t.Fatalf("audit %+v %v", entries, err)
	}
	return edited
}

func writeTemp(t *testing.T, data []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// gateCommands: `slipway plan` shows the halt as drift (exit 2 with
// --detailed-exitcode), `slipway gate status` shows it, `slipway gate
// resume` lifts it.
func gateCommands(t *testing.T, data string, file *channel.File, minisignPub []byte) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "channels.yaml")
	if err := file.Save(path); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(data, "keys", "minisign.pub"), minisignPub, 0o644); err != nil {
		t.Fatal(err)
	}
	common := []string{"--data", data, "--channels", path}
	out, err := runSlipway(t, append([]string{"plan", "--detailed-exitcode"}, common...)...)
	if !strings.Contains(out, "! gate agent/stable: halted by gate failed-updates at ") || !strings.Contains(err.Error(), "exit status 2") {
		t.Fatalf("plan: %v\n%s", err, out)
	}
	if out, err := runSlipway(t, append([]string{"gate", "status"}, common...)...); err != nil || !strings.Contains(out, "machines failed the update") {
		t.Fatalf("gate status: %v\n%s", err, out)
	}
	if out, err := runSlipway(t, append([]string{"gate", "resume", "agent", "stable"}, common...)...); err != nil || !strings.Contains(out, "1.1.0 at step 1") {
		t.Fatalf("gate resume: %v\n%s", err, out)
	}
	if out, _ := runSlipway(t, append([]string{"gate", "status"}, common...)...); strings.Contains(out, "halted") {
		t.Fatalf("still halted after resume:\n%s", out)
	}
}

// TestFleetHealthSample checks the server's health sample on a real SQLite
// fleet: upgraded machines silent for more than 1.5 heartbeat intervals are
// offline, and the baseline is the share of the other recently active
// machines that are as late (long-gone machines do not count).
func TestFleetHealthSample(t *testing.T) {
	ctx := t.Context()
	st, err := server.OpenStore(ctx, server.Config{DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if err := st.CreateTenant(ctx, store.Tenant{ID: "default", Name: "Default"}); err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC().Truncate(time.Second)
	const interval = time.Minute
	machines := []struct {
		version string
		seen    time.Duration // ago
	}{
		{"1.1.0", 10 * time.Second}, {"1.1.0", 30 * time.Second}, {"1.1.0", 2 * time.Minute}, {"1.1.0", 100 * time.Second},
		{"1.0.0", 5 * time.Second}, {"1.0.0", 20 * time.Second}, {"1.0.0", 50 * time.Second}, {"1.0.0", 2 * time.Minute},
		{"1.0.0", 48 * time.Hour}, {"1.0.0", 72 * time.Hour}, // long gone: not in the baseline
	}
	var hbs []store.Heartbeat
	for i, m := range machines {
		id := "m" + string(rune('a'+i))
		tok := store.Token{Hash: []byte{byte(i), 'h'}, CreatedAt: now.Add(-96 * time.Hour), ExpiresAt: now.Add(time.Hour)}
		if _, _, err := st.RegisterMachine(ctx, store.Machine{ID: id, TenantID: "default", Hostname: id, Source: "agent",
			CreatedAt: now.Add(-96 * time.Hour), UpdatedAt: now.Add(-96 * time.Hour)}, tok); err != nil {
			t.Fatal(err)
		}
		hbs = append(hbs, store.Heartbeat{MachineID: id, At: now.Add(-m.seen), Status: "ok", AgentVersion: m.version})
	}
	if err := st.RecordHeartbeats(ctx, hbs); err != nil {
		t.Fatal(err)
	}
	s, err := newFleetHealth(st, interval, 3*interval).Sample(ctx, "agent", "1.1.0", now)
	if err != nil {
		t.Fatal(err)
	}
	// Upgraded: 4, of which 2 silent (> 90 s). Others recently active: 4
	// (seen within 3 min), of which 1 late (2 min ago).
	want := gate.Sample{Upgraded: 4, Offline: 2, Baseline: 0.25, Fleet: 10}
	if s != want {
		t.Fatalf("sample %+v, want %+v", s, want)
	}
	if s, _ := newFleetHealth(st, interval, 3*interval).Sample(ctx, "desktop", "1.1.0", now); s != (gate.Sample{}) {
		t.Fatalf("non-agent product sampled %+v", s)
	}
	for hb, want := range map[time.Duration]time.Duration{60 * time.Second: 15 * time.Second, time.Hour: time.Minute, time.Second: time.Second} {
		if got := gateEvery(hb); got != want {
			t.Errorf("gateEvery(%s) = %s, want %s", hb, got, want)
		}
	}
}
