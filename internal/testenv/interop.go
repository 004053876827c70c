package testenv

import (
	"os"
	"path/filepath"
	"runtime"
	"testing"
)

// RepoRoot returns the repository root (the directory holding go.mod).
func RepoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", ".."))
}

// Interop returns the path of a reference fixture from the interop
// specification (testdata/interop, a copy of the steering repository's
// shared/interop: real Tauri, minisign, cosign and GoReleaser files). The
// test fails when the fixture is missing: they are committed.
func Interop(t testing.TB, rel ...string) string {
	t.Helper()
	p := filepath.Join(append([]string{RepoRoot(), "testdata", "interop"}, rel...)...)
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("interop fixture: %v", err)
	}
	return p
}
