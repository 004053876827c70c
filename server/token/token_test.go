package token

import (
	"strings"
	"testing"
)

func TestNew(t *testing.T) {
	a, ha := New(Machine)
	b, hb := New(Machine)
	if a == b || Equal(ha, hb) {
		t.Fatal("two tokens are equal")
	}
	if !strings.HasPrefix(a, "swm_") || len(a) != 4+43 {
		t.Fatalf("token %q has the wrong shape", Hint(a))
	}
	if !Equal(Hash(a), ha) {
		t.Fatal("hash does not match")
	}
	if Equal(nil, nil) || Equal([]byte("short"), []byte("short")) {
		t.Fatal("Equal accepted non-hashes")
	}
	if Hint(a) != a[:8] || Hint("nounderscore") != "" {
		t.Fatalf("Hint = %q", Hint(a))
	}
}
