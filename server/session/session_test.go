package session

import (
	"context"
	"encoding/base64"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/slipwayhq/slipway/server/store"
)

// memKeys is a minimal in-memory SigningKeyStore.
type memKeys struct{ keys []store.SigningKey }

func (m *memKeys) CreateSigningKey(_ context.Context, k store.SigningKey) error {
	m.keys = append([]store.SigningKey{k}, m.keys...)
	return nil
}
func (m *memKeys) SigningKeys(context.Context) ([]store.SigningKey, error) { return m.keys, nil }

var now = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

func TestIssueVerify(t *testing.T) {
	ks := &memKeys{}
	is, err := Load(t.Context(), ks, "https://slipway.example", now)
	if err != nil {
		t.Fatal(err)
	}
	if len(ks.keys) != 1 {
		t.Fatalf("Load created %d keys", len(ks.keys))
	}
	again, err := Load(t.Context(), ks, "https://slipway.example", now)
	if err != nil || len(ks.keys) != 1 || string(again.JWKS()) != string(is.JWKS()) {
		t.Fatalf("reload changed keys: %v", err)
	}
	tok, c, err := is.Issue("m1", "t1", now, 15*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	got, err := is.Verify(tok, now.Add(time.Minute))
	if err != nil || got != c || got.MachineID() != "m1" || got.Tenant != "t1" || got.Scope != Scope {
		t.Fatalf("Verify = %+v, %v", got, err)
	}
	parts := strings.Split(tok, ".")
	enc := base64.RawURLEncoding.EncodeToString
	other, _ := Load(t.Context(), &memKeys{}, "https://slipway.example", now)
	otherTok, _, _ := other.Issue("m1", "t1", now, time.Minute)
	wrongIss, _ := Load(t.Context(), ks, "https://other.example", now)
	wrongIssTok, _, _ := wrongIss.Issue("m1", "t1", now, time.Minute)
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
		{"other key", otherTok, now, ErrSignature},
		{"other issuer", wrongIssTok, now, ErrMalformed},
		{"two parts", parts[0] + "." + parts[1], now, ErrMalformed},
		{"garbage", "!!!.###.$$$", now, ErrMalformed},
		{"huge", strings.Repeat("a", MaxLen+1), now, ErrMalformed},
		{"empty", "", now, ErrMalformed},
	}
	for _, tc := range tests {
		if _, err := is.Verify(tc.tok, tc.at); !errors.Is(err, tc.want) {
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
