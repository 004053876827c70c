package server_test

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	josejwt "github.com/go-jose/go-jose/v4/jwt"

	"github.com/slipwayhq/slipway/internal/pgtest"
	"github.com/slipwayhq/slipway/server"
	"github.com/slipwayhq/slipway/server/keyseal"
	"github.com/slipwayhq/slipway/server/store"
	"github.com/slipwayhq/slipway/server/store/postgres"
	"github.com/slipwayhq/slipway/server/store/sqlite"
)

// TestSessionKeyRotation: a key rotated through one replica signs there
// at once and on the other within its reread interval; a JWT signed
// before the rotation verifies (on both replicas and through the JWKS with
// go-jose) until it expires, the old key leaves the JWKS once the last
// token it could have signed has expired. On SQLite (two servers on one
// database file) and on PostgreSQL (two replicas); keys sealed at rest.
func TestSessionKeyRotation(t *testing.T) {
	t.Run("sqlite two servers", func(t *testing.T) {
		dir := t.TempDir()
		db, kek := filepath.Join(dir, "slipway.db"), filepath.Join(dir, "secret.key")
		open := func() store.Store {
			st, err := sqlite.Open(t.Context(), db, sqlite.Options{Synchronous: "NORMAL"})
			if err != nil {
				t.Fatal(err)
			}
			return st
		}
		if _, err := keyseal.LoadOrCreate(kek, true); err != nil {
			t.Fatal(err)
		}
		a := newEnvWith(t, server.Options{Store: open()}, func(c *server.Config) { c.SecretKeyFile = kek })
		b := open()
		t.Cleanup(func() { b.Close() })
		testSessionKeyRotation(t, a, sealedReplica(t, a, b, kek))
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
		kek := filepath.Join(t.TempDir(), "secret.key")
		if _, err := keyseal.LoadOrCreate(kek, true); err != nil {
			t.Fatal(err)
		}
		a := newEnvWith(t, server.Options{Store: open()}, func(c *server.Config) { c.SecretKeyFile = kek })
		b := open()
		t.Cleanup(func() { b.Close() })
		testSessionKeyRotation(t, a, sealedReplica(t, a, b, kek))
	})
}

