package server_test

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

func ids(t *testing.T, r response) []string {
	t.Helper()
	var out []string
	for _, it := range r.JSON(t)["items"].([]any) {
		out = append(out, it.(map[string]any)["hostname"].(string))
	}
	return out
}

func TestAdminListFiltersAndPagination(t *testing.T) {
	e := newEnv(t)
	for i := range 5 {
		e.register(e.secret, fmt.Sprintf("lin-%d", i), fmt.Sprintf("L%d", i))
	}
	win := e.do("POST", "/api/machines/register", "", map[string]any{"provisioningSecret": e.secret, "hostname": "win-0",
		"os": map[string]any{"name": "Windows"}, "serialNumbers": []string{"W0"}}).JSON(t)
	// win-0 heartbeats with a version now; everybody else goes stale, then lin-0 offline.
	e.clock.Add(10 * time.Minute)
	expect(t, e.do("POST", "/api/machines/heartbeat", win["machineToken"].(string), map[string]any{"agentVersion": "2.0.0"}), http.StatusOK)
	tests := []struct {
		query string
		want  string
	}{
		{"", "lin-0 lin-1 lin-2 lin-3 lin-4 win-0"},
		{"?os=windows", "win-0"},
		{"?agentVersion=2.0.0", "win-0"},
		{"?status=online", "win-0"},
		{"?status=stale", "lin-0 lin-1 lin-2 lin-3 lin-4"},
		{"?status=offline", ""},
		{"?q=LIN-3", "lin-3"},
		{"?q=w0", "win-0"},
		{"?tenant=default&limit=100", "lin-0 lin-1 lin-2 lin-3 lin-4 win-0"},
		{"?tenant=other", ""},
	}
	for _, tc := range tests {
		got := strings.Join(ids(t, expect(t, e.do("GET", "/api/admin/machines"+tc.query, e.admin, nil), http.StatusOK)), " ")
		if got != tc.want {
			t.Errorf("%q: got %q, want %q", tc.query, got, tc.want)
		}
	}
	e.clock.Add(25 * time.Hour)
	if got := ids(t, e.do("GET", "/api/admin/machines?status=offline", e.admin, nil)); len(got) != 6 {
		t.Errorf("offline after 25h: %v", got)
	}
	// Cursor pagination walks every machine exactly once.
	var seen []string
	cursor := ""
	for page := 0; ; page++ {
		r := expect(t, e.do("GET", "/api/admin/machines?limit=2&cursor="+url.QueryEscape(cursor), e.admin, nil), http.StatusOK)
		seen = append(seen, ids(t, r)...)
		next, _ := r.JSON(t)["nextCursor"].(string)
		if next == "" {
			break
		}
		if page > 5 {
			t.Fatal("pagination does not end")
		}
		cursor = next
	}
	if strings.Join(seen, " ") != "lin-0 lin-1 lin-2 lin-3 lin-4 win-0" {
		t.Fatalf("pages: %v", seen)
	}
	for _, bad := range []string{"?status=asleep", "?limit=0", "?limit=501", "?limit=x", "?cursor=!!!", "?q=" + strings.Repeat("a", 200)} {
		expect(t, e.do("GET", "/api/admin/machines"+bad, e.admin, nil), http.StatusBadRequest)
	}
}

func TestAdminMachineDetailDelete(t *testing.T) {
	e := newEnv(t)
	m := e.register(e.secret, "detail-1", "D1")
	expect(t, e.do("POST", "/api/machines/heartbeat", m.Token, map[string]any{"agentVersion": "1.0.0", "metrics": map[string]any{"cpu": 33}}), http.StatusOK)
	r := expect(t, e.do("GET", "/api/admin/machines/"+m.ID, e.admin, nil), http.StatusOK)
	checkGolden(t, "TestAdminMachineDetail", r.Body, "id")
	expect(t, e.do("GET", "/api/admin/machines/nope", e.admin, nil), http.StatusNotFound)
	expect(t, e.do("DELETE", "/api/admin/machines/"+m.ID, e.admin, nil), http.StatusNoContent)
	expect(t, e.do("GET", "/api/admin/machines/"+m.ID, e.admin, nil), http.StatusNotFound)
	expect(t, e.do("DELETE", "/api/admin/machines/"+m.ID, e.admin, nil), http.StatusNotFound)
	expect(t, e.do("POST", "/api/machines/heartbeat", m.Token, map[string]any{}), http.StatusUnauthorized)
}

