package session

import (
	"crypto/ed25519"
	"testing"

	"github.com/slipwayhq/slipway/server/store"
)

// BenchmarkVerify verifies the same session with go-jose (Issuer.Verify,
// a known kid: no store read) and with the hand-written code it replaced
// (legacy_test.go), side by side in one run (docs/benchmarks.md, issue 14).
func BenchmarkVerify(b *testing.B) {
	sk, k := fixedKey(b)
	c := fixedClaims()
	tok, err := sign(k, c)
	if err != nil {
		b.Fatal(err)
	}
	is := &Issuer{ks: &memKeys{keys: []store.SigningKey{sk}}, issuer: c.Issuer, refresh: DefaultRefresh}
	r, err := newRing([]store.SigningKey{sk}, now)
	if err != nil {
		b.Fatal(err)
	}
	is.ring.Store(r)
	b.Run("go-jose", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := is.Verify(b.Context(), tok, now); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("hand-written", func(b *testing.B) {
		b.ReportAllocs()
		pub := ed25519.NewKeyFromSeed(sk.Seed).Public().(ed25519.PublicKey)
		for b.Loop() {
			if _, err := legacyVerify("k1", pub, c.Issuer, tok, now); err != nil {
				b.Fatal(err)
			}
		}
	})
}
