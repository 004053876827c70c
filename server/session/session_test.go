package session

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/slipwayhq/slipway/server/store"
)

var update = flag.Bool("update", false, "rewrite golden files")

// memKeys is a minimal in-memory SigningKeyStore that counts reads.
type memKeys struct {
	mu    sync.Mutex
	keys  []store.SigningKey
	reads int
}

func (m *memKeys) CreateSigningKey(_ context.Context, k store.SigningKey) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.keys = append([]store.SigningKey{k}, m.keys...)
	return nil
}

func (m *memKeys) SigningKeys(context.Context) ([]store.SigningKey, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.reads++
	return append([]store.SigningKey(nil), m.keys...), nil
}

func (m *memKeys) RotateSigningKey(_ context.Context, k store.SigningKey, dropAfter time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	var keep []store.SigningKey
	for _, o := range m.keys {
		if !o.ExpiresAt.IsZero() && !k.CreatedAt.Before(o.ExpiresAt) {
			continue
		}
		if o.RetiredAt.IsZero() {
			o.RetiredAt, o.ExpiresAt = k.CreatedAt, dropAfter
		}
		keep = append(keep, o)
	}
	m.keys = append([]store.SigningKey{k}, keep...)
	return nil
}

func (m *memKeys) readCount() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.reads
}

var now = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

func TestIssueVerify(t *testing.T) {
	ctx := t.Context()
	ks := &memKeys{}
	is, err := Load(ctx, ks, "https://slipway.example", now)
	if err != nil {
		t.Fatal(err)
	}
	if len(ks.keys) != 1 {
		t.Fatalf("Load created %d keys", len(ks.keys))
	}
	again, err := Load(ctx, ks, "https://slipway.example", now)
	if err != nil || len(ks.keys) != 1 || string(again.JWKS(ctx, now)) != string(is.JWKS(ctx, now)) {
		t.Fatalf("reload changed keys: %v", err)
	}
	tok, c, err := is.Issue(ctx, "m1", "t1", now, 15*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	got, err := is.Verify(ctx, tok, now.Add(time.Minute))
	if err != nil || got != c || got.MachineID() != "m1" || got.Tenant != "t1" || got.Scope != Scope {
		t.Fatalf("Verify = %+v, %v", got, err)
	}
	parts := strings.Split(tok, ".")
	enc := base64.RawURLEncoding.EncodeToString
	other, _ := Load(ctx, &memKeys{}, "https://slipway.example", now)
	otherTok, _, _ := other.Issue(ctx, "m1", "t1", now, time.Minute)
	wrongIss, _ := Load(ctx, ks, "https://other.example", now)
	wrongIssTok, _, _ := wrongIss.Issue(ctx, "m1", "t1", now, time.Minute)
	noMachine, _, _ := is.Issue(ctx, "", "t1", now, time.Minute)
	tests := []struct {
		name string
		tok  string
		at   time.Time
		want error
	}{
		{"expired", tok, now.Add(15 * time.Minute), ErrExpired},
		{"not yet valid", tok, now.Add(-time.Hour), ErrExpired},
		{"alg none", enc([]byte(`{"alg":"none","typ":"JWT"}`)) + "." + parts[1] + ".", now, ErrMalformed},
		{"alg HS256", enc([]byte(`{"alg":"HS256","typ":"JWT","kid":"x"}`)) + "." + parts[1] + "." + parts[2], now, ErrMalformed},
		{"tampered payload", parts[0] + "." + enc([]byte(`{"sub":"machine:evil"}`)) + "." + parts[2], now, ErrSignature},
		{"truncated signature", parts[0] + "." + parts[1] + "." + parts[2][:20], now, ErrSignature},
		{"other key", otherTok, now, ErrSignature},
		{"other issuer", wrongIssTok, now, ErrMalformed},
		{"no machine", noMachine, now, ErrMalformed},
		{"two parts", parts[0] + "." + parts[1], now, ErrMalformed},
		{"JSON serialization", `{"payload":"` + parts[1] + `"}`, now, ErrMalformed},
		{"garbage", "!!!.###.$$$", now, ErrMalformed},
		{"huge", strings.Repeat("a", MaxLen+1), now, ErrMalformed},
		{"empty", "", now, ErrMalformed},
	}
	for _, tc := range tests {
		if _, err := is.Verify(ctx, tc.tok, tc.at); !errors.Is(err, tc.want) {
			t.Errorf("%s: got %v, want %v", tc.name, err, tc.want)
		}
	}
}

func TestLoadRejectsBadSeed(t *testing.T) {
	ks := &memKeys{keys: []store.SigningKey{{ID: "k", Seed: []byte("short")}}}
	if _, err := Load(t.Context(), ks, "x", now); err == nil {
		t.Fatal("accepted a short seed")
	}
}

// fixedKey is the golden files' key: seed 0x01..0x20, kid "k1".
func fixedKey(t testing.TB) (store.SigningKey, key) {
	seed := make([]byte, ed25519.SeedSize)
	for i := range seed {
		seed[i] = byte(i + 1)
	}
	sk := store.SigningKey{ID: "k1", Seed: seed, CreatedAt: now}
	k, err := newKey(sk)
	if err != nil {
		t.Fatal(err)
	}
	return sk, k
}

func fixedClaims() Claims {
	return Claims{Issuer: "https://slipway.example", Subject: "machine:m1", Tenant: "t1", Scope: Scope,
		IssuedAt: now.Unix(), NotBefore: now.Unix(), ExpiresAt: now.Add(15 * time.Minute).Unix(), ID: "00112233445566778899aabbccddeeff"}
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s changed (wire format):\n got %s\nwant %s", name, got, want)
	}
}

