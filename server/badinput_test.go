package server_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/slipwayhq/slipway/machineapi"
	"github.com/slipwayhq/slipway/server/store"
	"github.com/slipwayhq/slipway/server/token"
)

// dump serialises everything observable in the store, to prove that a
// rejected request changed nothing.
func (e *env) dump(tokens ...string) string {
	e.t.Helper()
	ctx := e.t.Context()
	var out []any
	tenants, err := e.st.ListTenants(ctx)
	if err != nil {
		e.t.Fatal(err)
	}
	out = append(out, tenants)
	for _, t := range tenants {
		secrets, _ := e.st.ListSecrets(ctx, t.ID)
		out = append(out, secrets)
	}
	machines, _ := e.st.ListMachines(ctx, store.MachineFilter{})
	out = append(out, machines)
	for _, m := range machines {
		sw, _ := e.st.ListMachineSoftware(ctx, m.ID)
		hash, _ := e.st.SoftwareHash(ctx, m.ID, store.OriginAgent)
		out = append(out, sw, hash)
	}
	n, _ := e.st.CountHeartbeats(ctx)
	keys, _ := e.st.SigningKeys(ctx)
	out = append(out, n, len(keys))
	for _, tok := range tokens {
		t, err := e.st.GetToken(ctx, token.Hash(tok))
		out = append(out, t, err == nil)
	}
	b, err := json.Marshal(out)
	if err != nil {
		e.t.Fatal(err)
	}
	return string(b)
}

// wrongTyped returns copies of body with each top-level field replaced by a
// value of another JSON type.
func wrongTyped(body map[string]any) map[string]map[string]any {
	out := map[string]map[string]any{}
	for k, v := range body {
		var bad []any
		switch v.(type) {
		case string:
			bad = []any{12345, true, map[string]any{}}
		case float64, int:
			bad = []any{"str", []any{}}
		case []any, []string:
			bad = []any{"str", []any{1, 2}, map[string]any{}}
		case map[string]any:
			bad = []any{"str", []any{1}, 7}
		case bool:
			bad = []any{"yes", 1}
		}
		for i, b := range bad {
			c := map[string]any{}
			for k2, v2 := range body {
				c[k2] = v2
			}
			c[k] = b
			out[k+"#"+string(rune('0'+i))] = c
		}
	}
	return out
}

