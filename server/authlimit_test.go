package server_test

import (
	"net/http"
	"net/netip"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/slipwayhq/slipway/server"
	"github.com/slipwayhq/slipway/server/adminui"
	"github.com/slipwayhq/slipway/server/store/sqlite"
)

// TestFailedAuthenticationsLimited is the sweep's finding: nothing limited
// failed authentications on the admin page login, the admin API, the Fleet
// webhook or heartbeats. Per client address, past the burst of failures
// every request gets 429 with Retry-After (even with good credentials),
// other addresses are unaffected, and both are counted in metrics.
func TestFailedAuthenticationsLimited(t *testing.T) {
	dir := t.TempDir()
	st, err := sqlite.Open(t.Context(), filepath.Join(dir, "ui.db"), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ui, err := adminui.New(st, adminui.Options{})
	if err != nil {
		t.Fatal(err)
	}
	e := newEnvWith(t, server.Options{Store: st, Mount: []func(chi.Router){ui.Routes}}, func(c *server.Config) {
		c.AuthFailureRate, c.AuthFailureBurst = 0.001, 3
		c.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128")}
	})
	m := e.register(e.secret, "limited", "L1")
	type attempt struct {
		method, path, bearer string
		body                 any
		hdr                  []string
	}
	for i, c := range []struct {
		area      string
		bad, good attempt
	}{
		{"admin_api", attempt{"GET", "/api/admin/machines", "swa_" + strings.Repeat("x", 43), nil, nil},
			attempt{"GET", "/api/admin/machines", e.admin, nil, nil}},
		{"admin_page", attempt{"POST", "/admin/login", "", "token=swa_nope", []string{"Content-Type", "application/x-www-form-urlencoded", "Origin", e.ts.URL}},
			attempt{"GET", "/admin/login", "", nil, nil}},
		{"fleet", attempt{"POST", "/api/integrations/fleet/hosts", "", map[string]any{}, []string{"x-fleet-secret", "wrong"}},
			attempt{"POST", "/api/integrations/fleet/hosts", "", fleetHost(t, map[string]any{"hardware_serial": "F1"}), []string{"x-fleet-secret", e.secret}}},
		{"machine", attempt{"POST", "/api/machines/heartbeat", "swm_" + strings.Repeat("y", 43), map[string]any{}, nil},
			attempt{"POST", "/api/machines/heartbeat", m.Token, map[string]any{}, nil}},
	} {
		t.Run(c.area, func(t *testing.T) {
			addr := "203.0.113." + strconv.Itoa(i+1)
			send := func(a attempt, want int) response {
				t.Helper()
				r := e.do(a.method, a.path, a.bearer, a.body, append([]string{"X-Forwarded-For", addr}, a.hdr...)...)
				if r.Status != want {
					t.Fatalf("%s %s: %d, want %d: %.200s", a.method, a.path, r.Status, want, r.Body)
				}
				return r
			}
			for range 3 {
				send(c.bad, http.StatusUnauthorized)
			}
			for _, a := range []attempt{c.bad, c.good} {
				r := expect(t, send(a, http.StatusTooManyRequests), http.StatusTooManyRequests)
				if s, err := strconv.Atoi(r.Header.Get("Retry-After")); err != nil || s < 1 {
					t.Fatalf("Retry-After %q", r.Header.Get("Retry-After"))
				}
			}
			// Another address is not affected.
			if r := e.do(c.good.method, c.good.path, c.good.bearer, c.good.body, append([]string{"X-Forwarded-For", "198.51.100.9"}, c.good.hdr...)...); r.Status >= 400 {
				t.Fatalf("other address: %d %s", r.Status, r.Body)
			}
		})
	}
	metrics := string(e.do("GET", "/metrics", "", nil, "X-Forwarded-For", "203.0.113.1").Body)
	for _, area := range []string{"admin_api", "admin_page", "fleet", "machine"} {
		for _, line := range []string{
			`slipway_auth_failures_total{area="` + area + `"} 3`,
			`slipway_auth_limited_total{area="` + area + `"} 2`,
		} {
			if !strings.Contains(metrics, line) {
				t.Errorf("metrics lack %s", line)
			}
		}
	}
}

// TestKnownCredentialsAreNotGuesses is the 1,000-machine rehearsal year's
// finding: 50 machines behind one address came back from 60 days offline
// (longer than the 30-day token lifetime), their 50 expired-token
// heartbeats spent the address's whole failed-authentication burst, and
// from then on every request from that address — the 950 healthy
// machines' heartbeats, the re-enrollments the 50 needed, update checks —
// was answered 429. A 401 for a credential the server issued (expired or
// replaced token) proves an earlier sign-in, not a guess: it is counted in
// the metrics but does not spend the burst. Unknown tokens still do.
func TestKnownCredentialsAreNotGuesses(t *testing.T) {
	e := newEnv(t, func(c *server.Config) { c.AuthFailureRate, c.AuthFailureBurst = 0.001, 3 })
	var ms []registered
	for i := range 6 {
		ms = append(ms, e.register(e.secret, "nat-"+strconv.Itoa(i), "NAT"+strconv.Itoa(i)))
	}
	beat := func(tok string, want int, code string) {
		t.Helper()
		r := e.do("POST", "/api/machines/heartbeat", tok, map[string]any{})
		if r.Status != want || (code != "" && r.JSON(t)["error"] != code) {
			t.Fatalf("heartbeat: %d %.200s, want %d %s", r.Status, r.Body, want, code)
		}
	}
	e.clock.Add(31 * 24 * time.Hour) // the office was closed past the tokens' 30 days
	for _, m := range ms {
		beat(m.Token, http.StatusUnauthorized, "token_expired")
	}
	// All six re-enroll from the same address; their old tokens are now
	// replaced, and a machine that still sends one is not guessing either.
	var fresh []registered
	for i := range ms {
		fresh = append(fresh, e.register(e.secret, "nat-"+strconv.Itoa(i), "NAT"+strconv.Itoa(i)))
	}
	for _, m := range ms {
		beat(m.Token, http.StatusUnauthorized, "")
	}
	for _, m := range fresh {
		beat(m.Token, http.StatusOK, "")
	}
	// Guessed tokens still spend the burst (3), then the address waits.
	for i := range 3 {
		beat("swm_"+strings.Repeat(strconv.Itoa(i), 43), http.StatusUnauthorized, "invalid_token")
	}
	beat(fresh[0].Token, http.StatusTooManyRequests, "rate_limited")
	metrics := string(e.do("GET", "/metrics", "", nil).Body)
	for _, line := range []string{`slipway_auth_failures_total{area="machine"} 15`, `slipway_auth_limited_total{area="machine"} 1`} {
		if !strings.Contains(metrics, line) {
			t.Errorf("metrics lack %s", line)
		}
	}
}

// TestGuessesDoNotStopUpdates: someone guessing tokens behind a shared
// address (an office NAT) used to stop every machine behind it from
// updating, because the limited address was refused everywhere. Requests
// that test no credential — update checks, TUF metadata, downloads,
// documents — are served; anything carrying a credential still waits.
func TestGuessesDoNotStopUpdates(t *testing.T) {
	tuf := func(r chi.Router) {
		r.Get("/tuf/{file}", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("{}")) })
	}
	e := newEnvWith(t, server.Options{Mount: []func(chi.Router){tuf}}, func(c *server.Config) {
		c.AuthFailureRate, c.AuthFailureBurst = 0.001, 3
	})
	m := e.register(e.secret, "nat", "NAT")
	for i := range 3 {
		expect(t, e.do("POST", "/api/machines/heartbeat", "swm_"+strings.Repeat(strconv.Itoa(i), 43), map[string]any{}), http.StatusUnauthorized)
	}
	for _, c := range []struct {
		path, bearer string
		hdr          []string
		want         int
	}{
		{"/tuf/timestamp.json", "", nil, http.StatusOK},
		{"/openapi.json", "", nil, http.StatusOK},
		{"/.well-known/jwks.json", "", nil, http.StatusOK},
		{"/nothing-here", "", nil, http.StatusNotFound},
		// A credential on a public route is checked (identifyMachine), so it waits.
		{"/tuf/timestamp.json", "swm_" + strings.Repeat("z", 43), nil, http.StatusTooManyRequests},
		{"/tuf/timestamp.json", m.Token, nil, http.StatusTooManyRequests},
		{"/tuf/timestamp.json", "", []string{"Cookie", server.SessionCookie + "=x"}, http.StatusTooManyRequests},
		// Authentication areas wait with or without one.
		{"/api/machines/me", "", nil, http.StatusTooManyRequests},
		{"/api/admin/machines", e.admin, nil, http.StatusTooManyRequests},
	} {
		if r := e.do("GET", c.path, c.bearer, nil, c.hdr...); r.Status != c.want {
			t.Errorf("GET %s (bearer %t, %v): %d, want %d: %.200s", c.path, c.bearer != "", c.hdr, r.Status, c.want, r.Body)
		}
	}
	expect(t, e.do("POST", "/api/machines/heartbeat", m.Token, map[string]any{}), http.StatusTooManyRequests)
}
