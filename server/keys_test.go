package server_test

import (
	"bytes"
	"crypto/ed25519"
	"encoding/base64"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/slipwayhq/slipway/server"
	"github.com/slipwayhq/slipway/server/keyseal"
	"github.com/slipwayhq/slipway/server/store"
	"github.com/slipwayhq/slipway/server/store/sqlite"
)

// TestSigningKeysSealedAtRest: a single server creates DataDir/secret.key
// (0600) and keeps the session signing key sealed in SQLite; the same
// database with another key file does not start.
func TestSigningKeysSealedAtRest(t *testing.T) {
	dir := t.TempDir()
	st, err := sqlite.Open(t.Context(), filepath.Join(dir, "slipway.db"), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	srv, err := server.New(server.Config{DataDir: dir}, server.Options{Store: st})
	if err != nil {
		t.Fatal(err)
	}
	srv.Close()
	fi, err := os.Stat(filepath.Join(dir, "secret.key"))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("secret.key: %v %v", fi, err)
	}
	keys, err := st.SigningKeys(t.Context())
	if err != nil || len(keys) != 1 || !keyseal.Sealed(keys[0].Seed) {
		t.Fatalf("stored keys not sealed: %+v %v", keys, err)
	}
	// A restart with the same file opens them.
	srv, err = server.New(server.Config{DataDir: dir}, server.Options{Store: st})
	if err != nil {
		t.Fatalf("restart: %v", err)
	}
	srv.Close()
	other := filepath.Join(t.TempDir(), "other.key")
	if err := os.WriteFile(other, []byte(strings.Repeat("ab", keyseal.KeySize)), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := server.New(server.Config{DataDir: dir, SecretKeyFile: other}, server.Options{Store: st}); !errors.Is(err, keyseal.ErrWrongKey) {
		t.Fatalf("another key file: %v", err)
	}
	garbage := filepath.Join(t.TempDir(), "garbage.key")
	if err := os.WriteFile(garbage, []byte("not a key"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := server.New(server.Config{DataDir: dir, SecretKeyFile: garbage}, server.Options{Store: st}); err == nil || !strings.Contains(err.Error(), "secret key file") {
		t.Fatalf("garbage key file: %v", err)
	}
}

// TestUnsealedKeysAreSealedOnStart: a database from before sealing (a plain
// seed) gets its key sealed in place on the next start, and the key itself
// (hence every session already issued) stays the same.
func TestUnsealedKeysAreSealedOnStart(t *testing.T) {
	dir := t.TempDir()
	st, err := sqlite.Open(t.Context(), filepath.Join(dir, "slipway.db"), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	seed := bytes.Repeat([]byte{42}, 32)
	if err := st.CreateSigningKey(t.Context(), store.SigningKey{ID: "legacy", Seed: seed, CreatedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	srv, err := server.New(server.Config{DataDir: dir}, server.Options{Store: st})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv)
	defer ts.Close()
	defer srv.Close()
	keys, err := st.SigningKeys(t.Context())
	if err != nil || len(keys) != 1 || !keyseal.Sealed(keys[0].Seed) {
		t.Fatalf("legacy key not sealed: %+v %v", keys, err)
	}
	res, err := http.Get(ts.URL + "/.well-known/jwks.json")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	want := base64.RawURLEncoding.EncodeToString(ed25519.NewKeyFromSeed(seed).Public().(ed25519.PublicKey))
	if !strings.Contains(string(body), want) || !strings.Contains(string(body), `"legacy"`) {
		t.Fatalf("JWKS no longer serves the legacy key: %s", body)
	}
}
