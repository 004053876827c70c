package storetest

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/slipwayhq/slipway/server/store"
)

func auditEntry(i int, tenantID string) store.AuditEntry {
	return store.AuditEntry{At: t0.Add(time.Duration(i) * time.Second), TenantID: tenantID, ActorID: "admin-1",
		ActorName: "ops", Action: "revoke-token", Target: fmt.Sprintf("m%d", i), Detail: `{"tokens":1}`, Result: store.AuditOK}
}

// auditTargets lists q's page as "target@tenant" words.
func auditTargets(t *testing.T, s store.Store, q store.AuditQuery) ([]store.AuditEntry, string) {
	t.Helper()
	got, err := s.ListAudit(t.Context(), q)
	must(t, err)
	var words []string
	for _, e := range got {
		words = append(words, e.Target+"@"+e.TenantID)
	}
	return got, strings.Join(words, " ")
}

// testAudit: entries come back newest first, whole, filtered by tenant,
// and a cursor walk visits every entry once; invalid input is refused.
func testAudit(t *testing.T, s store.Store) {
	ctx := t.Context()
	if got, err := s.ListAudit(ctx, store.AuditQuery{}); err != nil || len(got) != 0 {
		t.Fatalf("empty log: %v %v", got, err)
	}
	tenants := []string{"a", "b", ""} // "" is a global action
	for i := range 9 {
		must(t, s.AppendAudit(ctx, auditEntry(i, tenants[i%3])))
	}
	failed := auditEntry(9, "a")
	failed.Action, failed.Result = "pause", "pause failed: channel agent/nightly not found"
	must(t, s.AppendAudit(ctx, failed))

	all, words := auditTargets(t, s, store.AuditQuery{})
	if words != "m9@a m8@ m7@b m6@a m5@ m4@b m3@a m2@ m1@b m0@a" {
		t.Fatalf("all: %s", words)
	}
	got := all[0]
	want := failed
	want.ID = got.ID
	if got != want {
		t.Fatalf("entry round trip:\n got %+v\nwant %+v", got, want)
	}
	for i := 1; i < len(all); i++ {
		if all[i].ID >= all[i-1].ID {
			t.Fatalf("IDs not decreasing: %d after %d", all[i].ID, all[i-1].ID)
		}
	}
	tests := []struct {
		name string
		q    store.AuditQuery
		want string
	}{
		{"tenant", store.AuditQuery{TenantID: "b"}, "m7@b m4@b m1@b"},
		{"unknown tenant", store.AuditQuery{TenantID: "zz"}, ""},
		{"limit", store.AuditQuery{Limit: 2}, "m9@a m8@"},
		{"before", store.AuditQuery{Before: all[2].ID, Limit: 3}, "m6@a m5@ m4@b"},
		{"tenant before", store.AuditQuery{TenantID: "a", Before: all[0].ID}, "m6@a m3@a m0@a"},
		{"before oldest", store.AuditQuery{Before: all[len(all)-1].ID}, ""},
		{"action", store.AuditQuery{Action: "revoke-token", Limit: 3}, "m8@ m7@b m6@a"},
		{"failed", store.AuditQuery{Failed: true}, "m9@a"},
		{"failed pause in a", store.AuditQuery{TenantID: "a", Action: "pause", Failed: true}, "m9@a"},
		{"action elsewhere", store.AuditQuery{TenantID: "b", Action: "pause"}, ""},
	}
	for _, tc := range tests {
		if _, got := auditTargets(t, s, tc.q); got != tc.want {
			t.Errorf("%s: got %q, want %q", tc.name, got, tc.want)
		}
	}
	walkAudit(t, s, "", 3, "m9@a m8@ m7@b m6@a m5@ m4@b m3@a m2@ m1@b m0@a")
	walkAudit(t, s, "a", 2, "m9@a m6@a m3@a m0@a")
	testAuditInvalid(t, s)

	// Pruning deletes exactly the entries older than the cut-off (entry i
	// is at t0+i s), across tenants.
	cut := t0.Add(4 * time.Second)
	before, _ := auditTargets(t, s, store.AuditQuery{Limit: store.MaxAuditLimit})
	var old int64
	for _, e := range before {
		if e.At.Before(cut) {
			old++
		}
	}
	n, err := s.PruneAudit(ctx, cut)
	must(t, err)
	after, words := auditTargets(t, s, store.AuditQuery{Limit: store.MaxAuditLimit})
	if n != 4 || old != 4 || len(after) != len(before)-4 || !strings.HasSuffix(words, "m9@a m8@ m7@b m6@a m5@ m4@b") {
		t.Fatalf("pruned %d of %d old entries: %s", n, old, words)
	}
	if n, err := s.PruneAudit(ctx, t0); err != nil || n != 0 {
		t.Fatalf("second prune: %d, %v", n, err)
	}
}

