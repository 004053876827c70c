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
	"github.com/slipwayhq/slipway/server/store/storetest"
)

// oldInventories are inventories as a database from before migration 0002
// holds them, with what the self-update columns must say about each.
var oldInventories = []struct {
	name, version, inventory string
}{
	{"healthy, recent", "1.1.0", `{"agent":{"version":"1.1.0","update":{"installed":"1.1.0","result":"healthy","at":"2026-03-02T11:50:00.123456789Z"}}}`},
	{"installed, offset zone", "1.1.0", `{"agent":{"update":{"installed":"1.1.0","result":"installed","at":"2026-03-02T13:30:00+02:00"}}}`},
	{"installed, too old", "1.1.0", `{"agent":{"update":{"installed":"1.1.0","result":"installed","at":"2026-03-01T09:00:00Z"}}}`},
	{"installed, other version", "1.0.0", `{"agent":{"update":{"installed":"1.1.0","result":"installed","at":"2026-03-02T11:59:00Z"}}}`},
	{"failed, only offered", "1.0.0", `{"agent":{"update":{"available":"1.2.0","result":"failed","at":"2026-03-02T11:00:00Z"}}}`},
	{"rolled back", "1.0.0", `{"agent":{"update":{"installed":"1.2.0","available":"1.2.0","result":"rolled-back"}}}`},
	{"no update", "1.0.0", `{"os":"linux","agent":{"version":"1.0.0"}}`},
	{"no inventory", "", ``},
	{"update not an object", "1.0.0", `{"agent":{"update":"1.2.0"}}`},
	{"result not a string", "1.0.0", `{"agent":{"update":{"installed":"1.2.0","result":7}}}`},
	{"bad time", "1.0.0", `{"agent":{"update":{"installed":"1.2.0","result":"failed","at":"yesterday"}}}`},
	{"zero time", "1.2.0", `{"agent":{"update":{"installed":"1.2.0","result":"healthy","at":"0001-01-01T00:00:00Z"}}}`},
}

// TestMigrationBackfillsUpdateColumns writes machines into a database with
// only the first migration (as an older Slipway left it), opens it with
// this one, and checks that rollout health matches a new database given the
// same machines through the store.
func TestMigrationBackfillsUpdateColumns(t *testing.T) {
	ctx := t.Context()
	oldPath := filepath.Join(t.TempDir(), "old.db")
	writeOldSchema(t, oldPath)
	migrated := open(t, oldPath)
	fresh := open(t, filepath.Join(t.TempDir(), "new.db"))
	if err := fresh.CreateTenant(ctx, store.Tenant{ID: "t"}); err != nil {
		t.Fatal(err)
	}
	for i, c := range oldInventories {
		m := store.Machine{ID: fmt.Sprint("m", i), TenantID: "t", Source: "agent", AgentVersion: c.version}
		if c.inventory != "" {
			m.Inventory = []byte(c.inventory)
		}
		if err := fresh.CreateMachine(ctx, m); err != nil {
			t.Fatal(err)
		}
	}
	now := time.Date(2026, 3, 2, 12, 0, 0, 0, time.UTC)
	q := store.StatsQuery{TenantID: "t", OnlineAfter: now.Add(-5 * time.Minute), OfflineBefore: now.Add(-24 * time.Hour),
		UpdatedAfter: now.Add(-time.Hour), Versions: true}
	want := store.FleetStats{Machines: 12, Offline: 12, Versions: []store.VersionStats{
		{Version: "1.0.0", Machines: 7},
		{Version: "1.1.0", Machines: 3, Updated: 2},
		{Version: "1.2.0", Machines: 1, Failed: 1, RolledBack: 1},
	}}
	for _, c := range []struct {
		name string
		st   store.StatsStore
	}{{"migrated", migrated}, {"new", fresh}} {
		got, err := c.st.FleetStats(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("%s database:\n got %+v\nwant %+v", c.name, got, want)
		}
	}
	// The migrated database keeps the columns current like a new one.
	if err := migrated.RecordHeartbeats(ctx, []store.Heartbeat{{MachineID: "m6", At: now, Status: "ok", AgentVersion: "1.2.0",
		Inventory: []byte(`{"agent":{"update":{"installed":"1.2.0","result":"installed","at":"2026-03-02T11:58:00Z"}}}`)}}); err != nil {
		t.Fatal(err)
	}
	got, err := migrated.FleetStats(ctx, q)
	if err != nil {
		t.Fatal(err)
	}
	if v := got.Versions[2]; v.Version != "1.2.0" || v.Machines != 2 || v.Updated != 1 || got.Online != 1 {
		t.Fatalf("after a heartbeat: %+v", got)
	}
}

