// Package storetest is the conformance suite every store.Store
// implementation must pass: call Run from the implementation's tests.
package storetest

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/slipwayhq/slipway/server/store"
)

// Run runs the whole suite; newStore returns an empty, migrated store that
// is closed by the test's cleanup.
func Run(t *testing.T, newStore func(t *testing.T) store.Store) {
	tests := []struct {
		name string
		f    func(t *testing.T, s store.Store)
	}{
		{"Tenants", testTenants},
		{"Secrets", testSecrets},
		{"RegisterDedupe", testRegisterDedupe},
		{"FindMachine", testFindMachine},
		{"UpdateMachineKeepsHeartbeatFields", testUpdateMachine},
		{"ListMachines", testListMachines},
		{"DeleteMachine", testDeleteMachine},
		{"Tokens", testTokens},
		{"TokenClients", testTokenClients},
		{"Heartbeats", testHeartbeats},
		{"AcknowledgedHeartbeatsStored", testAckedHeartbeatsStored},
		{"Handshakes", testHandshakes},
		{"AdminTokens", testAdminTokens},
		{"SigningKeys", testSigningKeys},
		{"Audit", testAudit},
		{"AdminSessions", testAdminSessions},
		{"SSOSessions", testSSOSessions},
		{"MergeFleetFirst", testMergeFleetFirst},
		{"MergeAgentFirst", testMergeAgentFirst},
		{"MergeRace", testMergeRace},
		{"Leases", testLeases},
		{"SoftwareLists", testSoftwareLists},
		{"SoftwareMerge", testSoftwareMerge},
		{"SoftwareSearch", testSoftwareSearch},
		{"SoftwareSearchPages", testSoftwareSearchPages},
		{"SoftwareInvalid", testSoftwareInvalid},
		{"SoftwareCollect", testSoftwareCollect},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := newStore(t)
			if err := s.Ping(t.Context()); err != nil {
				t.Fatalf("Ping: %v", err)
			}
			tc.f(t, s)
		})
	}
}

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func hash(s string) []byte { h := sha256.Sum256([]byte(s)); return h[:] }

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func tenant(t *testing.T, s store.Store, id string) {
	t.Helper()
	must(t, s.CreateTenant(t.Context(), store.Tenant{ID: id, Name: "Tenant " + id, CreatedAt: t0}))
}

func machine(tenantID, id, fp string) store.Machine {
	return store.Machine{
		ID: id, TenantID: tenantID, Fingerprint: fp, Hostname: "host-" + id,
		OS:           store.OS{Name: "linux", Version: "6.1", Architecture: "amd64"},
		MACAddresses: []string{"aa:bb:cc:dd:ee:01"}, SerialNumbers: []string{"SN-" + id},
		HardwareUUID: "UUID-" + id, Source: "agent", CreatedAt: t0, UpdatedAt: t0,
	}
}

func token(secret, machineID, tenantID string, at time.Time) store.Token {
	return store.Token{Hash: hash(secret), MachineID: machineID, TenantID: tenantID, CreatedAt: at,
		ExpiresAt: at.Add(time.Hour)}
}

func register(t *testing.T, s store.Store, m store.Machine, secret string) store.Machine {
	t.Helper()
	got, _, err := s.RegisterMachine(t.Context(), m, token(secret, m.ID, m.TenantID, m.CreatedAt))
	must(t, err)
	return got
}

func testTenants(t *testing.T, s store.Store) {
	ctx := t.Context()
	tenant(t, s, "b")
	tenant(t, s, "a")
	if err := s.CreateTenant(ctx, store.Tenant{ID: "a", Name: "dup", CreatedAt: t0}); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("duplicate tenant: got %v, want ErrConflict", err)
	}
	got, err := s.GetTenant(ctx, "a")
	must(t, err)
	if got.Name != "Tenant a" || !got.CreatedAt.Equal(t0) {
		t.Fatalf("GetTenant = %+v", got)
	}
	if _, err := s.GetTenant(ctx, "zz"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("missing tenant: got %v", err)
	}
	all, err := s.ListTenants(ctx)
	must(t, err)
	if len(all) != 2 || all[0].ID != "a" || all[1].ID != "b" {
		t.Fatalf("ListTenants = %+v", all)
	}
}

