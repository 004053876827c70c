package fs_test

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/slipwayhq/slipway/storage/fs"
)

// TestStaleTempSwept: a publish killed mid-upload (kill -9: no deferred
// cleanup runs) used to leave its .slipway-tmp-* file forever (2.6 GB
// after five kills of a 250 MB release). Opening the store removes those
// not written for an hour, and leaves fresh ones (an upload in progress
// in another process) and objects alone.
func TestStaleTempSwept(t *testing.T) {
	root := filepath.Join(t.TempDir(), "artifacts")
	st, err := fs.New(root, fs.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Put(t.Context(), "releases/agent/1.0.0/a.tar.gz", bytes.NewReader([]byte("abc")), 3, ""); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(root, "releases", "agent", "1.1.0")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	stale := filepath.Join(dir, fs.TempPrefix+"123")
	fresh := filepath.Join(dir, fs.TempPrefix+"456")
	for _, p := range []string{stale, fresh} {
		if err := os.WriteFile(p, make([]byte, 1000), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	old := time.Now().Add(-2 * time.Hour)
	if err := os.Chtimes(stale, old, old); err != nil {
		t.Fatal(err)
	}
	if _, err := fs.New(root, fs.Options{StaleTemp: -1}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(stale); err != nil {
		t.Fatal("swept with sweeping disabled")
	}
	if _, err := fs.New(root, fs.Options{}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(stale); !os.IsNotExist(err) {
		t.Fatalf("stale temp file kept: %v", err)
	}
	if _, err := os.Stat(fresh); err != nil {
		t.Fatalf("in-progress upload removed: %v", err)
	}
	if data, _ := os.ReadFile(filepath.Join(root, "releases/agent/1.0.0/a.tar.gz")); string(data) != "abc" {
		t.Fatal("object touched")
	}
	n, size, err := st.SweepTemp(time.Now().Add(time.Minute))
	if err != nil || n != 1 || size != 1000 {
		t.Fatalf("SweepTemp: %d files %d bytes %v", n, size, err)
	}
}
