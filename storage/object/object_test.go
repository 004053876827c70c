package object

import (
	"errors"
	"strings"
	"testing"
)

func TestValidateKey(t *testing.T) {
	tests := []struct {
		name string
		key  string
		ok   bool
	}{
		{"simple", "release.json", true},
		{"nested", "releases/agent/1.4.0/slipway-agent_1.4.0_linux_amd64.tar.gz", true},
		{"unicode", "releases/désktop/x", true},
		{"dots inside", "a..b/.hidden/x.", true},
		{"max length", strings.Repeat("abcd/", 204) + "abcd", true},
		{"empty", "", false},
		{"leading slash", "/a", false},
		{"trailing slash", "a/", false},
		{"double slash", "a//b", false},
		{"dot", ".", false},
		{"dotdot", "..", false},
		{"dot segment", "a/./b", false},
		{"dotdot segment", "a/../b", false},
		{"backslash", `a\b`, false},
		{"nul", "a\x00", false},
		{"tab", "a\tb", false},
		{"del", "a\x7fb", false},
		{"invalid utf8", "\xc3\x28", false},
		{"too long", strings.Repeat("a/", 512) + "a", false},
		{"segment too long", strings.Repeat("s", MaxSegmentLen+1), false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := ValidateKey(tc.key)
			if tc.ok && err != nil {
				t.Fatalf("ValidateKey(%q) = %v, want nil", tc.key, err)
			}
			if !tc.ok && !errors.Is(err, ErrInvalidKey) {
				t.Fatalf("ValidateKey(%q) = %v, want ErrInvalidKey", tc.key, err)
			}
		})
	}
}

func TestValidatePrefix(t *testing.T) {
	for _, p := range []string{"", "releases", "releases/", "releases/ag", "releases/.", "releases/.hid", "a/b/"} {
		if err := ValidatePrefix(p); err != nil {
			t.Errorf("ValidatePrefix(%q) = %v, want nil", p, err)
		}
	}
	for _, p := range []string{"/", "/a", "..", "../", "a/..", "a/../b", "a//", `a\`, "./a", strings.Repeat("x", MaxKeyLen+1)} {
		if err := ValidatePrefix(p); !errors.Is(err, ErrInvalidKey) {
			t.Errorf("ValidatePrefix(%q) = %v, want ErrInvalidKey", p, err)
		}
	}
}
