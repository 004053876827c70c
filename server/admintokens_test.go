package server_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/slipwayhq/slipway/internal/pgtest"
	"github.com/slipwayhq/slipway/server"
	"github.com/slipwayhq/slipway/server/store"
	"github.com/slipwayhq/slipway/server/store/postgres"
)

// replica starts another server on st (the same database as e's), sharing
// e's clock, secrets and admin token: a second replica behind the balancer.
func replica(t *testing.T, e *env, st store.Store) *env {
	t.Helper()
	srv, err := server.New(server.Config{DataDir: t.TempDir(), PublicURL: "http://slipway.test", AuthFailureBurst: 1000},
		server.Options{Store: st, Now: e.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv)
	t.Cleanup(func() { ts.Close(); srv.Close() })
	r := *e
	r.t, r.srv, r.ts, r.st = t, srv, ts, st
	return &r
}

// TestAdminTokensAndRoles: the admin token lifecycle and role enforcement
// through the API, on SQLite and on PostgreSQL with two replicas: what one
// replica creates, revokes or rotates is honoured by the other on its next
// request.
func TestAdminTokensAndRoles(t *testing.T) {
	t.Run("sqlite", func(t *testing.T) {
		a := newEnv(t) // SQLite has one server per database
		testAdminTokensAndRoles(t, a, a)
	})
	t.Run("postgres two replicas", func(t *testing.T) {
		url := pgtest.Start(t)
		open := func() store.Store {
			st, err := postgres.Open(t.Context(), url, postgres.Options{})
			if err != nil {
				t.Fatal(err)
			}
			return st
		}
		a := newEnvWith(t, server.Options{Store: open()})
		b := open()
		t.Cleanup(func() { b.Close() })
		testAdminTokensAndRoles(t, a, replica(t, a, b))
	})
}

func testAdminTokensAndRoles(t *testing.T, a, b *env) {
	exp := a.clock.Now().Add(time.Hour).Format(time.RFC3339)
	create := func(e *env, caller, name, role, tenant string, want int) map[string]any {
		t.Helper()
		return expect(t, e.do("POST", "/api/admin/tokens", caller, map[string]any{"name": name, "role": role, "tenantId": tenant, "expiresAt": exp}), want).JSON(t)
	}
	viewer := create(a, a.admin, "dashboards", "viewer", "", http.StatusCreated)
	rm := create(a, a.admin, "release bot", "release-manager", "", http.StatusCreated)
	scoped := create(a, a.admin, "default admin", "admin", "default", http.StatusCreated)
	for _, tok := range []map[string]any{viewer, rm, scoped} {
		if v, _ := tok["token"].(string); !strings.HasPrefix(v, "swa_") || !strings.HasPrefix(v, tok["hint"].(string)) {
			t.Fatalf("created token %v", tok)
		}
	}
	V, R, S := viewer["token"].(string), rm["token"].(string), scoped["token"].(string)

	// Roles, checked on the other replica.
	for _, c := range []struct {
		who, tok, method, path string
		body                   any
		want                   int
	}{
		{"viewer", V, "GET", "/api/admin/machines", nil, 200},
		{"viewer", V, "GET", "/api/admin/audit", nil, 200},
		{"viewer", V, "POST", "/api/admin/tenants", map[string]any{"id": "x", "name": "X"}, 403},
		{"viewer", V, "GET", "/api/admin/tenants/default/secrets", nil, 403},
		{"viewer", V, "GET", "/api/admin/tokens", nil, 403},
		{"release manager", R, "GET", "/api/admin/tenants", nil, 200},
		{"release manager", R, "GET", "/api/admin/tenants/default/secrets", nil, 403},
		{"release manager", R, "POST", "/api/admin/tokens", map[string]any{"name": "x", "role": "viewer", "expiresAt": exp}, 403},
		{"scoped admin", S, "GET", "/api/admin/tenants/default/secrets", nil, 200},
		{"scoped admin", S, "POST", "/api/admin/tokens", map[string]any{"name": "x", "role": "viewer", "expiresAt": exp}, 403},
		{"scoped admin", S, "POST", "/api/admin/tokens", map[string]any{"name": "x", "role": "viewer", "tenantId": "default", "expiresAt": exp}, 201},
	} {
		r := expect(t, b.do(c.method, c.path, c.tok, c.body), c.want)
		if c.want == 403 && !strings.Contains(r.JSON(t)["message"].(string), "may not") && r.JSON(t)["field"] == nil {
			t.Errorf("%s %s %s: unclear refusal %s", c.who, c.method, c.path, r.Body)
		}
	}
	// Every refusal is in the audit log.
	denied := expect(t, a.do("GET", "/api/admin/audit?action=denied", a.admin, nil), 200).JSON(t)["items"].([]any)
	if len(denied) != 6 {
		t.Errorf("%d denied entries, want 6: %v", len(denied), denied)
	}

	// Listing shows hints, never secrets.
	list := expect(t, b.do("GET", "/api/admin/tokens", a.admin, nil), 200)
	if strings.Contains(string(list.Body), V) || strings.Contains(string(list.Body), `"token"`) {
		t.Fatal("listing shows a secret")
	}
	if n := len(list.JSON(t)["tokens"].([]any)); n != 5 {
		t.Fatalf("%d tokens listed, want 5", n)
	}
	scopedList := expect(t, b.do("GET", "/api/admin/tokens", S, nil), 200).JSON(t)["tokens"].([]any)
	if len(scopedList) != 2 {
		t.Fatalf("scoped admin sees %d tokens, want its tenant's 2", len(scopedList))
	}

	// Revoked on one replica: refused by the other at once.
	expect(t, a.do("POST", "/api/admin/tokens/"+viewer["id"].(string)+"/revoke", a.admin, nil), 200)
	expect(t, b.do("GET", "/api/admin/machines", V, nil), 401)
	expect(t, b.do("POST", "/api/admin/tokens/"+viewer["id"].(string)+"/revoke", a.admin, nil), 409)
	// Rotated on the other: the old secret stops, the new one works with the same role.
	fresh := expect(t, b.do("POST", "/api/admin/tokens/"+rm["id"].(string)+"/rotate", a.admin, nil), 201).JSON(t)
	expect(t, a.do("GET", "/api/admin/tenants", R, nil), 401)
	expect(t, a.do("GET", "/api/admin/tenants", fresh["token"].(string), nil), 200)
	expect(t, a.do("GET", "/api/admin/tenants/default/secrets", fresh["token"].(string), nil), 403)
	// Expired tokens are refused; the bootstrap token (no expiry) is not.
	a.clock.Add(2 * time.Hour)
	expect(t, b.do("GET", "/api/admin/tenants", fresh["token"].(string), nil), 401)
	expect(t, b.do("GET", "/api/admin/tenants", a.admin, nil), 200)
	// Bad requests.
	for _, body := range []map[string]any{
		{"name": "x", "role": "owner", "expiresAt": exp},
		{"name": "x", "role": "viewer"},
		{"name": "x", "role": "viewer", "expiresAt": a.clock.Now().Add(-time.Minute).Format(time.RFC3339)},
		{"name": "x", "role": "viewer", "expiresAt": a.clock.Now().Add(3 * 365 * 24 * time.Hour).Format(time.RFC3339)},
		{"name": "", "role": "viewer", "expiresAt": a.clock.Now().Add(time.Hour).Format(time.RFC3339)},
		{"name": "x", "role": "viewer", "tenantId": "nope", "expiresAt": a.clock.Now().Add(time.Hour).Format(time.RFC3339)},
	} {
		expect(t, a.do("POST", "/api/admin/tokens", a.admin, body), 400)
	}
}
