package server_test

import (
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	josejwt "github.com/go-jose/go-jose/v4/jwt"

	"github.com/slipwayhq/slipway/server"
	"github.com/slipwayhq/slipway/server/store"
	"github.com/slipwayhq/slipway/server/token"
)

func TestRegisterDedupesByFingerprint(t *testing.T) {
	e := newEnv(t)
	r := expect(t, e.do("POST", "/api/machines/register", "", registerBody(e.secret, "laptop-1", "C02ABC")), http.StatusCreated)
	first := r.JSON(t)
	tok1 := first["machineToken"].(string)
	if !strings.HasPrefix(tok1, token.Machine) || first["heartbeatIntervalSeconds"].(float64) < 60 || first["created"] != true {
		t.Fatalf("register response: %s", r.Body)
	}
	exp, _ := time.Parse(time.RFC3339, first["expiresAt"].(string))
	if want := e.clock.Now().Add(30 * 24 * time.Hour); !exp.Equal(want) {
		t.Fatalf("expiresAt = %v, want %v (30 days)", exp, want)
	}
	// Same hardware re-imaged under another hostname: same machine, new token.
	r = expect(t, e.do("POST", "/api/machines/register", "", registerBody(e.secret, "laptop-1-reimaged", " c02abc ")), http.StatusOK)
	second := r.JSON(t)
	if second["machineId"] != first["machineId"] || second["created"] != false || second["machineToken"] == tok1 {
		t.Fatalf("re-register: %s", r.Body)
	}
	expect(t, e.do("POST", "/api/machines/heartbeat", tok1, map[string]any{"status": "ok"}), http.StatusUnauthorized)
	expect(t, e.do("POST", "/api/machines/heartbeat", second["machineToken"].(string), map[string]any{"status": "ok"}), http.StatusOK)
	// Only the hostname equal is not the same machine.
	other := e.register(e.secret, "laptop-1-reimaged", "OTHER")
	if other.ID == first["machineId"] {
		t.Fatal("hostname alone matched an existing machine")
	}
	list := expect(t, e.do("GET", "/api/admin/machines", e.admin, nil), http.StatusOK).JSON(t)
	if n := len(list["items"].([]any)); n != 2 {
		t.Fatalf("%d machines, want 2", n)
	}
}

func TestRegisterRejectsBadSecrets(t *testing.T) {
	e := newEnv(t)
	created := expect(t, e.do("POST", "/api/admin/tenants/default/secrets", e.admin, map[string]any{"kind": "fleet"}), http.StatusCreated).JSON(t)
	for name, secret := range map[string]string{
		"unknown":     "swp_doesnotexist",
		"fleet kind":  created["secret"].(string),
		"admin token": e.admin,
	} {
		r := expect(t, e.do("POST", "/api/machines/register", "", registerBody(secret, "h", "S1")), http.StatusUnauthorized)
		if r.JSON(t)["error"] != "invalid_secret" {
			t.Errorf("%s: %s", name, r.Body)
		}
	}
}