func TestAdminTenantsAndSecrets(t *testing.T) {
	e := newEnv(t)
	created := expect(t, e.do("POST", "/api/admin/tenants", e.admin, map[string]any{"id": "acme", "name": "ACME Corp"}), http.StatusCreated).JSON(t)
	sec := created["provisioningSecret"].(map[string]any)
	value := sec["secret"].(string)
	if !strings.HasPrefix(value, "swp_") || sec["hint"] != value[:8] {
		t.Fatalf("created: %v", created)
	}
	expect(t, e.do("POST", "/api/admin/tenants", e.admin, map[string]any{"id": "acme", "name": "again"}), http.StatusConflict)
	if got := expect(t, e.do("GET", "/api/admin/tenants", e.admin, nil), http.StatusOK).JSON(t)["items"].([]any); len(got) != 2 {
		t.Fatalf("tenants: %v", got)
	}
	expect(t, e.do("GET", "/api/admin/tenants/acme", e.admin, nil), http.StatusOK)
	expect(t, e.do("GET", "/api/admin/tenants/nope", e.admin, nil), http.StatusNotFound)
	// Listing never shows values.
	list := expect(t, e.do("GET", "/api/admin/tenants/acme/secrets", e.admin, nil), http.StatusOK)
	if strings.Contains(string(list.Body), value) || strings.Contains(string(list.Body), `"secret"`) {
		t.Fatalf("secret value listed: %s", list.Body)
	}
	m := e.register(value, "acme-1", "A1")
	// Rotate: the new value works, the old one no longer registers.
	rot := expect(t, e.do("POST", "/api/admin/tenants/acme/secrets/"+sec["id"].(string)+"/rotate", e.admin, nil), http.StatusCreated).JSON(t)
	expect(t, e.do("POST", "/api/machines/register", "", registerBody(value, "acme-2", "A2")), http.StatusUnauthorized)
	e.register(rot["secret"].(string), "acme-2", "A2")
	// Existing machine tokens survive a secret rotation.
	expect(t, e.do("POST", "/api/machines/heartbeat", m.Token, map[string]any{}), http.StatusOK)
	// Revoke.
	expect(t, e.do("DELETE", "/api/admin/tenants/acme/secrets/"+rot["id"].(string), e.admin, nil), http.StatusNoContent)
	expect(t, e.do("POST", "/api/machines/register", "", registerBody(rot["secret"].(string), "acme-3", "A3")), http.StatusUnauthorized)
	expect(t, e.do("DELETE", "/api/admin/tenants/default/secrets/"+rot["id"].(string), e.admin, nil), http.StatusNotFound)
	items := expect(t, e.do("GET", "/api/admin/tenants/acme/secrets", e.admin, nil), http.StatusOK).JSON(t)["items"].([]any)
	for _, it := range items {
		if it.(map[string]any)["revokedAt"] == nil {
			t.Fatalf("secret not revoked: %v", it)
		}
	}
}

