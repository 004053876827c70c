package channel

import (
	"errors"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/slipwayhq/slipway/signing/minisign"
)

const testPub = "RWQf6LRCGA9i53mlYecO4IzT51TGPpvWucNSCh1CBM0QTaLn73Y7GFO3"

func TestKeysParse(t *testing.T) {
	ok := "keys:\n  myapp:\n    - " + testPub + "\nproducts:\n  myapp:\n    stable:\n      version: 1.2.3\n"
	f, err := Parse([]byte(ok))
	if err != nil {
		t.Fatal(err)
	}
	if pks, err := f.TrustedKeys("myapp"); err != nil || len(pks) != 1 {
		t.Fatalf("TrustedKeys = %v, %v", pks, err)
	}
	if pks, err := f.TrustedKeys("agent"); err != nil || pks != nil {
		t.Fatalf("a product without keys: %v, %v", pks, err)
	}
	out, err := f.Marshal()
	if err != nil || !strings.Contains(string(out), "keys:\n  myapp:\n    - "+testPub) {
		t.Fatalf("marshal:\n%s %v", out, err)
	}
	for name, doc := range map[string]string{
		"not a key":       "keys:\n  myapp: [nope]\n",
		"no key":          "keys:\n  myapp: []\n",
		"twice":           "keys:\n  myapp: [" + testPub + ", " + testPub + "]\n",
		"bad product":     "keys:\n  My_App: [" + testPub + "]\n",
		"not a list":      "keys:\n  myapp: " + testPub + "\n",
		"too many":        "keys:\n  myapp: [" + strings.Repeat(testPub+", ", MaxKeys) + testPub + "]\n",
		"unknown section": "trust:\n  myapp: [" + testPub + "]\n",
	} {
		if _, err := Parse([]byte(doc)); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: %v", name, err)
		}
	}
}

// TestEndorseAndRetire: a key change in the channels file. Endorse lists
// the new key next to the current one with the old key's endorsement (the
// overlap), the file round-trips, Retire ends the overlap, and broken
// endorsements are invalid.
func TestEndorseAndRetire(t *testing.T) {
	now := time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC)
	key := func(seed byte) (*minisign.SecretKey, *minisign.PublicKey) {
		sk, pk, err := minisign.GenerateKeyWithOptions(nil, minisign.KeyOptions{Rand: rand.NewChaCha8([32]byte{seed})})
		if err != nil {
			t.Fatal(err)
		}
		return sk, pk
	}
	sk1, pk1 := key(1)
	sk2, pk2 := key(2)
	f := &File{}
	if err := f.Promote("agent", "stable", "1.0.0", 100); err != nil {
		t.Fatal(err)
	}
	if err := f.Endorse("agent", sk2, pk1, pk2, now); !errors.Is(err, ErrInvalid) {
		t.Fatalf("secret key of another key: %v", err)
	}
	if err := f.Endorse("agent", sk1, pk1, pk2, now); err != nil {
		t.Fatal(err)
	}
	if got, _ := f.TrustedKeys("agent"); len(got) != 2 || got[0].ID != pk1.ID || got[1].ID != pk2.ID {
		t.Fatalf("keys during the overlap: %v", got)
	}
	data, err := f.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	back, err := Parse(data)
	if err != nil {
		t.Fatalf("%v\n%s", err, data)
	}
	if len(back.Endorsements["agent"]) != 1 {
		t.Fatalf("endorsements after a round trip: %v", back.Endorsements)
	}
	if err := back.Retire("agent", pk1.ID); err != nil {
		t.Fatal(err)
	}
	if got, _ := back.TrustedKeys("agent"); len(got) != 1 || got[0].ID != pk2.ID {
		t.Fatalf("keys after retiring: %v", got)
	}
	for name, err := range map[string]error{
		"retire unknown": back.Retire("agent", pk1.ID),
		"retire last":    back.Retire("agent", pk2.ID),
	} {
		if !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: %v", name, err)
		}
	}
	e := back.Endorsements["agent"][0]
	for name, doc := range map[string]string{
		"garbage":       "keys:\n  agent: [" + testPub + "]\nendorsements:\n  agent: [nope]\n",
		"other product": "keys:\n  myapp: [" + testPub + "]\nendorsements:\n  myapp: [" + e + "]\n",
		"no keys":       "endorsements:\n  agent: [" + e + "]\n",
		"too many":      "keys:\n  agent: [" + testPub + "]\nendorsements:\n  agent: [" + strings.Repeat(e+", ", MaxEndorsements) + e + "]\n",
	} {
		if _, err := Parse([]byte(doc)); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: %v", name, err)
		}
	}
}