func testSecrets(t *testing.T, s store.Store) {
	ctx := t.Context()
	tenant(t, s, "a")
	tenant(t, s, "b")
	sec := store.Secret{ID: "s1", TenantID: "a", Kind: store.SecretProvisioning, Hash: hash("p1"), Hint: "swp_ab", CreatedAt: t0}
	must(t, s.CreateSecret(ctx, sec))
	must(t, s.CreateSecret(ctx, store.Secret{ID: "s2", TenantID: "a", Kind: store.SecretFleet, Hash: hash("f1"), CreatedAt: t0.Add(time.Second)}))
	dup := sec
	dup.ID = "s3"
	if err := s.CreateSecret(ctx, dup); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("duplicate hash: got %v, want ErrConflict", err)
	}
	got, err := s.FindSecret(ctx, hash("p1"))
	must(t, err)
	if got.ID != "s1" || got.TenantID != "a" || got.Kind != store.SecretProvisioning || got.Hint != "swp_ab" || !got.RevokedAt.IsZero() {
		t.Fatalf("FindSecret = %+v", got)
	}
	if _, err := s.FindSecret(ctx, hash("nope")); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("unknown secret: %v", err)
	}
	if err := s.RevokeSecret(ctx, "b", "s1", t0); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("revoke across tenants: got %v, want ErrNotFound", err)
	}
	must(t, s.RevokeSecret(ctx, "a", "s1", t0.Add(time.Minute)))
	must(t, s.RevokeSecret(ctx, "a", "s1", t0.Add(time.Hour))) // idempotent, keeps first time
	got, err = s.FindSecret(ctx, hash("p1"))
	must(t, err)
	if !got.RevokedAt.Equal(t0.Add(time.Minute)) {
		t.Fatalf("RevokedAt = %v", got.RevokedAt)
	}
	list, err := s.ListSecrets(ctx, "a")
	must(t, err)
	if len(list) != 2 || list[0].ID != "s1" || list[1].ID != "s2" {
		t.Fatalf("ListSecrets = %+v", list)
	}
	if list, _ := s.ListSecrets(ctx, "b"); len(list) != 0 {
		t.Fatalf("tenant b sees secrets: %+v", list)
	}
}

func testRegisterDedupe(t *testing.T, s store.Store) {
	ctx := t.Context()
	tenant(t, s, "a")
	tenant(t, s, "b")
	m := machine("a", "m1", "fp1")
	m.Inventory = []byte(`{"k":1}`)
	got, created, err := s.RegisterMachine(ctx, m, token("tok1", "m1", "a", t0))
	must(t, err)
	if !created || got.ID != "m1" {
		t.Fatalf("first register: created=%v id=%s", created, got.ID)
	}
	if _, err := s.GetToken(ctx, hash("tok1")); err != nil { // read before re-registration
		t.Fatal(err)
	}
	again := machine("a", "m2", "fp1")
	again.Hostname = "renamed"
	again.UpdatedAt = t0.Add(time.Minute)
	got, created, err = s.RegisterMachine(ctx, again, token("tok2", "m2", "a", t0.Add(time.Minute)))
	must(t, err)
	if created || got.ID != "m1" || got.Hostname != "renamed" || string(got.Inventory) != `{"k":1}` {
		t.Fatalf("re-register: created=%v machine=%+v", created, got)
	}
	old, err := s.GetToken(ctx, hash("tok1"))
	must(t, err)
	if !old.RevokedAt.Equal(t0.Add(time.Minute)) {
		t.Fatalf("old token not revoked: %+v", old)
	}
	fresh, err := s.GetToken(ctx, hash("tok2"))
	must(t, err)
	if fresh.MachineID != "m1" || fresh.TenantID != "a" || !fresh.RevokedAt.IsZero() || !fresh.ExpiresAt.Equal(t0.Add(time.Minute+time.Hour)) {
		t.Fatalf("new token = %+v", fresh)
	}
	// Same fingerprint in another tenant is another machine.
	_, created, err = s.RegisterMachine(ctx, machine("b", "m3", "fp1"), token("tok3", "m3", "b", t0))
	must(t, err)
	if !created {
		t.Fatal("fingerprint matched across tenants")
	}
	stored, err := s.GetMachine(ctx, "m1")
	must(t, err)
	if stored.Hostname != "renamed" || len(stored.SerialNumbers) != 1 || stored.SerialNumbers[0] != "SN-m2" {
		t.Fatalf("stored = %+v", stored)
	}
}