func decodeJSON(t *testing.T, b []byte) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("%s: %v", b, err)
	}
	return m
}

// TestWireFormat pins the JWKS document and a token (header, claims and
// the whole compact form, Ed25519 being deterministic) in golden files,
// and checks both against the hand-written code they replaced: the same
// members and values, and tokens of either verify with the other, so
// replicas of both versions interoperate during an upgrade.
func TestWireFormat(t *testing.T) {
	ctx := t.Context()
	sk, k := fixedKey(t)
	priv := ed25519.NewKeyFromSeed(sk.Seed)
	jwks, err := jwksOf([]key{k})
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "jwks.golden.json", append(jwks, '\n'))
	if got, want := decodeJSON(t, jwks), decodeJSON(t, legacyJWKS("k1", k.pub)); !reflect.DeepEqual(got, want) {
		t.Errorf("JWKS members differ from the hand-written code's:\n go-jose %v\n before  %v", got, want)
	}

	c := fixedClaims()
	tok, err := sign(k, c)
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "token.golden.txt", []byte(tok+"\n"))
	parts := strings.Split(tok, ".")
	header, _ := base64.RawURLEncoding.DecodeString(parts[0])
	claims, _ := base64.RawURLEncoding.DecodeString(parts[1])
	golden(t, "token-header.golden.json", append(header, '\n'))
	golden(t, "token-claims.golden.json", append(claims, '\n'))
	old := legacyIssue("k1", priv, c)
	oldParts := strings.Split(old, ".")
	for i, name := range []string{"header", "claims"} {
		a, _ := base64.RawURLEncoding.DecodeString(parts[i])
		b, _ := base64.RawURLEncoding.DecodeString(oldParts[i])
		if got, want := decodeJSON(t, a), decodeJSON(t, b); !reflect.DeepEqual(got, want) {
			t.Errorf("token %s differs from the hand-written code's:\n go-jose %v\n before  %v", name, got, want)
		}
	}

	is := &Issuer{ks: &memKeys{keys: []store.SigningKey{sk}}, issuer: c.Issuer, refresh: DefaultRefresh}
	r, err := newRing([]store.SigningKey{sk}, now)
	if err != nil {
		t.Fatal(err)
	}
	is.ring.Store(r)
	if got, err := is.Verify(ctx, old, now); err != nil || got != c {
		t.Errorf("go-jose Verify of a hand-written token: %+v, %v", got, err)
	}
	if got, err := legacyVerify("k1", k.pub, c.Issuer, tok, now); err != nil || got != c {
		t.Errorf("hand-written verify of a go-jose token: %+v, %v", got, err)
	}
}

// TestRereadsBounded: known kids never read the store; unknown kids read
// it at most once a second; the keys are reread every refresh interval,
// and a rotation is signed with at once by the rotating issuer and after
// the interval by another one on the same store.
func TestRereadsBounded(t *testing.T) {
	ctx := t.Context()
	ks := &memKeys{}
	a, err := Load(ctx, ks, "iss", now)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := Load(ctx, ks, "iss", now)
	tok, _, _ := a.Issue(ctx, "m1", "t", now, time.Hour)
	stranger, _ := Load(ctx, &memKeys{}, "iss", now)
	unknown, _, _ := stranger.Issue(ctx, "m1", "t", now, time.Hour)
	reads := ks.readCount()
	for range 100 {
		if _, err := b.Verify(ctx, tok, now); err != nil {
			t.Fatal(err)
		}
		if _, err := b.Verify(ctx, unknown, now); !errors.Is(err, ErrSignature) {
			t.Fatalf("unknown kid: %v", err)
		}
	}
	if got := ks.readCount() - reads; got != 1 {
		t.Fatalf("100 known and 100 unknown kids in one second read the store %d times, want 1", got)
	}
	old := a.KeyID(ctx, now)
	k, err := a.Rotate(ctx, now, now.Add(time.Hour))
	if err != nil || a.KeyID(ctx, now) != k.ID || k.ID == old || k.Seed != nil {
		t.Fatalf("rotate: %+v, %v; a signs with %s", k, err, a.KeyID(ctx, now))
	}
	if _, err := a.Rotate(ctx, now, now); err == nil {
		t.Fatal("rotation dropping the old keys at once accepted")
	}
	if b.KeyID(ctx, now.Add(time.Second)) != old || b.KeyID(ctx, now.Add(DefaultRefresh)) != k.ID {
		t.Fatal("b does not switch to the new key after its refresh interval")
	}
	if _, err := b.Verify(ctx, tok, now.Add(DefaultRefresh)); err != nil {
		t.Fatalf("pre-rotation token: %v", err)
	}
	if _, err := b.Verify(ctx, tok, now.Add(time.Hour)); !errors.Is(err, ErrSignature) {
		t.Fatalf("token of a dropped key: %v", err)
	}
	kid, key := b.CookieKey(ctx, now.Add(DefaultRefresh))
	if got, ok := b.CookieKeyFor(ctx, kid, now.Add(DefaultRefresh)); kid != k.ID || !ok || !bytes.Equal(got, key) {
		t.Fatal("cookie key of the current kid")
	}
	if _, ok := b.CookieKeyFor(ctx, old, now.Add(time.Hour)); ok {
		t.Fatal("cookie key of a dropped key")
	}
}
