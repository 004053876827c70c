package storetest

import (
	"fmt"
	"testing"
	"time"

	"github.com/slipwayhq/slipway/server/store"
)

// RunStats checks store.StatsStore; call it from implementations that have it.
func RunStats(t *testing.T, newStore func(t *testing.T) store.Store) {
	s := newStore(t)
	ss, ok := s.(store.StatsStore)
	if !ok {
		t.Fatalf("%T does not implement store.StatsStore", s)
	}
	ctx := t.Context()
	tenant(t, s, "a")
	tenant(t, s, "b")
	for _, id := range []string{"m1", "m2", "m3", "m4"} {
		register(t, s, machine("a", id, "fp"+id), "t"+id)
	}
	register(t, s, machine("b", "x1", "fpx"), "tx")
	upd := func(result, version string, at time.Time) []byte {
		return fmt.Appendf(nil, `{"os":"linux","agent":{"version":"x","update":{"installed":%q,"result":%q,"at":%q}}}`,
			version, result, at.Format(time.RFC3339Nano))
	}
	now := t0.Add(24 * time.Hour)
	must(t, s.RecordHeartbeats(ctx, []store.Heartbeat{
		{MachineID: "m1", At: now.Add(-time.Minute), Status: "ok", AgentVersion: "1.0.0"},
		{MachineID: "m2", At: now.Add(-2 * time.Minute), Status: "ok", AgentVersion: "1.1.0",
			Inventory: upd(store.UpdateHealthy, "1.1.0", now.Add(-10*time.Minute))},
		{MachineID: "m3", At: now.Add(-2 * time.Hour), Status: "ok", AgentVersion: "1.0.0",
			Inventory: upd(store.UpdateRolledBack, "1.1.0", now.Add(-3*time.Hour))},
		{MachineID: "m4", At: now.Add(-48 * time.Hour), Status: "ok", AgentVersion: "1.0.0",
			Inventory: upd(store.UpdateFailed, "1.1.0", now.Add(-49*time.Hour))},
		{MachineID: "x1", At: now, Status: "ok", AgentVersion: "9.9.9"},
	}))
	// The self-update also arrives with a registration (a new machine, and
	// an existing one re-registering), and an inventory without
	// agent.update keeps the last one known.
	m5 := machine("a", "m5", "fpm5")
	m5.Inventory = upd(store.UpdateFailed, "1.2.0", now.Add(-time.Minute))
	register(t, s, m5, "tm5")
	m3 := machine("a", "m3-again", "fpm3")
	m3.Inventory = upd(store.UpdateRolledBack, "1.2.0", now.Add(-time.Minute))
	register(t, s, m3, "tm3b")
	must(t, s.RecordHeartbeats(ctx, []store.Heartbeat{
		{MachineID: "m2", At: now.Add(-2 * time.Minute), Status: "ok", Inventory: []byte(`{"os":"linux"}`)},
	}))
	got, err := ss.FleetStats(ctx, store.StatsQuery{TenantID: "a", OnlineAfter: now.Add(-5 * time.Minute),
		OfflineBefore: now.Add(-24 * time.Hour), UpdatedAfter: now.Add(-time.Hour), Versions: true})
	must(t, err)
	want := store.FleetStats{Machines: 5, Online: 2, Stale: 1, Offline: 2, Versions: []store.VersionStats{
		{Version: "1.0.0", Machines: 3},
		{Version: "1.1.0", Machines: 1, Updated: 1, Failed: 1},
		{Version: "1.2.0", Failed: 1, RolledBack: 1},
	}}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("FleetStats(a):\n got %+v\nwant %+v", got, want)
	}
	counts, err := ss.FleetStats(ctx, store.StatsQuery{TenantID: "a", OnlineAfter: now.Add(-5 * time.Minute), OfflineBefore: now.Add(-24 * time.Hour)})
	must(t, err)
	if counts.Machines != 5 || counts.Online != 2 || counts.Offline != 2 || counts.Versions != nil {
		t.Fatalf("FleetStats without versions = %+v", counts)
	}
	all, err := ss.FleetStats(ctx, store.StatsQuery{OnlineAfter: now.Add(-5 * time.Minute), OfflineBefore: now.Add(-24 * time.Hour), Versions: true})
	must(t, err)
	if all.Machines != 6 || all.Online != 3 || len(all.Versions) != 4 || all.Versions[1].Updated != 1 {
		t.Fatalf("FleetStats(all) = %+v", all)
	}
}
