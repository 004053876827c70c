package storage

import (
	"strings"
	"testing"
)

// FuzzValidateKey: never panics, and an accepted key cannot escape a
// directory (no "..", "." or empty segments, no leading "/", no NUL or
// backslash). Seeds: testdata/fuzz/FuzzValidateKey.
func FuzzValidateKey(f *testing.F) {
	for _, k := range []string{"releases/agent/1.2.3/release.json", "tuf/1.root.json", "../x", "a//b", "/a", "a\x00b", `a\b`} {
		f.Add(k)
	}
	f.Fuzz(func(t *testing.T, key string) {
		if ValidateKey(key) != nil {
			return
		}
		if strings.HasPrefix(key, "/") || strings.ContainsAny(key, "\x00\\") {
			t.Fatalf("accepted %q", key)
		}
		for _, seg := range strings.Split(key, "/") {
			if seg == "" || seg == "." || seg == ".." {
				t.Fatalf("accepted %q with segment %q", key, seg)
			}
		}
	})
}