func testFindMachine(t *testing.T, s store.Store) {
	ctx := t.Context()
	tenant(t, s, "a")
	tenant(t, s, "b")
	register(t, s, machine("a", "m1", "fp1"), "t1")
	inv := machine("a", "m2", "")
	inv.Source, inv.SerialNumbers, inv.HardwareUUID, inv.Hostname = "fleet", []string{"X1", "X2"}, "", "Laptop.Local"
	must(t, s.CreateMachine(ctx, inv))
	register(t, s, machine("b", "m3", "fp3"), "t3")
	tests := []struct {
		tenant string
		kind   store.IdentifierKind
		value  string
		want   string
	}{
		{"a", store.BySerial, "SN-m1", "m1"},
		{"a", store.BySerial, "X2", "m2"},
		{"a", store.BySerial, "SN-m3", ""},
		{"b", store.BySerial, "SN-m3", "m3"},
		{"a", store.ByUUID, "uuid-M1", "m1"},
		{"a", store.ByUUID, "", ""},
		{"a", store.ByHostname, "laptop.local", "m2"},
		{"b", store.ByHostname, "laptop.local", ""},
	}
	for _, tc := range tests {
		got, err := s.FindMachine(ctx, tc.tenant, tc.kind, tc.value)
		if tc.want == "" {
			if !errors.Is(err, store.ErrNotFound) {
				t.Errorf("FindMachine(%s,%s,%q): got %v, %v; want ErrNotFound", tc.tenant, tc.kind, tc.value, got.ID, err)
			}
			continue
		}
		if err != nil || got.ID != tc.want {
			t.Errorf("FindMachine(%s,%s,%q) = %q, %v; want %q", tc.tenant, tc.kind, tc.value, got.ID, err, tc.want)
		}
	}
}

func testUpdateMachine(t *testing.T, s store.Store) {
	ctx := t.Context()
	tenant(t, s, "a")
	m := register(t, s, machine("a", "m1", "fp1"), "t1")
	must(t, s.RecordHeartbeats(ctx, []store.Heartbeat{{MachineID: "m1", At: t0.Add(time.Minute), Status: "ok",
		AgentVersion: "1.0.0", Metrics: []byte(`{"cpu":1}`), Inventory: []byte(`{"inv":1}`)}}))
	m.Hostname, m.SerialNumbers, m.Fleet, m.UpdatedAt = "new", []string{"NEW"}, []byte(`{"id":7}`), t0.Add(time.Hour)
	must(t, s.UpdateMachine(ctx, m))
	got, err := s.GetMachine(ctx, "m1")
	must(t, err)
	if got.Hostname != "new" || string(got.Fleet) != `{"id":7}` || got.AgentVersion != "1.0.0" ||
		string(got.Metrics) != `{"cpu":1}` || string(got.Inventory) != `{"inv":1}` || !got.LastSeenAt.Equal(t0.Add(time.Minute)) {
		t.Fatalf("after update: %+v", got)
	}
	if f, err := s.FindMachine(ctx, "a", store.BySerial, "NEW"); err != nil || f.ID != "m1" {
		t.Fatalf("serial index not updated: %v %v", f.ID, err)
	}
	if _, err := s.FindMachine(ctx, "a", store.BySerial, "SN-m1"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("old serial still matches: %v", err)
	}
	m.ID = "missing"
	if err := s.UpdateMachine(ctx, m); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("update missing: %v", err)
	}
}