// sealedReplica is replica with the secret key file every replica shares.
func sealedReplica(t *testing.T, e *env, st store.Store, kek string) *env {
	t.Helper()
	srv, err := server.New(server.Config{DataDir: t.TempDir(), PublicURL: "http://slipway.test", AuthFailureBurst: 1000, SecretKeyFile: kek},
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

func kidOf(t *testing.T, jwt string) string {
	t.Helper()
	h, err := base64.RawURLEncoding.DecodeString(strings.Split(jwt, ".")[0])
	if err != nil {
		t.Fatal(err)
	}
	var hdr struct{ Kid, Alg string }
	if err := json.Unmarshal(h, &hdr); err != nil || hdr.Alg != "EdDSA" || hdr.Kid == "" {
		t.Fatalf("header %s: %v", h, err)
	}
	return hdr.Kid
}

func jwksKids(t *testing.T, e *env) []string {
	t.Helper()
	var set jose.JSONWebKeySet
	if err := json.Unmarshal(expect(t, e.do("GET", "/.well-known/jwks.json", "", nil), http.StatusOK).Body, &set); err != nil {
		t.Fatal(err)
	}
	var kids []string
	for _, k := range set.Keys {
		kids = append(kids, k.KeyID)
	}
	return kids
}

// verifiesThroughJWKS checks jwt with go-jose against e's published keys.
func verifiesThroughJWKS(t *testing.T, e *env, jwt string) bool {
	t.Helper()
	var set jose.JSONWebKeySet
	if err := json.Unmarshal(expect(t, e.do("GET", "/.well-known/jwks.json", "", nil), http.StatusOK).Body, &set); err != nil {
		t.Fatal(err)
	}
	tok, err := josejwt.ParseSigned(jwt, []jose.SignatureAlgorithm{jose.EdDSA})
	if err != nil {
		t.Fatal(err)
	}
	keys := set.Key(tok.Headers[0].KeyID)
	if len(keys) != 1 {
		return false
	}
	var c josejwt.Claims
	return tok.Claims(keys[0].Key, &c) == nil && c.ValidateWithLeeway(josejwt.Expected{Time: e.clock.Now()}, 0) == nil
}

func testSessionKeyRotation(t *testing.T, a, b *env) {
	session := func(e *env, machineToken string) string {
		t.Helper()
		return expect(t, e.do("POST", "/api/machines/sessions", machineToken, nil), http.StatusOK).JSON(t)["token"].(string)
	}
	m := a.register(a.secret, "h1", "S1")
	before := session(a, m.Token)
	oldKid := kidOf(t, before)
	if kids := jwksKids(t, b); len(kids) != 1 || kids[0] != oldKid {
		t.Fatalf("JWKS before rotation: %v, want [%s]", kids, oldKid)
	}

	// Only an admin of no tenant rotates.
	scoped := expect(t, a.do("POST", "/api/admin/tokens", a.admin, map[string]any{"name": "tenant admin", "role": "admin",
		"tenantId": "default", "expiresAt": a.clock.Now().Add(time.Hour).Format(time.RFC3339)}), http.StatusCreated).JSON(t)["token"].(string)
	viewer := expect(t, a.do("POST", "/api/admin/tokens", a.admin, map[string]any{"name": "viewer", "role": "viewer",
		"expiresAt": a.clock.Now().Add(time.Hour).Format(time.RFC3339)}), http.StatusCreated).JSON(t)["token"].(string)
	expect(t, b.do("POST", "/api/admin/session-keys/rotate", scoped, nil), http.StatusForbidden)
	expect(t, b.do("POST", "/api/admin/session-keys/rotate", viewer, nil), http.StatusForbidden)
	expect(t, b.do("POST", "/api/admin/session-keys/rotate", a.admin, map[string]any{"x": 1}), http.StatusBadRequest)

	rot := expect(t, b.do("POST", "/api/admin/session-keys/rotate", a.admin, nil), http.StatusCreated).JSON(t)
	newKid, _ := rot["id"].(string)
	if newKid == "" || newKid == oldKid {
		t.Fatalf("rotate answered %v", rot)
	}
	// The rotating replica signs with the new key at once; the old key is
	// still published.
	afterB := session(b, m.Token)
	if kidOf(t, afterB) != newKid {
		t.Fatalf("b signs with %s after rotating to %s", kidOf(t, afterB), newKid)
	}
	if kids := jwksKids(t, b); len(kids) != 2 || !slices.Contains(kids, newKid) || !slices.Contains(kids, oldKid) {
		t.Fatalf("JWKS after rotation: %v", kids)
	}
	// The other replica accepts the new kid on the very next request (an
	// unknown kid rereads the keys), and signs with it after its reread
	// interval.
	expect(t, a.do("GET", "/api/machines/me", afterB, nil), http.StatusOK)
	a.clock.Add(31 * time.Second)
	afterA := session(a, m.Token)
	if kidOf(t, afterA) != newKid {
		t.Fatalf("a signs with %s 31s after the rotation to %s", kidOf(t, afterA), newKid)
	}
	// The token signed before the rotation works until it expires, on both
	// replicas and for an outside verifier of the JWKS.
	for _, e := range []*env{a, b} {
		expect(t, e.do("GET", "/api/machines/me", before, nil), http.StatusOK)
		if !verifiesThroughJWKS(t, e, before) || !verifiesThroughJWKS(t, e, afterB) {
			t.Fatal("a session does not verify through the JWKS after rotation")
		}
	}
	keys := expect(t, a.do("GET", "/api/admin/session-keys", a.admin, nil), http.StatusOK).JSON(t)["keys"].([]any)
	states := map[string]string{}
	for _, k := range keys {
		k := k.(map[string]any)
		states[k["id"].(string)] = k["state"].(string)
		if (k["id"] == oldKid) != (k["expiresAt"] != nil) {
			t.Fatalf("expiry of %v", k)
		}
	}
	if len(keys) != 2 || states[newKid] != "signing" || states[oldKid] != "verifying" || strings.Contains(string(mustJSON(t, keys)), "seed") {
		t.Fatalf("session keys: %v", keys)
	}
	expect(t, a.do("GET", "/api/admin/session-keys", viewer, nil), http.StatusForbidden)
	a.clock.Add(15 * time.Minute)
	if r := expect(t, b.do("GET", "/api/machines/me", before, nil), http.StatusUnauthorized); r.JSON(t)["error"] != "session_expired" {
		t.Fatalf("expired pre-rotation session: %s", r.Body)
	}
	if kids := jwksKids(t, a); len(kids) != 2 {
		t.Fatalf("old key dropped too early (admin page cookies it signed live 8h): %v", kids)
	}
	// Past the retention (admin page sessions, 8h): the old key is gone
	// from the JWKS on both replicas and refuses what it signed.
	a.clock.Add(8 * time.Hour)
	for _, e := range []*env{a, b} {
		if kids := jwksKids(t, e); len(kids) != 1 || kids[0] != newKid {
			t.Fatalf("JWKS after the old key's retention: %v", kids)
		}
	}
	entries := expect(t, a.do("GET", "/api/admin/audit?action="+store.AuditRotateSessionKey, a.admin, nil), http.StatusOK)
	if !strings.Contains(string(entries.Body), newKid) {
		t.Fatalf("no audit entry for the rotation: %s", entries.Body)
	}
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
