package minisign

import (
	"errors"
	"math/rand/v2"
	"strings"
	"testing"
	"time"
)

func seededKey(t *testing.T, seed byte) (*SecretKey, *PublicKey) {
	t.Helper()
	sk, pk, err := GenerateKeyWithOptions(nil, KeyOptions{Rand: rand.NewChaCha8([32]byte{seed})})
	if err != nil {
		t.Fatal(err)
	}
	return sk, pk
}

func TestEndorsement(t *testing.T) {
	now := time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC)
	sk1, pk1 := seededKey(t, 1)
	sk2, pk2 := seededKey(t, 2)
	_, pk3 := seededKey(t, 3)
	e12, err := Endorse(sk1, "agent", pk2, now)
	if err != nil {
		t.Fatal(err)
	}
	e23, err := Endorse(sk2, "agent", pk3, now)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := VerifyEndorsement([]*PublicKey{pk1}, "agent", e12); err != nil || got.ID != pk2.ID {
		t.Fatalf("endorsed by the trusted key: %v %v", got, err)
	}
	self, _ := Endorse(sk2, "agent", pk2, now)
	flipped := []byte(e12)
	flipped[len(flipped)-20] ^= 1 // inside the global signature
	for name, c := range map[string]struct {
		trusted []*PublicKey
		subject string
		text    string
	}{
		"untrusted signer":  {[]*PublicKey{pk1}, "agent", e23},
		"self-endorsement":  {[]*PublicKey{pk1}, "agent", self},
		"other subject":     {[]*PublicKey{pk1}, "myapp", e12},
		"garbage":           {[]*PublicKey{pk1}, "agent", "not base64!"},
		"empty":             {[]*PublicKey{pk1}, "agent", ""},
		"tampered":          {[]*PublicKey{pk1}, "agent", string(flipped)},
		"oversize":          {[]*PublicKey{pk1}, "agent", strings.Repeat("A", MaxTauriSignatureLen+4)},
		"no trusted keys":   {nil, "agent", e12},
		"wrong trusted key": {[]*PublicKey{pk3}, "agent", e12},
	} {
		if _, err := VerifyEndorsement(c.trusted, c.subject, c.text); !errors.Is(err, ErrNotEndorsed) {
			t.Errorf("%s: %v, want ErrNotEndorsed", name, err)
		}
	}
	// A plain artifact signature by the trusted key is not an endorsement.
	plain, _ := Sign(sk1, strings.NewReader(pk2.String()), SignOptions{Time: now})
	if _, err := VerifyEndorsement([]*PublicKey{pk1}, "agent", plain.Tauri()); !errors.Is(err, ErrNotEndorsed) {
		t.Errorf("plain signature accepted as an endorsement: %v", err)
	}
	// The closure follows a chain given in any order.
	got := EndorsementClosure([]*PublicKey{pk1}, "agent", []string{e23, e12, self})
	if len(got) != 3 || got[1].ID != pk2.ID || got[2].ID != pk3.ID {
		t.Fatalf("closure: %v", got)
	}
	if got := EndorsementClosure([]*PublicKey{pk3}, "agent", []string{e12, e23}); len(got) != 1 {
		t.Fatalf("closure from the newest key grew backwards: %v", got)
	}
}