// walkAudit pages through the tenant's entries with the cursor, as the
// admin API does, and checks that every entry is seen exactly once.
func walkAudit(t *testing.T, s store.Store, tenantID string, limit int, want string) {
	t.Helper()
	var seen []string
	q := store.AuditQuery{TenantID: tenantID, Limit: limit}
	for page := 0; ; page++ {
		got, words := auditTargets(t, s, q)
		if words != "" {
			seen = append(seen, words)
		}
		if len(got) < limit {
			break
		}
		if page > 10 {
			t.Fatal("pagination does not end")
		}
		before, err := store.ParseAuditCursor(store.AuditCursor(got[len(got)-1].ID))
		must(t, err)
		q.Before = before
	}
	if got := strings.Join(seen, " "); got != want {
		t.Errorf("walk %q by %d: got %q, want %q", tenantID, limit, got, want)
	}
}

func testAuditInvalid(t *testing.T, s store.Store) {
	ctx := t.Context()
	before, err := s.ListAudit(ctx, store.AuditQuery{Limit: store.MaxAuditLimit})
	must(t, err)
	bad := map[string]func(e *store.AuditEntry){
		"no time":            func(e *store.AuditEntry) { e.At = time.Time{} },
		"no action":          func(e *store.AuditEntry) { e.Action = "" },
		"action with spaces": func(e *store.AuditEntry) { e.Action = "pause failed" },
		"upper-case action":  func(e *store.AuditEntry) { e.Action = "Pause" },
		"long action":        func(e *store.AuditEntry) { e.Action = strings.Repeat("a", store.MaxAuditAction+1) },
		"no result":          func(e *store.AuditEntry) { e.Result = "" },
		"long tenant":        func(e *store.AuditEntry) { e.TenantID = strings.Repeat("t", store.MaxAuditTenant+1) },
		"long actor id":      func(e *store.AuditEntry) { e.ActorID = strings.Repeat("i", store.MaxAuditActor+1) },
		"long actor name":    func(e *store.AuditEntry) { e.ActorName = strings.Repeat("n", store.MaxAuditActor+1) },
		"long target":        func(e *store.AuditEntry) { e.Target = strings.Repeat("x", store.MaxAuditTarget+1) },
		"long detail":        func(e *store.AuditEntry) { e.Detail = strings.Repeat("d", store.MaxAuditDetail+1) },
		"long result":        func(e *store.AuditEntry) { e.Result = strings.Repeat("r", store.MaxAuditResult+1) },
		"invalid UTF-8":      func(e *store.AuditEntry) { e.Target = "m\xff" },
		"NUL":                func(e *store.AuditEntry) { e.Detail = "a\x00b" },
	}
	for name, mod := range bad {
		e := auditEntry(99, "a")
		mod(&e)
		if err := s.AppendAudit(ctx, e); !errors.Is(err, store.ErrInvalid) {
			t.Errorf("%s: got %v, want ErrInvalid", name, err)
		}
	}
	// At the limits is fine.
	e := auditEntry(100, strings.Repeat("t", store.MaxAuditTenant))
	e.Detail, e.Result = strings.Repeat("d", store.MaxAuditDetail), strings.Repeat("é", store.MaxAuditResult/2)
	must(t, s.AppendAudit(ctx, e))
	after, err := s.ListAudit(ctx, store.AuditQuery{Limit: store.MaxAuditLimit})
	must(t, err)
	if len(after) != len(before)+1 || after[0].Detail != e.Detail || after[0].Result != e.Result {
		t.Fatalf("rejected entries were stored, or the one at the limits was not: %d -> %d", len(before), len(after))
	}
	for _, q := range []store.AuditQuery{{Limit: -1}, {Limit: store.MaxAuditLimit + 1}, {Before: -5},
		{TenantID: strings.Repeat("t", store.MaxAuditTenant+1)}, {Action: "Pause"}, {Action: "x' OR '1'='1"},
		{Action: strings.Repeat("a", store.MaxAuditAction+1)}} {
		if _, err := s.ListAudit(ctx, q); !errors.Is(err, store.ErrInvalid) {
			t.Errorf("query %+v: got %v, want ErrInvalid", q, err)
		}
	}
}