func TestHeartbeat(t *testing.T) {
	e := newEnv(t)
	m := e.register(e.secret, "h1", "S1")
	e.clock.Add(10 * 24 * time.Hour)
	r := expect(t, e.do("POST", "/api/machines/heartbeat", m.Token, map[string]any{
		"status": "degraded", "agentVersion": "1.4.0",
		"metrics":   map[string]any{"cpu": 91.5, "memory": 70, "disk": 80, "uptime": 3600},
		"inventory": map[string]any{"model": "X1 Carbon"},
	}), http.StatusOK).JSON(t)
	exp, _ := time.Parse(time.RFC3339, r["expiresAt"].(string))
	if want := e.clock.Now().Add(30 * 24 * time.Hour); !exp.Equal(want) {
		t.Fatalf("sliding expiry = %v, want %v", exp, want)
	}
	st, _ := time.Parse(time.RFC3339, r["serverTime"].(string))
	if !st.Equal(e.clock.Now()) {
		t.Fatalf("serverTime = %v", st)
	}
	// Token in the body works too; within the renewal hour the expiry stays.
	e.clock.Add(30 * time.Minute)
	r2 := expect(t, e.do("POST", "/api/machines/heartbeat", "", map[string]any{"machineToken": m.Token}), http.StatusOK).JSON(t)
	if r2["expiresAt"] != r["expiresAt"] {
		t.Fatalf("expiry moved within the hour: %v -> %v", r["expiresAt"], r2["expiresAt"])
	}

	got, err := e.st.GetMachine(t.Context(), m.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.AgentVersion != "1.4.0" || got.Status != "ok" || !got.LastSeenAt.Equal(e.clock.Now()) || string(got.Inventory) != `{"model":"X1 Carbon"}` {
		t.Fatalf("stored machine: %+v", got)
	}
	tok, _ := e.st.GetToken(t.Context(), token.Hash(m.Token))
	if !tok.ExpiresAt.Equal(exp) {
		t.Fatalf("stored expiry %v", tok.ExpiresAt)
	}
	hbs, _ := e.st.ListHeartbeats(t.Context(), m.ID, 10)
	if len(hbs) != 3 || hbs[1].Status != "degraded" { // register + 2 heartbeats
		t.Fatalf("history: %+v", hbs)
	}
	// 31 days of silence: the token has expired.
	e.clock.Add(31 * 24 * time.Hour)
	r = expect(t, e.do("POST", "/api/machines/heartbeat", m.Token, map[string]any{}), http.StatusUnauthorized).JSON(t)
	if r["error"] != "token_expired" {
		t.Fatalf("expired: %v", r)
	}
}

func TestRejectedTokens(t *testing.T) {
	e := newEnv(t)
	revoked := e.register(e.secret, "r", "R1")
	rotated := e.register(e.secret, "o", "O1")
	expect(t, e.do("POST", "/api/admin/machines/"+revoked.ID+"/token/revoke", e.admin, nil), http.StatusOK)
	newTok := expect(t, e.do("POST", "/api/admin/machines/"+rotated.ID+"/token/rotate", e.admin, nil), http.StatusOK).JSON(t)["machineToken"].(string)
	cases := map[string]struct{ token, code string }{
		"revoked":         {revoked.Token, "token_revoked"},
		"rotated":         {rotated.Token, "token_revoked"},
		"unknown":         {"swm_" + strings.Repeat("A", 43), "invalid_token"},
		"wrong prefix":    {e.admin, "invalid_token"},
		"too long":        {"swm_" + strings.Repeat("A", 600), "invalid_token"},
		"missing":         {"", "unauthorized"},
		"garbage session": {"not.a.jwt", "invalid_session"},
	}
	for name, c := range cases {
		for _, ep := range []struct{ method, path string }{
			{"POST", "/api/machines/heartbeat"}, {"POST", "/api/machines/sessions"},
			{"POST", "/api/machines/handshake"}, {"GET", "/api/machines/me"},
		} {
			var body any
			if ep.method == "POST" {
				body = map[string]any{}
			}
			r := expect(t, e.do(ep.method, ep.path, c.token, body), http.StatusUnauthorized)
			code := r.JSON(t)["error"]
			// The session-only endpoint reads non-swm_ bearers as JWTs.
			if code != c.code && !(ep.path == "/api/machines/me" && code == "invalid_session") &&
				!(c.code == "invalid_session" && code == "invalid_token") {
				t.Errorf("%s %s: error %v, want %s", name, ep.path, code, c.code)
			}
			if r.Header.Get("WWW-Authenticate") == "" {
				t.Errorf("%s %s: no WWW-Authenticate", name, ep.path)
			}
		}
	}
	expect(t, e.do("POST", "/api/machines/heartbeat", newTok, map[string]any{}), http.StatusOK)
}

// jwks fetches the served key set with go-jose, an independent JOSE implementation.
func jwks(t *testing.T, e *env) jose.JSONWebKeySet {
	t.Helper()
	r := expect(t, e.do("GET", "/.well-known/jwks.json", "", nil), http.StatusOK)
	var set jose.JSONWebKeySet
	if err := json.Unmarshal(r.Body, &set); err != nil {
		t.Fatal(err)
	}
	if len(set.Keys) != 1 || set.Keys[0].Algorithm != "EdDSA" || set.Keys[0].Use != "sig" {
		t.Fatalf("jwks: %s", r.Body)
	}
	if _, ok := set.Keys[0].Key.(ed25519.PublicKey); !ok {
		t.Fatalf("key type %T", set.Keys[0].Key)
	}
	return set
}

func TestSessionJWTVerifiesThroughJWKS(t *testing.T) {
	e := newEnv(t)
	m := e.register(e.secret, "h1", "S1")
	r := expect(t, e.do("POST", "/api/machines/sessions", m.Token, nil), http.StatusOK)
	body := r.JSON(t)
	raw := body["token"].(string)
	var cookie *http.Cookie
	for _, c := range (&http.Response{Header: r.Header}).Cookies() {
		if c.Name == server.SessionCookie {
			cookie = c
		}
	}
	if cookie == nil || !cookie.HttpOnly || cookie.Value != raw || cookie.SameSite != http.SameSiteLaxMode {
		t.Fatalf("session cookie: %+v", cookie)
	}
	set := jwks(t, e)
	tok, err := josejwt.ParseSigned(raw, []jose.SignatureAlgorithm{jose.EdDSA})
	if err != nil {
		t.Fatal(err)
	}
	var std josejwt.Claims
	var extra struct {
		Tenant string `json:"tenant"`
		Scope  string `json:"scope"`
	}
	if err := tok.Claims(set.Keys[0].Key, &std, &extra); err != nil {
		t.Fatalf("go-jose rejects the JWT: %v", err)
	}
	if err := std.ValidateWithLeeway(josejwt.Expected{Subject: "machine:" + m.ID, Issuer: "http://slipway.test",
		Time: e.clock.Now()}, 0); err != nil {
		t.Fatal(err)
	}
	if extra.Tenant != "default" || extra.Scope != "machine:session" || std.Expiry.Time().Sub(e.clock.Now()) != 15*time.Minute {
		t.Fatalf("claims %+v %+v", std, extra)
	}
	// Tampering with the payload breaks the signature, checked by hand with crypto/ed25519.
	parts := strings.Split(raw, ".")
	sig, _ := base64.RawURLEncoding.DecodeString(parts[2])
	pub := set.Keys[0].Key.(ed25519.PublicKey)
	if !ed25519.Verify(pub, []byte(parts[0]+"."+parts[1]), sig) {
		t.Fatal("crypto/ed25519 rejects the JWT")
	}
	forged := strings.Replace(parts[1], parts[1][:4], "eyJz", 1)
	if ed25519.Verify(pub, []byte(parts[0]+"."+forged), sig) && forged != parts[1] {
		t.Fatal("forged payload verifies")
	}
	// The session works as bearer and as cookie for /me, and expires.
	expect(t, e.do("GET", "/api/machines/me", raw, nil), http.StatusOK)
	expect(t, e.do("GET", "/api/machines/me", "", nil, "Cookie", server.SessionCookie+"="+raw), http.StatusOK)
	expect(t, e.do("GET", "/api/machines/me", parts[0]+"."+forged+"."+parts[2], nil), http.StatusUnauthorized)
	e.clock.Add(16 * time.Minute)
	if r := expect(t, e.do("GET", "/api/machines/me", raw, nil), http.StatusUnauthorized); r.JSON(t)["error"] != "session_expired" {
		t.Fatalf("expired session: %s", r.Body)
	}
}

func TestMeGolden(t *testing.T) {
	e := newEnv(t)
	m := e.register(e.secret, "desk-42", "SN42")
	expect(t, e.do("POST", "/api/machines/heartbeat", m.Token, map[string]any{"agentVersion": "1.2.3", "metrics": map[string]any{"cpu": 5}}), http.StatusOK)
	r := expect(t, e.do("GET", "/api/machines/me", m.Token, nil), http.StatusOK)
	checkGolden(t, "TestMeGolden", r.Body, "machineId")
}

func TestHandshake(t *testing.T) {
	e := newEnv(t)
	m := e.register(e.secret, "h1", "S1")
	start := func(body any) map[string]any {
		t.Helper()
		return expect(t, e.do("POST", "/api/machines/handshake", m.Token, body), http.StatusCreated).JSON(t)
	}
	h := start(nil)
	code := h["code"].(string)
	if !strings.HasPrefix(h["url"].(string), "http://slipway.test/machines/handshake?code=") || strings.Contains(h["url"].(string), m.Token) {
		t.Fatalf("handshake url %v", h["url"])
	}
	r := expect(t, e.do("GET", "/machines/handshake?code="+url.QueryEscape(code), "", nil), http.StatusFound)
	if loc := r.Header.Get("Location"); loc != "https://portal.example.com/tickets" {
		t.Fatalf("redirect to %q", loc)
	}
	var session string
	for _, c := range (&http.Response{Header: r.Header}).Cookies() {
		if c.Name == server.SessionCookie && c.HttpOnly {
			session = c.Value
		}
	}
	me := expect(t, e.do("GET", "/api/machines/me", "", nil, "Cookie", server.SessionCookie+"="+session), http.StatusOK).JSON(t)
	if me["machineId"] != m.ID {
		t.Fatalf("me = %v", me)
	}
	// Single use.
	expect(t, e.do("GET", "/machines/handshake?code="+url.QueryEscape(code), "", nil), http.StatusUnauthorized)
	// Expires after 60 s.
	late := start(map[string]any{})["code"].(string)
	e.clock.Add(61 * time.Second)
	expect(t, e.do("GET", "/machines/handshake?code="+url.QueryEscape(late), "", nil), http.StatusUnauthorized)
	// An allowlisted redirect chosen by the client is honoured.
	c := start(map[string]any{"redirect": "https://help.example.com/new?from=desktop"})["code"].(string)
	r = expect(t, e.do("GET", "/machines/handshake?code="+url.QueryEscape(c), "", nil), http.StatusFound)
	if loc := r.Header.Get("Location"); loc != "https://help.example.com/new?from=desktop" {
		t.Fatalf("redirect to %q", loc)
	}
	expect(t, e.do("GET", "/machines/handshake", "", nil), http.StatusBadRequest)
}

func TestHandshakeRefusesOpenRedirects(t *testing.T) {
	e := newEnv(t)
	m := e.register(e.secret, "h1", "S1")
	evil := []string{
		"https://evil.example.com/", "//evil.example.com", "https://portal.example.com.evil.com/",
		"https://portal.example.com@evil.com/", "javascript:alert(1)", "http://portal.example.com/tickets",
		"/relative", "https://help.example.com:8443/", "data:text/html,hi", "https://evil.com\\@help.example.com",
	}
	for _, target := range evil {
		r := expect(t, e.do("POST", "/api/machines/handshake", m.Token, map[string]any{"redirect": target}), http.StatusBadRequest)
		if r.JSON(t)["field"] != "redirect" {
			t.Errorf("%q: %s", target, r.Body)
		}
		// The same target in the GET is refused too, and the code survives.
		code := expect(t, e.do("POST", "/api/machines/handshake", m.Token, nil), http.StatusCreated).JSON(t)["code"].(string)
		expect(t, e.do("GET", "/machines/handshake?code="+url.QueryEscape(code)+"&redirect="+url.QueryEscape(target), "", nil), http.StatusBadRequest)
		if loc := e.do("GET", "/machines/handshake?code="+url.QueryEscape(code), "", nil).Header.Get("Location"); loc != "https://portal.example.com/tickets" {
			t.Errorf("code burnt by refused redirect %q (location %q)", target, loc)
		}
	}
}

func TestRateLimits(t *testing.T) {
	e := newEnv(t, func(c *server.Config) { c.RateLimit, c.RateBurst = 0.001, 3 })
	for i := range 3 {
		expect(t, e.do("POST", "/api/machines/register", "", registerBody(e.secret, "h", "RL"+string(rune('A'+i)))), http.StatusCreated)
	}
	r := expect(t, e.do("POST", "/api/machines/register", "", registerBody(e.secret, "h", "RLZ")), http.StatusTooManyRequests)
	if r.Header.Get("Retry-After") == "" {
		t.Fatal("no Retry-After")
	}
	if ms, _ := e.st.ListMachines(t.Context(), store.MachineFilter{}); len(ms) != 3 {
		t.Fatalf("%d machines after rate limit, want 3", len(ms))
	}
	// The handshake has its own bucket: 3 starts, then 429 on start and redeem.
	all, _ := e.st.ListMachines(t.Context(), store.MachineFilter{})
	val, hash := token.New(token.Machine)
	if err := e.st.ReplaceToken(t.Context(), store.Token{Hash: hash, MachineID: all[0].ID, TenantID: "default",
		CreatedAt: e.clock.Now(), ExpiresAt: e.clock.Now().Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		expect(t, e.do("POST", "/api/machines/handshake", val, nil), http.StatusCreated)
	}
	expect(t, e.do("POST", "/api/machines/handshake", val, nil), http.StatusTooManyRequests)
	expect(t, e.do("GET", "/machines/handshake?code=swh_x", "", nil), http.StatusTooManyRequests)
	// Heartbeats are not rate limited per address.
	for range 10 {
		expect(t, e.do("POST", "/api/machines/heartbeat", val, map[string]any{}), http.StatusOK)
	}
}

// TestRateLimitBehindProxy: behind a trusted load balancer each client gets
// its own bucket (by X-Forwarded-For); from an untrusted peer the header is
// ignored, so rotating it does not escape the limit.
func TestRateLimitBehindProxy(t *testing.T) {
	lb := netip.MustParsePrefix("127.0.0.0/8")
	trusted := newEnv(t, func(c *server.Config) {
		c.RateLimit, c.RateBurst, c.TrustedProxies = 0.001, 1, []netip.Prefix{lb, netip.MustParsePrefix("::1/128")}
	})
	untrusted := newEnv(t, func(c *server.Config) { c.RateLimit, c.RateBurst = 0.001, 1 })
	for i := range 3 {
		xff := fmt.Sprintf("203.0.113.%d", i+1)
		expect(t, trusted.do("POST", "/api/machines/register", "", registerBody(trusted.secret, "h", "LB"+xff), "X-Forwarded-For", xff), http.StatusCreated)
		want := http.StatusCreated
		if i > 0 {
			want = http.StatusTooManyRequests
		}
		expect(t, untrusted.do("POST", "/api/machines/register", "", registerBody(untrusted.secret, "h", "UT"+xff), "X-Forwarded-For", xff), want)
	}
	// The same client again through the balancer: its own bucket is empty.
	expect(t, trusted.do("POST", "/api/machines/register", "", registerBody(trusted.secret, "h", "LBagain"), "X-Forwarded-For", "203.0.113.1"), http.StatusTooManyRequests)
}

// TestShortTokenTTLSlides: a token TTL under an hour never slid (renewal
// waited for an hour of movement), so machines heartbeating every minute
// were logged out after TTL. Any TTL now slides while heartbeats come.
func TestShortTokenTTLSlides(t *testing.T) {
	e := newEnv(t, func(c *server.Config) { c.TokenTTL = 10 * time.Minute })
	m := e.register(e.secret, "h1", "S1")
	for range 30 { // 30 minutes, three TTLs, one heartbeat a minute
		e.clock.Add(time.Minute)
		expect(t, e.do("POST", "/api/machines/heartbeat", m.Token, map[string]any{"status": "ok"}), http.StatusOK)
	}
	tok, err := e.st.GetToken(t.Context(), token.Hash(m.Token))
	if err != nil {
		t.Fatal(err)
	}
	if left := tok.ExpiresAt.Sub(e.clock.Now()); left < 7*time.Minute {
		t.Fatalf("stored expiry %v left after 30 min of heartbeats", left)
	}
}
