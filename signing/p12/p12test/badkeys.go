package p12test

import (
	"bytes"
	"crypto/x509"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/slipwayhq/slipway/signing"
)

// KeyCase is a broken key configuration and the error it must produce.
type KeyCase struct {
	Name     string
	P12      string
	Password string
	Want     error
}

// BadKeys returns the key problems every code signer must report with an
// error naming the key: wrong or missing password, truncated file, a key
// of the wrong kind (PEM, TLS-only certificate) and a missing file.
func BadKeys(t testing.TB) []KeyCase {
	t.Helper()
	pki := New(t, []byte("right"), Options{})
	tlsOnly := New(t, []byte("right"), Options{ExtUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}})
	dir := t.TempDir()
	raw, err := os.ReadFile(pki.P12)
	if err != nil {
		t.Fatal(err)
	}
	truncated := filepath.Join(dir, "truncated.p12")
	if err := os.WriteFile(truncated, raw[:len(raw)/2], 0o600); err != nil {
		t.Fatal(err)
	}
	return []KeyCase{
		{"wrong password", pki.P12, "hunter2-typo", signing.ErrWrongPassword},
		{"missing password", pki.P12, "", signing.ErrNoPassword},
		{"truncated", truncated, "right", signing.ErrBadKey},
		{"pem instead of p12", pki.CAPEM, "right", signing.ErrBadKey},
		{"not for code signing", tlsOnly.P12, "right", signing.ErrBadKey},
		{"missing file", filepath.Join(dir, "nope.p12"), "right", os.ErrNotExist},
	}
}

// RunBadKeys signs a fresh file (from newFile) with a backend built for
// each case and checks the error: it matches the case, names the key,
// does not contain the password, Check reports a problem too, and the
// file is unchanged.
func RunBadKeys(t *testing.T, cases []KeyCase, newFile func(t *testing.T) string,
	newBackend func(p12 string, password []byte) signing.Backend) {
	t.Helper()
	for _, c := range cases {
		t.Run(c.Name, func(t *testing.T) {
			path := newFile(t)
			before, _ := os.ReadFile(path)
			b := newBackend(c.P12, []byte(c.Password))
			_, err := b.Sign(t.Context(), path)
			if !errors.Is(err, c.Want) {
				t.Fatalf("Sign = %v, want %v", err, c.Want)
			}
			if c.P12 != "" && !strings.Contains(err.Error(), c.P12) {
				t.Errorf("error %q does not name the key %s", err, c.P12)
			}
			if c.Password != "" && strings.Contains(err.Error(), c.Password) {
				t.Errorf("error leaks the password: %q", err)
			}
			if len(b.Check(t.Context())) == 0 {
				t.Error("Check reported nothing")
			}
			if after, _ := os.ReadFile(path); !bytes.Equal(before, after) {
				t.Error("file changed by a failed Sign")
			}
		})
	}
}