func roundTrip(t *testing.T, v any) map[string]any {
	b, _ := json.Marshal(v)
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// endpoint says how to reach a route and what a valid body looks like.
type endpoint struct {
	auth, hdrK, hdrV string
	valid            map[string]any // a valid body, mutated into bad ones; nil: only garbage
	unknownOK        bool           // Fleet payloads accept unknown keys
}

// badBodies are the refused bodies for an endpoint: garbage, truncated,
// oversized, wrong-typed and with unknown fields.
func badBodies(t *testing.T, ep endpoint) map[string]any {
	bodies := map[string]any{
		"binary":      "\x00\xff\xfe garbage",
		"xml":         "<register/>",
		"open brace":  "{",
		"truncated":   `{"hostname": "x", "os": {"name": "li`,
		"array":       "[1, 2]",
		"number":      "42",
		"null":        "null",
		"string":      `"hello"`,
		"two objects": `{} {}`,
		"bad utf8":    "{\"hostname\": \"\xc3\x28\"}",
		"oversized":   `{"hostname": "` + strings.Repeat("a", 17<<20) + `"}`,
	}
	if ep.valid == nil {
		bodies["unknown field"] = map[string]any{"unexpectedField": 1}
		return bodies
	}
	vb, _ := json.Marshal(ep.valid)
	bodies["truncated valid"] = string(vb[:len(vb)/2])
	for name, b := range wrongTyped(ep.valid) {
		bodies["wrong type "+name] = b
	}
	if !ep.unknownOK {
		c := roundTrip(t, ep.valid)
		c["unexpectedField"] = 1
		bodies["unknown field"] = c
	}
	return bodies
}

// TestBadInputChangesNothing feeds garbage, truncated, oversized, wrong-typed
// and unknown-field bodies to every route and checks each is refused with a
// JSON error and leaves the store exactly as it was.
func TestBadInputChangesNothing(t *testing.T) {
	e := newEnv(t)
	m := e.register(e.secret, "victim", "V1")
	expect(t, e.do("POST", "/api/machines/heartbeat", m.Token, map[string]any{}), http.StatusOK)
	secrets, _ := e.st.ListSecrets(t.Context(), "default")
	secretID := secrets[0].ID

	fleetBody := fleetHost(t, map[string]any{"hardware_serial": "NEW1"})
	// The Fleet fields Slipway reads must be well typed; the rest is Fleet's business.
	fleetKnown := map[string]any{}
	for _, k := range []string{"id", "hostname", "uuid", "platform", "os_version", "hardware_serial", "hardware_model",
		"memory", "uptime", "cpu_brand", "cpu_logical_cores", "gigs_disk_space_available", "seen_time", "orbit_version",
		"disk_encryption_enabled", "primary_ip"} {
		fleetKnown[k] = fleetBody[k]
	}
	eps := map[string]endpoint{
		"POST /api/machines/register":  {valid: roundTrip(t, registerAs(registerBody(e.secret, "new", "NEWSERIAL"), "desktop"))},
		"POST /api/machines/heartbeat": {auth: m.Token, valid: map[string]any{"status": "ok", "agentVersion": "9", "metrics": map[string]any{"cpu": 1.0}, "inventory": map[string]any{"a": "b"}}},
		"POST /api/machines/sessions":  {auth: m.Token},
		"POST /api/machines/handshake": {auth: m.Token, valid: map[string]any{"redirect": "https://help.example.com/x"}},
		"GET /api/machines/me":         {auth: m.Token},
		"POST /api/machines/software": {auth: m.Token, valid: roundTrip(t, upload(
			machineapi.SoftwareItem{Name: "bash", Version: "5.2", Source: "deb_packages"}))},
		"POST /api/integrations/fleet/hosts": {hdrK: "x-fleet-secret", hdrV: e.secret, unknownOK: true,
			valid: roundTrip(t, fleetKnown)},
		"POST /api/admin/tenants":                                      {auth: e.admin, valid: map[string]any{"id": "newt", "name": "New"}},
		"POST /api/admin/tenants/{tenantID}/secrets":                   {auth: e.admin, valid: map[string]any{"kind": "fleet"}},
		"POST /api/admin/tenants/{tenantID}/secrets/{secretID}/rotate": {auth: e.admin},
		"DELETE /api/admin/tenants/{tenantID}/secrets/{secretID}":      {auth: e.admin},
		"POST /api/admin/machines/{machineID}/token/revoke":            {auth: e.admin},
		"POST /api/admin/machines/{machineID}/token/rotate":            {auth: e.admin},
		"DELETE /api/admin/machines/{machineID}":                       {auth: e.admin},
		"POST /api/admin/tokens": {auth: e.admin, valid: map[string]any{"name": "ci", "role": "viewer", "tenantId": "default",
			"expiresAt": e.clock.Now().Add(time.Hour).Format(time.RFC3339)}},
		"POST /api/admin/tokens/{tokenID}/revoke":               {auth: e.admin},
		"POST /api/admin/tokens/{tokenID}/rotate":               {auth: e.admin},
		"POST /api/admin/channels/{product}/{channel}/{action}": {auth: e.admin},
		"POST /api/admin/session-keys/rotate":                   {auth: e.admin},
	}
	tokens, _ := e.st.ListAdminTokens(t.Context())
	fill := strings.NewReplacer("{tenantID}", "default", "{secretID}", secretID, "{machineID}", m.ID, "{tokenID}", tokens[0].ID,
		"{product}", "agent", "{channel}", "stable", "{action}", "pause")
	before := e.dump(m.Token)
	// Every routed endpoint is exercised (GETs other than /me carry no body to reject).
	err := chi.Walk(e.srv.Router(), func(method, route string, _ http.Handler, _ ...func(http.Handler) http.Handler) error {
		key := method + " " + route
		ep, ok := eps[key]
		if !ok {
			if method != "GET" {
				t.Errorf("%s has no bad-input cases", key)
			}
			ep = endpoint{auth: e.admin}
		}
		path := fill.Replace(route)
		bodies := badBodies(t, ep)
		if method == "GET" {
			// GET bodies are ignored; garbage must not change anything either.
			bodies = map[string]any{"binary": bodies["binary"]}
		}
		for name, body := range bodies {
			hdr := []string{}
			if ep.hdrK != "" {
				hdr = []string{ep.hdrK, ep.hdrV}
			}
			r := e.do(method, path, ep.auth, body, hdr...)
			if method == "GET" {
				continue
			}
			if r.Status != http.StatusBadRequest && r.Status != http.StatusRequestEntityTooLarge {
				t.Errorf("%s %s: status %d: %s", key, name, r.Status, r.Body)
				continue
			}
			expect(t, r, r.Status)
			if name == "oversized" && r.Status != http.StatusRequestEntityTooLarge {
				t.Errorf("%s oversized: %d", key, r.Status)
			}
		}
		if after := e.dump(m.Token); after != before {
			t.Fatalf("%s changed the store:\nbefore %s\nafter  %s", key, before, after)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestFieldErrors: 400s name the offending field, and a partly bad Fleet
// payload stores nothing.
func TestFieldErrors(t *testing.T) {
	e := newEnv(t)
	m := e.register(e.secret, "victim", "V1")
	fleetBody := fleetHost(t, map[string]any{"hardware_serial": "NEW1"})
	before := e.dump(m.Token)
	r := expect(t, e.do("POST", "/api/machines/register", "", map[string]any{"provisioningSecret": e.secret, "hostname": 5, "os": map[string]any{"name": "x"}}), http.StatusBadRequest)
	if f := r.JSON(t)["field"]; f != "hostname" {
		t.Errorf("field = %v", f)
	}
	r = expect(t, e.do("POST", "/api/machines/heartbeat", m.Token, map[string]any{"metrics": map[string]any{"cpu": "high"}}), http.StatusBadRequest)
	if f := r.JSON(t)["field"]; f != "metrics.cpu" {
		t.Errorf("field = %v", f)
	}
	r = expect(t, e.do("POST", "/api/integrations/fleet/hosts", "", map[string]any{"hosts": []any{fleetBody, map[string]any{"hostname": 7}}}, "x-fleet-secret", e.secret), http.StatusBadRequest)
	if f := r.JSON(t)["field"]; f != "hosts[1].hostname" {
		t.Errorf("field = %v", f)
	}
	// Nothing of the valid first host was stored either.
	if after := e.dump(m.Token); after != before {
		t.Fatal("a partly bad Fleet payload changed the store")
	}
}