// TestTenantIsolation: one tenant's credentials never reach another's machines.
func TestTenantIsolation(t *testing.T) {
	e := newEnv(t)
	acme := expect(t, e.do("POST", "/api/admin/tenants", e.admin, map[string]any{"id": "acme", "name": "ACME"}), http.StatusCreated).JSON(t)
	acmeSecret := acme["provisioningSecret"].(map[string]any)["secret"].(string)
	d := e.register(e.secret, "default-1", "SAME-SERIAL")
	a := e.register(acmeSecret, "acme-1", "SAME-SERIAL")
	if a.ID == d.ID {
		t.Fatal("same hardware in two tenants shares a machine")
	}
	me := expect(t, e.do("GET", "/api/machines/me", a.Token, nil), http.StatusOK).JSON(t)
	if me["machineId"] != a.ID || me["tenant"].(map[string]any)["id"] != "acme" {
		t.Fatalf("me: %v", me)
	}
	// Fleet sync with acme's secret only touches acme's machines.
	r := expect(t, e.do("POST", "/api/integrations/fleet/hosts", "", fleetHost(t, map[string]any{"hardware_serial": "SAME-SERIAL"}),
		"x-fleet-secret", acmeSecret), http.StatusOK).JSON(t)
	if r["hosts"].([]any)[0].(map[string]any)["machineId"] != a.ID {
		t.Fatalf("fleet matched across tenants: %v", r)
	}
	dm, _ := e.st.GetMachine(t.Context(), d.ID)
	if dm.Fleet != nil {
		t.Fatal("default machine got acme's fleet data")
	}
	// Fleet host matching default's hostname, synced to acme, becomes an acme inventory-only machine.
	r = expect(t, e.do("POST", "/api/integrations/fleet/hosts", "", fleetHost(t, map[string]any{"hardware_serial": "", "uuid": "", "primary_mac": "", "hostname": "default-1"}),
		"x-fleet-secret", acmeSecret), http.StatusOK).JSON(t)
	if r["created"].(float64) != 1 {
		t.Fatalf("hostname matched across tenants: %v", r)
	}
	// A tenant-scoped admin token sees only its tenant.
	scoped := e.scopedAdmin("acme")
	if got := ids(t, expect(t, e.do("GET", "/api/admin/machines", scoped, nil), http.StatusOK)); len(got) != 2 {
		t.Fatalf("scoped list: %v", got)
	}
	expect(t, e.do("GET", "/api/admin/machines?tenant=default", scoped, nil), http.StatusForbidden)
	expect(t, e.do("GET", "/api/admin/machines/"+d.ID, scoped, nil), http.StatusNotFound)
	expect(t, e.do("DELETE", "/api/admin/machines/"+d.ID, scoped, nil), http.StatusNotFound)
	expect(t, e.do("POST", "/api/admin/machines/"+d.ID+"/token/rotate", scoped, nil), http.StatusNotFound)
	expect(t, e.do("GET", "/api/admin/tenants/default/secrets", scoped, nil), http.StatusNotFound)
	expect(t, e.do("POST", "/api/admin/tenants", scoped, map[string]any{"id": "x", "name": "x"}), http.StatusForbidden)
	if got := expect(t, e.do("GET", "/api/admin/tenants", scoped, nil), http.StatusOK).JSON(t)["items"].([]any); len(got) != 1 {
		t.Fatalf("scoped tenants: %v", got)
	}
	// The default machine is untouched and still works.
	expect(t, e.do("POST", "/api/machines/heartbeat", d.Token, map[string]any{}), http.StatusOK)
	// A machine token is not an admin token, and vice versa.
	expect(t, e.do("GET", "/api/admin/machines", d.Token, nil), http.StatusUnauthorized)
	expect(t, e.do("POST", "/api/machines/heartbeat", e.admin, map[string]any{}), http.StatusUnauthorized)
}

func TestOpsEndpointsAndCORS(t *testing.T) {
	e := newEnv(t)
	expect(t, e.do("GET", "/healthz", "", nil), http.StatusOK)
	expect(t, e.do("GET", "/readyz", "", nil), http.StatusOK)
	e.register(e.secret, "m", "M1")
	metrics := expect(t, e.do("GET", "/metrics", "", nil), http.StatusOK)
	for _, want := range []string{`slipway_http_requests_total{code="201",method="POST",route="/api/machines/register"} 1`, "slipway_heartbeats_persisted_total 1", "go_goroutines"} {
		if !strings.Contains(string(metrics.Body), want) {
			t.Errorf("metrics lack %q", want)
		}
	}
	expect(t, e.do("GET", "/nope", "", nil), http.StatusNotFound)
	expect(t, e.do("PUT", "/api/machines/register", "", nil), http.StatusMethodNotAllowed)
	for _, origin := range []string{"tauri://localhost", "http://tauri.localhost", "http://localhost:1420", "https://admin.example.com"} {
		r := expect(t, e.do("OPTIONS", "/api/machines/me", "", nil, "Origin", origin, "Access-Control-Request-Method", "GET"), http.StatusNoContent)
		if r.Header.Get("Access-Control-Allow-Origin") != origin || r.Header.Get("Access-Control-Allow-Credentials") != "true" ||
			!strings.Contains(r.Header.Get("Access-Control-Allow-Headers"), "Authorization") {
			t.Errorf("preflight from %s: %v", origin, r.Header)
		}
		if got := e.do("GET", "/healthz", "", nil, "Origin", origin).Header.Get("Access-Control-Allow-Origin"); got != origin {
			t.Errorf("simple request from %s: allow-origin %q", origin, got)
		}
	}
	r := e.do("OPTIONS", "/api/machines/me", "", nil, "Origin", "https://evil.example.com", "Access-Control-Request-Method", "GET")
	if r.Header.Get("Access-Control-Allow-Origin") != "" {
		t.Errorf("evil origin allowed: %v", r.Header)
	}
}
