// Package testenv finds the real external tools that tests use as reference
// verifiers and peers (cosign, minisign, osslsigncode, versitygw, chromium...).
//
// A missing tool skips the test on a developer machine, but fails it when
// CI=true: CI must never go green by skipping the checks that matter.
package testenv

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// CI reports whether the tests run in CI (CI=true), where skips are failures.
func CI() bool { return os.Getenv("CI") == "true" }

// CacheBin is where scripts/tools.sh installs pinned tools.
func CacheBin() string {
	if d := os.Getenv("SLIPWAY_CACHE"); d != "" {
		return filepath.Join(d, "bin")
	}
	home, _ := os.UserHomeDir()
	return filepath.Join(home, ".cache", "slipway", "bin")
}

// LookTool returns the path of a tool from PATH or the Slipway tool cache.
func LookTool(name string) (string, bool) {
	if p, err := exec.LookPath(name); err == nil {
		return p, true
	}
	p := filepath.Join(CacheBin(), name)
	if st, err := os.Stat(p); err == nil && !st.IsDir() && st.Mode()&0o111 != 0 {
		return p, true
	}
	return "", false
}

// Tool returns the path of the named tool, skipping the test when it is
// missing locally and failing it in CI. hint tells the reader how to get it.
func Tool(t testing.TB, name, hint string) string {
	t.Helper()
	if p, ok := LookTool(name); ok {
		return p
	}
	Missing(t, name+" not found ("+hint+")")
	return ""
}

// Missing skips (locally) or fails (CI=true) the test for a missing dependency.
func Missing(t testing.TB, why string) {
	t.Helper()
	if CI() {
		t.Fatalf("required in CI: %s", why)
	}
	t.Skip(why)
}