// writeOldSchema creates a database at path with only migration 0001 applied
// and oldInventories written straight into it.
func writeOldSchema(t *testing.T, path string) {
	t.Helper()
	schema, err := os.ReadFile(filepath.Join("migrations", "0001_init.sql"))
	if err != nil {
		t.Fatal(err)
	}
	db, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	exec := func(q string, args ...any) {
		t.Helper()
		if _, err := db.ExecContext(t.Context(), q, args...); err != nil {
			t.Fatalf("%.60s: %v", q, err)
		}
	}
	exec("CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)")
	exec(string(schema))
	exec("INSERT INTO schema_migrations (version, applied_at) VALUES (1, 0)")
	exec("INSERT INTO tenants (id, name, created_at) VALUES ('t', '', 0)")
	for i, c := range oldInventories {
		var inv any
		if c.inventory != "" {
			inv = c.inventory
		}
		exec(`INSERT INTO machines (id, tenant_id, fingerprint, hostname, os_name, os_version, os_arch, macs, serials,
			hardware_uuid, source, agent_version, inventory, created_at, updated_at)
			VALUES (?, 't', '', '', '', '', '', '[]', '[]', '', 'agent', ?, ?, 0, 0)`, fmt.Sprint("m", i), c.version, inv)
	}
	exec(`INSERT INTO tokens (hash, machine_id, tenant_id, created_at, expires_at, revoked_at)
		VALUES (?, 'm0', 't', 0, ?, 0)`, oldTokenHash, time.Date(2099, 1, 1, 0, 0, 0, 0, time.UTC).UnixMilli())
}

// oldTokenHash is the hash of the machine token writeOldSchema stores.
var oldTokenHash = []byte("old-token-hash-0123456789abcdef!")

// TestMigrationTokensBecomeAgent checks that migration 0003 gives tokens
// from before client kinds the kind "agent", so a desktop registration of
// the machine leaves them valid.
func TestMigrationTokensBecomeAgent(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "old.db")
	writeOldSchema(t, path)
	s := open(t, path)
	got, err := s.GetToken(ctx, oldTokenHash)
	if err != nil {
		t.Fatal(err)
	}
	if got.Client != store.ClientAgent || got.MachineID != "m0" || !got.RevokedAt.IsZero() {
		t.Fatalf("migrated token = %+v, want an active agent token of m0", got)
	}
	at := time.Date(2026, 3, 2, 12, 0, 0, 0, time.UTC)
	if err := s.ReplaceToken(ctx, store.Token{Hash: []byte("new"), MachineID: "m0", TenantID: "t", Client: "bogus",
		CreatedAt: at, ExpiresAt: at.Add(time.Hour)}); err == nil {
		t.Fatal("a token of an unknown client kind was stored")
	}
}

// TestMigrationSoftwareMachineKey writes software inventory data the way a
// database migrated up to 0013 holds it (text machine IDs in
// machine_software) and opens it: migration 0014 must keep every link,
// hash and history row and page searches in machine ID order.
func TestMigrationSoftwareMachineKey(t *testing.T) {
	path := filepath.Join(t.TempDir(), "old.db")
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=foreign_keys(ON)")
	if err != nil {
		t.Fatal(err)
	}
	exec := func(q string) {
		t.Helper()
		if _, err := db.ExecContext(t.Context(), q); err != nil {
			t.Fatalf("%.60s: %v", q, err)
		}
	}
	exec("CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)")
	names, err := filepath.Glob(filepath.Join("migrations", "*.sql"))
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(names)
	for _, name := range names {
		v, err := strconv.Atoi(strings.SplitN(filepath.Base(name), "_", 2)[0])
		if err != nil || v >= 14 {
			continue
		}
		body, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		exec(string(body))
		exec(fmt.Sprintf("INSERT INTO schema_migrations (version, applied_at) VALUES (%d, 0)", v))
	}
	for _, q := range storetest.SoftwareBeforeKeySQL {
		exec(q)
	}
	db.Close()
	storetest.CheckSoftwareAfterKey(t, open(t, path))
}