func testListMachines(t *testing.T, s store.Store) {
	ctx := t.Context()
	tenant(t, s, "a")
	tenant(t, s, "b")
	for i := range 7 {
		m := machine("a", fmt.Sprintf("m%d", i), fmt.Sprintf("fp%d", i))
		if i%2 == 1 {
			m.OS.Name = "Windows"
		}
		register(t, s, m, fmt.Sprintf("t%d", i))
	}
	register(t, s, machine("b", "x1", "fpx"), "tx")
	must(t, s.RecordHeartbeats(ctx, []store.Heartbeat{
		{MachineID: "m1", At: t0.Add(10 * time.Minute), Status: "ok", AgentVersion: "2.0.0"},
		{MachineID: "m2", At: t0.Add(time.Minute), Status: "ok", AgentVersion: "1.0.0"},
	}))
	ids := func(f store.MachineFilter) string {
		t.Helper()
		ms, err := s.ListMachines(ctx, f)
		must(t, err)
		var out []byte
		for _, m := range ms {
			out = append(out, m.ID...)
			out = append(out, ' ')
		}
		return string(out)
	}
	tests := []struct {
		name string
		f    store.MachineFilter
		want string
	}{
		{"all", store.MachineFilter{}, "m0 m1 m2 m3 m4 m5 m6 x1 "},
		{"tenant", store.MachineFilter{TenantID: "b"}, "x1 "},
		{"page1", store.MachineFilter{TenantID: "a", Limit: 3}, "m0 m1 m2 "},
		{"page2", store.MachineFilter{TenantID: "a", Limit: 3, After: "m2"}, "m3 m4 m5 "},
		{"page3", store.MachineFilter{TenantID: "a", Limit: 3, After: "m5"}, "m6 "},
		{"os", store.MachineFilter{OSName: "windows"}, "m1 m3 m5 "},
		{"version", store.MachineFilter{AgentVersion: "2.0.0"}, "m1 "},
		{"online", store.MachineFilter{SeenAfter: t0.Add(5 * time.Minute)}, "m1 "},
		{"stale", store.MachineFilter{SeenAfter: t0, SeenBefore: t0.Add(5 * time.Minute)}, "m2 "},
		{"never", store.MachineFilter{TenantID: "a", SeenBefore: t0}, "m0 m3 m4 m5 m6 "},
		{"query host", store.MachineFilter{Query: "HOST-M4"}, "m4 "},
		{"query serial", store.MachineFilter{Query: "sn-x"}, "x1 "},
		{"query wildcard is literal", store.MachineFilter{Query: "%"}, ""},
	}
	for _, tc := range tests {
		if got := ids(tc.f); got != tc.want {
			t.Errorf("%s: got %q, want %q", tc.name, got, tc.want)
		}
	}
}

func testDeleteMachine(t *testing.T, s store.Store) {
	ctx := t.Context()
	tenant(t, s, "a")
	register(t, s, machine("a", "m1", "fp1"), "t1")
	must(t, s.RecordHeartbeats(ctx, []store.Heartbeat{{MachineID: "m1", At: t0, Status: "ok"}}))
	must(t, s.CreateHandshake(ctx, store.Handshake{CodeHash: hash("c"), MachineID: "m1", TenantID: "a", CreatedAt: t0, ExpiresAt: t0.Add(time.Minute)}))
	if _, err := s.GetToken(ctx, hash("t1")); err != nil { // read before the change
		t.Fatal(err)
	}
	must(t, s.DeleteMachine(ctx, "m1"))
	if err := s.DeleteMachine(ctx, "m1"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("second delete: %v", err)
	}
	if _, err := s.GetToken(ctx, hash("t1")); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("token survived delete: %v", err)
	}
	if n, _ := s.CountHeartbeats(ctx); n != 0 {
		t.Fatalf("heartbeats survived delete: %d", n)
	}
	if _, err := s.ConsumeHandshake(ctx, hash("c"), t0); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("handshake survived delete: %v", err)
	}
	// A new registration with the same fingerprint creates a new machine.
	_, created, err := s.RegisterMachine(ctx, machine("a", "m9", "fp1"), token("t9", "m9", "a", t0))
	must(t, err)
	if !created {
		t.Fatal("deleted machine was reused")
	}
}

func testTokens(t *testing.T, s store.Store) {
	ctx := t.Context()
	tenant(t, s, "a")
	register(t, s, machine("a", "m1", "fp1"), "t1")
	if _, err := s.GetToken(ctx, hash("zz")); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("unknown token: %v", err)
	}
	if cur, err := s.GetToken(ctx, hash("t1")); err != nil || !cur.RevokedAt.IsZero() { // read before the change
		t.Fatalf("t1 before rotation: %+v %v", cur, err)
	}
	sessionsRevokedAt := func(want time.Time) {
		t.Helper()
		if at, err := s.SessionsRevokedAt(ctx, "m1"); err != nil || !at.Equal(want) {
			t.Fatalf("SessionsRevokedAt = %v, %v; want %v", at, err, want)
		}
	}
	sessionsRevokedAt(time.Time{})
	if _, err := s.SessionsRevokedAt(ctx, "nope"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("SessionsRevokedAt of a missing machine: %v", err)
	}
	must(t, s.ReplaceToken(ctx, token("t2", "m1", "a", t0.Add(time.Minute))))
	sessionsRevokedAt(t0.Add(time.Minute))
	if old, _ := s.GetToken(ctx, hash("t1")); old.RevokedAt.IsZero() {
		t.Fatal("rotate did not revoke the old token")
	}
	if err := s.ReplaceToken(ctx, token("t3", "nope", "a", t0)); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("replace for missing machine: %v", err)
	}
	if _, err := s.GetToken(ctx, hash("t2")); err != nil {
		t.Fatal(err)
	}
	n, err := s.RevokeTokens(ctx, "m1", t0.Add(2*time.Minute))
	must(t, err)
	if n != 1 {
		t.Fatalf("RevokeTokens = %d, want 1", n)
	}
	sessionsRevokedAt(t0.Add(2 * time.Minute))
	cur, err := s.GetToken(ctx, hash("t2"))
	must(t, err)
	if !cur.RevokedAt.Equal(t0.Add(2 * time.Minute)) {
		t.Fatalf("t2 = %+v", cur)
	}
}

