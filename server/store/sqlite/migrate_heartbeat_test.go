package sqlite_test

import (
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/slipwayhq/slipway/server/store"
)

// TestMigrationHeartbeatState writes machines and heartbeat history into a
// database with the migrations before 0015 (as the previous release left
// it) and checks that, once migrated, the machines read the same, the
// history is kept, statistics count the same, new heartbeats land in the
// narrow rows and deleting a machine still deletes its history.
func TestMigrationHeartbeatState(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "old.db")
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=foreign_keys(ON)")
	if err != nil {
		t.Fatal(err)
	}
	exec := func(q string, args ...any) {
		t.Helper()
		if _, err := db.ExecContext(ctx, q, args...); err != nil {
			t.Fatalf("%.60s: %v", q, err)
		}
	}
	migrateBelow(t, exec, 15)
	t0 := time.Date(2026, 3, 2, 12, 0, 0, 0, time.UTC)
	exec("INSERT INTO tenants (id, name, created_at) VALUES ('t', '', 0)")
	for i, seen := range []time.Time{t0, t0.Add(-time.Hour), {}} {
		var seenMs int64
		if !seen.IsZero() {
			seenMs = seen.UnixMilli()
		}
		exec(`INSERT INTO machines (id, tenant_id, fingerprint, hostname, os_name, os_version, os_arch, macs, serials,
			hardware_uuid, source, agent_version, status, metrics, last_seen_at, created_at, updated_at)
			VALUES (?, 't', ?, 'h', '', '', '', '[]', '[]', '', 'agent', '1.0.0', 'ok', ?, ?, 0, 0)`,
			fmt.Sprint("m", i), fmt.Sprint("fp", i), fmt.Sprintf(`{"cpu":%d}`, i), seenMs)
	}
	for i := range 3 {
		exec("INSERT INTO heartbeats (machine_id, at, status, agent_version, metrics) VALUES ('m0', ?, 'ok', '1.0.0', ?)",
			t0.Add(time.Duration(i-2)*time.Minute).UnixMilli(), fmt.Sprintf(`{"n":%d}`, i))
	}
	exec("INSERT INTO heartbeats (machine_id, at, status, agent_version, metrics) VALUES ('m1', ?, 'ok', '1.0.0', NULL)",
		t0.Add(-time.Hour).UnixMilli())
	db.Close()

	s := open(t, path)
	m, err := s.GetMachine(ctx, "m0")
	if err != nil || m.Status != "ok" || string(m.Metrics) != `{"cpu":0}` || !m.LastSeenAt.Equal(t0) || m.AgentVersion != "1.0.0" {
		t.Fatalf("migrated machine: %+v %v", m, err)
	}
	if n, err := s.CountHeartbeats(ctx); n != 4 || err != nil {
		t.Fatalf("CountHeartbeats = %d, %v; want 4", n, err)
	}
	hist, err := s.ListHeartbeats(ctx, "m0", 10)
	if err != nil || len(hist) != 3 || string(hist[0].Metrics) != `{"n":2}` || hist[0].MachineID != "m0" || !hist[0].At.Equal(t0) {
		t.Fatalf("migrated history: %+v %v", hist, err)
	}
	q := store.StatsQuery{TenantID: "t", OnlineAfter: t0.Add(-5 * time.Minute), OfflineBefore: t0.Add(-24 * time.Hour)}
	if st, err := s.FleetStats(ctx, q); err != nil || st.Machines != 3 || st.Online != 1 || st.Stale != 1 || st.Offline != 1 {
		t.Fatalf("FleetStats = %+v, %v", st, err)
	}
	// A heartbeat after the migration updates the machine as read.
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(s.RecordHeartbeats(ctx, []store.Heartbeat{{MachineID: "m2", At: t0, Status: "degraded", AgentVersion: "1.1.0",
		Metrics: []byte(`{"cpu":99}`)}}))
	m, err = s.GetMachine(ctx, "m2")
	if err != nil || m.Status != "degraded" || string(m.Metrics) != `{"cpu":99}` || !m.LastSeenAt.Equal(t0) || m.AgentVersion != "1.1.0" {
		t.Fatalf("after a heartbeat: %+v %v", m, err)
	}
	if ms, err := s.ListMachines(ctx, store.MachineFilter{TenantID: "t", SeenAfter: t0.Add(-time.Minute)}); err != nil || len(ms) != 2 {
		t.Fatalf("machines seen in the last minute: %d, %v", len(ms), err)
	}
	// A new machine gets its heartbeat row through the trigger.
	must(s.CreateMachine(ctx, store.Machine{ID: "m3", TenantID: "t", Source: "agent", Status: "ok", LastSeenAt: t0}))
	must(s.RecordHeartbeats(ctx, []store.Heartbeat{{MachineID: "m3", At: t0.Add(time.Second), Status: "ok"}}))
	if hist, err := s.ListHeartbeats(ctx, "m3", 10); err != nil || len(hist) != 1 {
		t.Fatalf("new machine's history: %+v %v", hist, err)
	}
	// Deleting a machine deletes its heartbeat row and history.
	must(s.DeleteMachine(ctx, "m0"))
	if n, err := s.CountHeartbeats(ctx); n != 3 || err != nil {
		t.Fatalf("after deleting m0: %d heartbeats, %v; want 3", n, err)
	}
	if hist, err := s.ListHeartbeats(ctx, "m0", 10); err != nil || len(hist) != 0 {
		t.Fatalf("deleted machine's history: %+v %v", hist, err)
	}
}

