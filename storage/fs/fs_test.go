package fs_test

import (
	"errors"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/slipwayhq/slipway/storage"
	"github.com/slipwayhq/slipway/storage/fs"
	"github.com/slipwayhq/slipway/storage/storagetest"
)

func newStore(t *testing.T) *fs.Store {
	t.Helper()
	st, err := fs.New(filepath.Join(t.TempDir(), "artifacts"), fs.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func TestConformance(t *testing.T) {
	storagetest.Run(t, func(t *testing.T) storage.Store { return newStore(t) }, storagetest.Options{})
}

// TestTraversal shows that no key, however crafted, reaches outside the root.
func TestTraversal(t *testing.T) {
	parent := t.TempDir()
	st, err := fs.New(filepath.Join(parent, "root"), fs.Options{})
	if err != nil {
		t.Fatal(err)
	}
	secret := filepath.Join(parent, "secret")
	if err := os.WriteFile(secret, []byte("do not touch"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{
		"../secret", "../../secret", "a/../../secret", "/" + secret, `..\secret`,
		"..", ".", "./secret", "a/./../secret", fs.TempPrefix + "x", "a/" + fs.TempPrefix + "x",
	} {
		err := st.Put(t.Context(), key, strings.NewReader("pwned"), 5, "")
		if !errors.Is(err, storage.ErrInvalidKey) {
			t.Errorf("Put(%q) = %v, want ErrInvalidKey", key, err)
		}
		if err := st.Delete(t.Context(), key); !errors.Is(err, storage.ErrInvalidKey) {
			t.Errorf("Delete(%q) = %v, want ErrInvalidKey", key, err)
		}
	}
	if b, err := os.ReadFile(secret); err != nil || string(b) != "do not touch" {
		t.Fatalf("file outside the root changed: %q, %v", b, err)
	}
	entries, _ := os.ReadDir(parent)
	if len(entries) != 2 {
		t.Errorf("files appeared next to the root: %v", entries)
	}
}

func TestURLIsFileURL(t *testing.T) {
	st := newStore(t)
	u, err := st.URL(t.Context(), "releases/a b/x.tar.gz", 0)
	if err != nil {
		t.Fatal(err)
	}
	parsed, err := url.Parse(u)
	if err != nil || parsed.Scheme != "file" {
		t.Fatalf("URL %q: scheme %v, %v", u, parsed, err)
	}
	want := filepath.Join(st.Root(), "releases", "a b", "x.tar.gz")
	if filepath.FromSlash(parsed.Path) != want {
		t.Errorf("URL path %q, want %q", parsed.Path, want)
	}
}

// TestTempFilesHidden shows that an interrupted Put (a leftover temp file)
// is never listed and never served.
func TestTempFilesHidden(t *testing.T) {
	st := newStore(t)
	dir := filepath.Join(st.Root(), "releases")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, fs.TempPrefix+"123"), []byte("partial"), 0o644); err != nil {
		t.Fatal(err)
	}
	l, err := st.List(t.Context(), "")
	if err != nil || len(l) != 0 {
		t.Fatalf("List = %v, %v; want nothing", l, err)
	}
}

func TestDefaultRoot(t *testing.T) {
	t.Chdir(t.TempDir())
	st, err := fs.New("", fs.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasSuffix(filepath.ToSlash(st.Root()), "/data/artifacts") {
		t.Errorf("default root %q", st.Root())
	}
}

// TestPutWhileDeleteCleansUp: Delete removes directories it empties; a Put
// into the same directory at the same moment must still succeed.
func TestPutWhileDeleteCleansUp(t *testing.T) {
	st := newStore(t)
	ctx := t.Context()
	errs := make(chan error, 2)
	churn := func(key string) {
		for range 300 {
			if err := st.Put(ctx, key, strings.NewReader("x"), 1, ""); err != nil {
				errs <- err
				return
			}
			if err := st.Delete(ctx, key); err != nil {
				errs <- err
				return
			}
		}
		errs <- nil
	}
	go churn("d/e/a")
	go churn("d/e/b")
	for range 2 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
}