func testHeartbeats(t *testing.T, s store.Store) {
	ctx := t.Context()
	tenant(t, s, "a")
	register(t, s, machine("a", "m1", "fp1"), "t1")
	register(t, s, machine("a", "m2", "fp2"), "t2")
	must(t, s.RecordHeartbeats(ctx, nil))
	if _, err := s.GetToken(ctx, hash("t1")); err != nil { // read before the change
		t.Fatal(err)
	}
	newExp := t0.Add(48 * time.Hour)
	batch := []store.Heartbeat{
		{MachineID: "m1", TokenHash: hash("t1"), TokenExpiresAt: newExp, At: t0.Add(time.Minute), Status: "ok",
			AgentVersion: "1.0.0", Metrics: []byte(`{"cpu":10}`), Inventory: []byte(`{"a":1}`)},
		{MachineID: "m1", At: t0.Add(2 * time.Minute), Status: "degraded", Metrics: []byte(`{"cpu":90}`)},
		{MachineID: "gone", At: t0, Status: "ok"},
		{MachineID: "m2", At: t0.Add(time.Minute), Status: "ok"},
	}
	must(t, s.RecordHeartbeats(ctx, batch))
	m, err := s.GetMachine(ctx, "m1")
	must(t, err)
	if m.Status != "degraded" || m.AgentVersion != "1.0.0" || string(m.Metrics) != `{"cpu":90}` ||
		string(m.Inventory) != `{"a":1}` || !m.LastSeenAt.Equal(t0.Add(2*time.Minute)) {
		t.Fatalf("machine after heartbeats: %+v", m)
	}
	tok, err := s.GetToken(ctx, hash("t1"))
	must(t, err)
	if !tok.ExpiresAt.Equal(newExp) {
		t.Fatalf("token expiry = %v, want %v", tok.ExpiresAt, newExp)
	}
	// A revoked token is not extended.
	must(t, s.ReplaceToken(ctx, token("t1b", "m1", "a", t0.Add(3*time.Minute))))
	must(t, s.RecordHeartbeats(ctx, []store.Heartbeat{{MachineID: "m1", TokenHash: hash("t1"), TokenExpiresAt: newExp.Add(time.Hour), At: t0.Add(3 * time.Minute), Status: "ok"}}))
	if tok, _ := s.GetToken(ctx, hash("t1")); !tok.ExpiresAt.Equal(newExp) {
		t.Fatalf("revoked token extended to %v", tok.ExpiresAt)
	}
	n, err := s.CountHeartbeats(ctx)
	must(t, err)
	if n != 4 {
		t.Fatalf("CountHeartbeats = %d, want 4", n)
	}
	hist, err := s.ListHeartbeats(ctx, "m1", 2)
	must(t, err)
	if len(hist) != 2 || !hist[0].At.Equal(t0.Add(3*time.Minute)) || hist[1].Status != "degraded" || !bytes.Equal(hist[1].Metrics, []byte(`{"cpu":90}`)) {
		t.Fatalf("ListHeartbeats = %+v", hist)
	}
	pruned, err := s.PruneHeartbeats(ctx, t0.Add(2*time.Minute))
	must(t, err)
	if pruned != 2 {
		t.Fatalf("pruned %d, want 2", pruned)
	}
}