// migrateBelow applies the embedded migration files numbered below v, as
// an older release would have.
func migrateBelow(t *testing.T, exec func(string, ...any), v int) {
	t.Helper()
	exec("CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)")
	names, err := filepath.Glob(filepath.Join("migrations", "*.sql"))
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(names)
	for _, name := range names {
		n, err := strconv.Atoi(strings.SplitN(filepath.Base(name), "_", 2)[0])
		if err != nil || n >= v {
			continue
		}
		body, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		exec(string(body))
		exec("INSERT INTO schema_migrations (version, applied_at) VALUES (?, 0)", n)
	}
}

// TestHeartbeatCacheAfterRecreate: the writer remembers each machine's
// heartbeat key and agent version; a machine deleted and created again
// under the same ID (a new key, no version) must still get its heartbeats
// and its version written.
func TestHeartbeatCacheAfterRecreate(t *testing.T) {
	ctx := t.Context()
	s := open(t, filepath.Join(t.TempDir(), "slipway.db"))
	t0 := time.Date(2026, 3, 2, 12, 0, 0, 0, time.UTC)
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(s.CreateTenant(ctx, store.Tenant{ID: "t"}))
	beat := func(at time.Time) {
		t.Helper()
		must(s.RecordHeartbeats(ctx, []store.Heartbeat{{MachineID: "m", At: at, Status: "ok", AgentVersion: "1.0.0"}}))
	}
	must(s.CreateMachine(ctx, store.Machine{ID: "m", TenantID: "t", Source: "agent"}))
	beat(t0)
	beat(t0.Add(time.Second)) // through the cache
	check := func(at time.Time) {
		t.Helper()
		m, err := s.GetMachine(ctx, "m")
		if err != nil || m.AgentVersion != "1.0.0" || !m.LastSeenAt.Equal(at) {
			t.Fatalf("recreated machine: %+v %v", m, err)
		}
		if hist, err := s.ListHeartbeats(ctx, "m", 10); err != nil || len(hist) != 1 {
			t.Fatalf("recreated machine's history: %+v %v", hist, err)
		}
	}
	// Recreated between two heartbeats: the cached key finds nothing.
	must(s.DeleteMachine(ctx, "m"))
	must(s.CreateMachine(ctx, store.Machine{ID: "m", TenantID: "t", Source: "agent"}))
	beat(t0.Add(2 * time.Second))
	check(t0.Add(2 * time.Second))
	// A heartbeat while the machine is gone is dropped.
	must(s.DeleteMachine(ctx, "m"))
	beat(t0.Add(3 * time.Second))
	must(s.CreateMachine(ctx, store.Machine{ID: "m", TenantID: "t", Source: "agent"}))
	beat(t0.Add(4 * time.Second))
	check(t0.Add(4 * time.Second))
}
