package server_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/slipwayhq/slipway/server"
)

// FuzzRequestBodies sends fuzzed bodies to every route that reads one,
// through the real router and store, with valid credentials so the body
// is what gets judged: no answer is a 500, and every error is the API's
// JSON error shape. Seeds: testdata/fuzz/FuzzRequestBodies.
func FuzzRequestBodies(f *testing.F) {
	e := newEnv(f, func(c *server.Config) { c.RateLimit, c.RateBurst = 1e9, 1<<30 })
	m := e.register(e.secret, "fuzz", "F1")
	routes := []struct{ path, bearer string }{
		{"/api/machines/register", ""},
		{"/api/machines/heartbeat", m.Token},
		{"/api/machines/sessions", m.Token},
		{"/api/machines/handshake", m.Token},
		{"/api/integrations/fleet/hosts", ""},
		{"/api/admin/tenants", e.admin},
		{"/api/admin/tenants/default/secrets", e.admin},
	}
	f.Add(uint8(0), []byte(`{"provisioningSecret":"x","hostname":"h","os":{"name":"linux"}}`))
	f.Add(uint8(1), []byte(`{"status":"ok","metrics":{"cpu":1e400}}`))
	f.Add(uint8(4), []byte(`{"hosts":[{"hostname":"h"}]}`))
	f.Add(uint8(5), []byte(`{"id":"t1","name":"A\u202eB"}`))
	f.Fuzz(func(t *testing.T, route uint8, body []byte) {
		rt := routes[int(route)%len(routes)]
		req := httptest.NewRequest(http.MethodPost, rt.path, bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		if rt.bearer != "" {
			req.Header.Set("Authorization", "Bearer "+rt.bearer)
		}
		if rt.path == "/api/integrations/fleet/hosts" {
			req.Header.Set("x-fleet-secret", e.secret)
		}
		rec := httptest.NewRecorder()
		e.srv.ServeHTTP(rec, req)
		if rec.Code >= 500 {
			t.Fatalf("%s: %d %s", rt.path, rec.Code, rec.Body)
		}
		if rec.Code >= 400 {
			var eb struct{ Error, Message string }
			if err := json.Unmarshal(rec.Body.Bytes(), &eb); err != nil || eb.Error == "" || eb.Message == "" {
				t.Fatalf("%s: %d with body %s", rt.path, rec.Code, rec.Body)
			}
		}
	})
}