func testHandshakes(t *testing.T, s store.Store) {
	ctx := t.Context()
	tenant(t, s, "a")
	register(t, s, machine("a", "m1", "fp1"), "t1")
	h := store.Handshake{CodeHash: hash("c1"), MachineID: "m1", TenantID: "a", Redirect: "https://portal.example/x",
		CreatedAt: t0, ExpiresAt: t0.Add(time.Minute)}
	must(t, s.CreateHandshake(ctx, h))
	must(t, s.CreateHandshake(ctx, store.Handshake{CodeHash: hash("c2"), MachineID: "m1", TenantID: "a", CreatedAt: t0, ExpiresAt: t0.Add(time.Minute)}))
	if _, err := s.ConsumeHandshake(ctx, hash("c2"), t0.Add(time.Minute)); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("expired code: %v", err)
	}
	// Concurrent consumers: exactly one wins.
	var wg sync.WaitGroup
	var mu sync.Mutex
	wins := 0
	for range 8 {
		wg.Go(func() {
			got, err := s.ConsumeHandshake(ctx, hash("c1"), t0.Add(30*time.Second))
			if err == nil {
				mu.Lock()
				wins++
				mu.Unlock()
				if got.MachineID != "m1" || got.Redirect != h.Redirect || !got.ExpiresAt.Equal(h.ExpiresAt) {
					t.Errorf("consumed %+v", got)
				}
			} else if !errors.Is(err, store.ErrNotFound) {
				t.Errorf("consume: %v", err)
			}
		})
	}
	wg.Wait()
	if wins != 1 {
		t.Fatalf("code consumed %d times, want 1", wins)
	}
}

func testAdminTokens(t *testing.T, s store.Store) {
	ctx := t.Context()
	must(t, s.CreateAdminToken(ctx, store.AdminToken{ID: "a1", Name: "bootstrap", Hash: hash("adm"), CreatedAt: t0}))
	if err := s.CreateAdminToken(ctx, store.AdminToken{ID: "a2", Hash: hash("adm"), CreatedAt: t0}); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("duplicate admin hash: %v", err)
	}
	got, err := s.GetAdminToken(ctx, hash("adm"))
	must(t, err)
	if got.ID != "a1" || got.Name != "bootstrap" || got.TenantID != "" || !got.RevokedAt.IsZero() {
		t.Fatalf("GetAdminToken = %+v", got)
	}
	if _, err := s.GetAdminToken(ctx, hash("x")); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("unknown admin token: %v", err)
	}
	rm := store.AdminToken{ID: "a3", Name: "ci", TenantID: "a", Role: store.RoleReleaseManager, Hint: "swa_ab",
		Hash: hash("rm"), CreatedAt: t0.Add(time.Minute), ExpiresAt: t0.Add(time.Hour)}
	must(t, s.CreateAdminToken(ctx, rm))
	if got, err := s.GetAdminToken(ctx, hash("rm")); err != nil || got.Role != rm.Role || got.Hint != rm.Hint ||
		!got.ExpiresAt.Equal(rm.ExpiresAt) || got.TenantID != "a" {
		t.Fatalf("GetAdminToken = %+v, %v", got, err)
	}
	must(t, s.RevokeAdminToken(ctx, "a3", t0.Add(2*time.Minute)))
	if err := s.RevokeAdminToken(ctx, "a3", t0.Add(3*time.Minute)); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("revoke twice: %v", err)
	}
	if err := s.RevokeAdminToken(ctx, "nope", t0); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("revoke unknown: %v", err)
	}
	list, err := s.ListAdminTokens(ctx)
	must(t, err)
	if len(list) != 2 || list[0].ID != "a1" || list[1].ID != "a3" || !list[1].RevokedAt.Equal(t0.Add(2*time.Minute)) {
		t.Fatalf("ListAdminTokens = %+v", list)
	}
	if list[1].Active(t0.Add(time.Minute)) || !list[0].Active(t0.Add(1000*time.Hour)) {
		t.Fatal("Active is wrong")
	}
}

