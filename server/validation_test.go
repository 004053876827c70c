package server_test

import (
	"net/http"
	"strings"
	"testing"
)

// TestMetricsValidated is the sweep's finding: {"cpu":1e400} was stored and
// echoed back, and {"cpu":{"x":1}} accepted though metrics are numbers.
// Both routes that take metrics refuse them with a 400 naming the field
// and the reason, and store nothing.
func TestMetricsValidated(t *testing.T) {
	e := newEnv(t)
	m := e.register(e.secret, "metrics", "M1")
	cases := map[string]struct {
		metrics, field, reason string
	}{
		"overflow":       {`{"cpu":1e400}`, "metrics.cpu", "finite"},
		"overflow other": {`{"load1":-1e999}`, "metrics.load1", "finite"},
		"nested":         {`{"cpu":{"x":1}}`, "metrics.cpu", "not an object"},
		"nested other":   {`{"extra":{"x":1}}`, "metrics.extra", "not an object"},
		"array":          {`{"disk":[1]}`, "metrics.disk", "not an array"},
		"string":         {`{"memory":"40"}`, "metrics.memory", "not a string"},
		"null":           {`{"uptime":null}`, "metrics.uptime", "not null"},
		"percent":        {`{"cpu":100.5}`, "metrics.cpu", "0 to 100"},
		"negative":       {`{"uptime":-1}`, "metrics.uptime", "not negative"},
		"bidi key":       {`{"cpu\u202e":1}`, "metrics", "bidirectional"},
		"long key":       {`{"` + strings.Repeat("k", 65) + `":1}`, "metrics", "longer than"},
		"not an object":  {`[1]`, "metrics", "JSON object"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			before := e.dump(m.Token)
			hb := `{"metrics":` + c.metrics + `}`
			reg := `{"provisioningSecret":"` + e.secret + `","hostname":"metrics","os":{"name":"linux","version":"12","architecture":"amd64"},"serialNumbers":["M1"],"metrics":` + c.metrics + `}`
			for path, body := range map[string]string{"/api/machines/heartbeat": hb, "/api/machines/register": reg} {
				r := expect(t, e.do("POST", path, m.Token, body), http.StatusBadRequest).JSON(t)
				if r["field"] != c.field || !strings.Contains(r["message"].(string), c.reason) {
					t.Errorf("%s: %v, want field %s and a message with %q", path, r, c.field, c.reason)
				}
			}
			if after := e.dump(m.Token); after != before {
				t.Error("a refused request changed the store")
			}
		})
	}
	many := map[string]any{}
	for i := range 65 {
		many["k"+strings.Repeat("x", i)] = 1
	}
	expect(t, e.do("POST", "/api/machines/heartbeat", m.Token, map[string]any{"metrics": many}), http.StatusBadRequest)
	// What the agent sends is accepted.
	expect(t, e.do("POST", "/api/machines/heartbeat", m.Token, map[string]any{"metrics": map[string]any{
		"cpu": 25.0, "memory": 61.5, "disk": 75, "uptime": 86400, "load1": 1.0, "diskFreeBytes": 50 << 30, "memoryTotalBytes": 16 << 30}}), http.StatusOK)
}

// TestTenantNamesRefuseSpoofingCharacters is the sweep's finding: tenant
// names with U+202E (bidi override) or U+FFFF were accepted and spoofed
// the admin page. Such names get a 400 that says why.
func TestTenantNamesRefuseSpoofingCharacters(t *testing.T) {
	e := newEnv(t)
	for name, c := range map[string]struct{ name, reason string }{
		"bidi override":  {"Acme\u202eevil", "bidirectional"},
		"bidi isolate":   {"Acme\u2067x\u2069", "bidirectional"},
		"rtl mark":       {"Acme\u200f", "bidirectional"},
		"noncharacter":   {"Acme\uffff", "noncharacter"},
		"noncharacter 2": {"Acme\ufdd0", "noncharacter"},
		"C1 control":     {"Acme\u0085", "control"},
		"C0 control":     {"Acme\u0007", "control"},
	} {
		r := expect(t, e.do("POST", "/api/admin/tenants", e.admin, map[string]any{"id": "acme", "name": c.name}), http.StatusBadRequest).JSON(t)
		if r["field"] != "name" || !strings.Contains(r["message"].(string), c.reason) {
			t.Errorf("%s: %v, want a name error about %q", name, r, c.reason)
		}
	}
	// Raw invalid UTF-8 in the body is refused too (not silently replaced).
	r := expect(t, e.do("POST", "/api/admin/tenants", e.admin, "{\"id\":\"acme\",\"name\":\"Acme\xff\"}"), http.StatusBadRequest).JSON(t)
	if !strings.Contains(r["message"].(string), "UTF-8") {
		t.Errorf("invalid UTF-8: %v", r)
	}
	expect(t, e.do("GET", "/api/admin/tenants/acme", e.admin, nil), http.StatusNotFound)
	// Ordinary international names are fine, right-to-left scripts included.
	expect(t, e.do("POST", "/api/admin/tenants", e.admin, map[string]any{"id": "acme", "name": "Acme Österreich — שלום 東京"}), http.StatusCreated)
}
