package macos_test

import (
	"encoding/binary"
	"errors"
	"math/rand/v2"
	"os"
	"testing"

	"github.com/slipwayhq/slipway/signing/macos"
	"github.com/slipwayhq/slipway/signing/p12/p12test"
)

// TestParseGarbage feeds the code-signature parser truncated, corrupted
// and oversized variants of a real signature: it must return errors, not
// panic or read out of bounds.
func TestParseGarbage(t *testing.T) {
	pki := p12test.New(t, []byte("pw"), p12test.Options{})
	bin := bins.Copy(t, "darwin", "arm64")
	if _, err := macos.New(pki.P12, []byte("pw"), macos.Options{}).Sign(t.Context(), bin); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	off, size := sigRange(t, bin)
	sig := data[off : off+size]
	if err := macos.ParseSignature(sig); err != nil {
		t.Fatalf("real signature: %v", err)
	}
	for n := 0; n < len(sig); n += 97 {
		if n < 12 {
			continue // the caller guarantees the 12-byte header
		}
		if macos.ParseSignature(sig[:n]) == nil {
			t.Errorf("truncated to %d of %d bytes: no error", n, len(sig))
		}
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for range 2000 {
		c := append([]byte(nil), sig...)
		for range 1 + rng.IntN(4) {
			c[rng.IntN(min(len(c), 400))] = byte(rng.Uint32()) // headers, index and code directory header
		}
		_ = macos.ParseSignature(c) // must not panic
	}
	huge := append([]byte(nil), sig...)
	binary.BigEndian.PutUint32(huge[8:], 1<<30) // blob count
	if err := macos.ParseSignature(huge); err == nil {
		t.Error("absurd blob count accepted")
	}
	noCD := append([]byte(nil), sig...)
	binary.BigEndian.PutUint32(noCD[12:], 0x7777) // first index entry's slot type
	if err := macos.ParseSignature(noCD); err == nil || errors.Is(err, nil) {
		t.Error("signature without a slot-0 code directory accepted")
	}
}