func testSigningKeys(t *testing.T, s store.Store) {
	ctx := t.Context()
	keys, err := s.SigningKeys(ctx)
	must(t, err)
	if len(keys) != 0 {
		t.Fatalf("fresh store has keys: %d", len(keys))
	}
	must(t, s.CreateSigningKey(ctx, store.SigningKey{ID: "k1", Seed: bytes.Repeat([]byte{1}, 32), CreatedAt: t0}))
	must(t, s.CreateSigningKey(ctx, store.SigningKey{ID: "k2", Seed: bytes.Repeat([]byte{2}, 32), CreatedAt: t0.Add(time.Hour)}))
	keys, err = s.SigningKeys(ctx)
	must(t, err)
	if len(keys) != 2 || keys[0].ID != "k2" || keys[1].Seed[0] != 1 {
		t.Fatalf("SigningKeys = %+v", keys)
	}
	// Compare-and-swap of a seed: only from the current value.
	sealed := bytes.Repeat([]byte{9}, 61)
	must(t, s.ReplaceSigningKeySeed(ctx, "k1", bytes.Repeat([]byte{1}, 32), sealed))
	if err := s.ReplaceSigningKeySeed(ctx, "k1", bytes.Repeat([]byte{1}, 32), bytes.Repeat([]byte{8}, 61)); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("second swap from the old seed: %v, want ErrConflict", err)
	}
	if err := s.ReplaceSigningKeySeed(ctx, "nope", sealed, sealed); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("swap of a missing key: %v, want ErrConflict", err)
	}
	keys, err = s.SigningKeys(ctx)
	must(t, err)
	if !bytes.Equal(keys[1].Seed, sealed) || keys[0].Seed[0] != 2 {
		t.Fatalf("after swap: %+v", keys)
	}
	testRotateSigningKey(t, s)
}

// testRotateSigningKey: a rotation retires the unretired keys with the
// given expiry, keeps already retired keys' expiry, and deletes keys
// dropped by the time of the rotation.
func testRotateSigningKey(t *testing.T, s store.Store) {
	ctx := t.Context()
	t1 := t0.Add(2 * time.Hour)
	must(t, s.RotateSigningKey(ctx, store.SigningKey{ID: "k3", Seed: bytes.Repeat([]byte{3}, 32), CreatedAt: t1}, t1.Add(time.Hour)))
	keys, err := s.SigningKeys(ctx)
	must(t, err)
	if len(keys) != 3 || keys[0].ID != "k3" || !keys[0].RetiredAt.IsZero() || !keys[0].ExpiresAt.IsZero() {
		t.Fatalf("after rotation: %+v", keys)
	}
	for _, k := range keys[1:] {
		if !k.RetiredAt.Equal(t1) || !k.ExpiresAt.Equal(t1.Add(time.Hour)) {
			t.Fatalf("retired key %s: retired %v expires %v", k.ID, k.RetiredAt, k.ExpiresAt)
		}
	}
	// Before the old keys' expiry: they stay, with their own expiry.
	t2 := t1.Add(30 * time.Minute)
	must(t, s.RotateSigningKey(ctx, store.SigningKey{ID: "k4", Seed: bytes.Repeat([]byte{4}, 32), CreatedAt: t2}, t2.Add(time.Hour)))
	keys, err = s.SigningKeys(ctx)
	must(t, err)
	if len(keys) != 4 || keys[0].ID != "k4" || keys[1].ID != "k3" || !keys[1].ExpiresAt.Equal(t2.Add(time.Hour)) ||
		!keys[2].ExpiresAt.Equal(t1.Add(time.Hour)) {
		t.Fatalf("after second rotation: %+v", keys)
	}
	// After it: k1 and k2 are deleted.
	t3 := t1.Add(time.Hour)
	must(t, s.RotateSigningKey(ctx, store.SigningKey{ID: "k5", Seed: bytes.Repeat([]byte{5}, 32), CreatedAt: t3}, t3.Add(time.Hour)))
	keys, err = s.SigningKeys(ctx)
	must(t, err)
	if len(keys) != 3 || keys[0].ID != "k5" || keys[1].ID != "k4" || keys[2].ID != "k3" {
		t.Fatalf("after third rotation: %+v", keys)
	}
	if err := s.RotateSigningKey(ctx, store.SigningKey{ID: "k5", Seed: bytes.Repeat([]byte{6}, 32), CreatedAt: t3.Add(time.Second)}, t3); err == nil {
		t.Fatal("rotation to a duplicate kid succeeded")
	}
	if keys2, _ := s.SigningKeys(ctx); len(keys2) != 3 || !keys2[0].RetiredAt.IsZero() || !keys2[1].RetiredAt.Equal(t3) {
		t.Fatalf("a failed rotation changed keys: %+v", keys2)
	}
}
