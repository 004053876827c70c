package keyring

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/slipwayhq/slipway/signing"
	"github.com/slipwayhq/slipway/signing/minisign"
)

const pw = "keyring-test-password"

// minisignKey writes a minisign key (encrypted with password unless
// empty) and returns its path and the key.
func minisignKey(t *testing.T, password string) (string, *minisign.SecretKey) {
	t.Helper()
	sk, _, err := minisign.GenerateKeyWithOptions([]byte(password), minisign.KeyOptions{OpsLimit: 32768, MemLimit: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "minisign.key")
	if err := os.WriteFile(p, sk.Encode(), 0o600); err != nil {
		t.Fatal(err)
	}
	return p, sk
}

func clearEnv(t *testing.T) {
	for _, k := range []string{EnvCosignKey, EnvCosignPassword, EnvMinisignKey, EnvMinisignPassword, EnvTauriKey,
		EnvTauriPassword, EnvAuthenticodeP12, EnvAuthenticodePassword, EnvAuthenticodeTimestampURL, EnvMacOSP12, EnvMacOSPassword} {
		t.Setenv(k, "")
		os.Unsetenv(k)
	}
}

func TestFromEnv(t *testing.T) {
	path, sk := minisignKey(t, pw)
	tests := []struct {
		name     string
		env      map[string]string
		wantPath string
		inline   bool
		password string
	}{
		{"slipway vars", map[string]string{EnvMinisignKey: path, EnvMinisignPassword: pw}, path, false, pw},
		{"tauri path", map[string]string{EnvTauriKey: path, EnvTauriPassword: pw}, path, false, pw},
		{"tauri inline base64", map[string]string{EnvTauriKey: sk.Tauri(), EnvTauriPassword: pw}, "", true, pw},
		{"tauri inline text", map[string]string{EnvTauriKey: string(sk.Encode()), EnvTauriPassword: pw}, "", true, pw},
		{"slipway wins", map[string]string{EnvMinisignKey: path, EnvTauriKey: "/elsewhere", EnvMinisignPassword: pw, EnvTauriPassword: "other"}, path, false, pw},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clearEnv(t)
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			c := FromEnv()
			if c.MinisignKey != tt.wantPath || (len(c.MinisignKeyData) > 0) != tt.inline || string(c.MinisignPassword) != tt.password {
				t.Fatalf("config = key %q inline %v password ok %v", c.MinisignKey, len(c.MinisignKeyData) > 0, string(c.MinisignPassword) == tt.password)
			}
			got, err := c.LoadMinisignKey()
			if err != nil {
				t.Fatal(err)
			}
			if got.ID != sk.ID {
				t.Error("loaded the wrong key")
			}
		})
	}
	t.Run("unset vs empty password", func(t *testing.T) {
		clearEnv(t)
		if FromEnv().CosignPassword != nil {
			t.Error("unset COSIGN_PASSWORD should be nil")
		}
		t.Setenv(EnvCosignPassword, "")
		if p := FromEnv().CosignPassword; p == nil || len(p) != 0 {
			t.Error("empty COSIGN_PASSWORD should be set and empty")
		}
	})
}

// TestSecretsNeverPrint formats, logs and marshals a Config full of
// secrets; none may appear.
func TestSecretsNeverPrint(t *testing.T) {
	_, sk := minisignKey(t, "")
	c := Config{MinisignKeyData: Secret(sk.Tauri()), MinisignPassword: Secret("hunter2-password"),
		CosignPassword: Secret("cosign-hunter2"), MacOSPassword: Secret("mac-hunter2"), AuthenticodePassword: Secret("win-hunter2")}
	var out bytes.Buffer
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%x", "%q", "%d"} {
		fmt.Fprintf(&out, verb+"\n", c)
		fmt.Fprintf(&out, verb+"\n", c.MinisignPassword)
	}
	slog.New(slog.NewJSONHandler(&out, nil)).Info("config", "config", c, "password", c.MinisignPassword)
	slog.New(slog.NewTextHandler(&out, nil)).Info("config", "password", c.CosignPassword)
	j, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	out.Write(j)
	for _, secret := range []string{"hunter2", sk.Tauri()[:40], "68756e74657232" /* hex of hunter2 */} {
		if strings.Contains(out.String(), secret) {
			t.Fatalf("secret %q leaked in:\n%s", secret, out.String())
		}
	}
	if !strings.Contains(out.String(), redacted) {
		t.Error("expected redaction markers")
	}
}

// TestLoadMinisignErrors: every failure names the key (path or env var),
// wraps the shared signing error, and never contains the key itself.
func TestLoadMinisignErrors(t *testing.T) {
	encPath, enc := minisignKey(t, pw)
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	truncated := write("truncated.key", string(enc.Encode()[:120]))
	public := write("public.key", string(enc.Public().Encode()))
	pem := write("cosign.key", "-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED SIGSTORE PRIVATE KEY-----\n")
	huge := write("huge.key", strings.Repeat("A", 1<<20))
	tests := []struct {
		name    string
		c       Config
		want    error
		mention string
	}{
		{"not configured", Config{}, ErrNotConfigured, EnvMinisignKey},
		{"missing file", Config{MinisignKey: filepath.Join(dir, "nope.key")}, fs.ErrNotExist, "nope.key"},
		{"no password", Config{MinisignKey: encPath}, signing.ErrNoPassword, EnvMinisignPassword},
		{"wrong password", Config{MinisignKey: encPath, MinisignPassword: Secret("wrong")}, signing.ErrWrongPassword, encPath},
		{"truncated", Config{MinisignKey: truncated}, signing.ErrBadKey, truncated},
		{"public key", Config{MinisignKey: public}, signing.ErrBadKey, "public key"},
		{"cosign key", Config{MinisignKey: pem}, signing.ErrBadKey, "PEM"},
		{"oversize", Config{MinisignKey: huge}, signing.ErrBadKey, huge},
		{"inline wrong password", Config{MinisignKeyData: Secret(enc.Tauri()), MinisignPassword: Secret("x")}, signing.ErrWrongPassword, "$" + EnvTauriKey},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := tt.c.LoadMinisignKey()
			if !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
			if !strings.Contains(err.Error(), tt.mention) {
				t.Errorf("error %q does not mention %q", err, tt.mention)
			}
			if strings.Contains(err.Error(), enc.Tauri()[:30]) {
				t.Error("error contains key material")
			}
		})
	}
}

func TestGenerate(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "keys")
	files, err := Generate(KindMinisign, dir, []byte(pw), GenerateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	assertMode(t, dir, 0o700)
	assertMode(t, files.Secret, SecretKeyMode)
	assertMode(t, files.Public, PublicKeyMode)
	sk, err := Config{MinisignKey: files.Secret, MinisignPassword: Secret(pw)}.LoadMinisignKey()
	if err != nil {
		t.Fatal(err)
	}
	pub, err := os.ReadFile(files.Public)
	if err != nil {
		t.Fatal(err)
	}
	pk, err := minisign.ParsePublicKey(pub)
	if err != nil || pk.ID != sk.ID {
		t.Fatalf("public key does not match: %v", err)
	}
	if _, err := Generate(KindMinisign, dir, nil, GenerateOptions{}); !errors.Is(err, fs.ErrExist) {
		t.Errorf("overwrite without force: err = %v", err)
	}
	if _, err := Generate(KindMinisign, dir, nil, GenerateOptions{Force: true, Unencrypted: true}); err != nil {
		t.Errorf("force: %v", err)
	}
	sk2, err := Config{MinisignKey: files.Secret}.LoadMinisignKey()
	if err != nil || sk2.Encrypted() || sk2.ID == sk.ID {
		t.Errorf("forced unencrypted key: %v", err)
	}
	if _, err := Generate("gpg", dir, nil, GenerateOptions{}); err == nil {
		t.Error("unknown kind accepted")
	}
}

func assertMode(t *testing.T, path string, want os.FileMode) {
	t.Helper()
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != want {
		t.Errorf("%s mode %04o, want %04o", path, st.Mode().Perm(), want)
	}
}

func TestEnsureDevKeys(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "keys")
	c, err := EnsureDevKeys(dir)
	if err != nil {
		t.Fatal(err)
	}
	assertMode(t, c.MinisignKey, SecretKeyMode)
	first, _ := os.ReadFile(c.MinisignKey)
	// Loosen the mode: EnsureDevKeys tightens it again and reuses the key.
	if err := os.Chmod(c.MinisignKey, 0o644); err != nil {
		t.Fatal(err)
	}
	c2, err := EnsureDevKeys(dir)
	if err != nil {
		t.Fatal(err)
	}
	second, _ := os.ReadFile(c2.MinisignKey)
	if !bytes.Equal(first, second) {
		t.Error("existing dev key was replaced")
	}
	assertMode(t, c2.MinisignKey, SecretKeyMode)

	assertMode(t, c2.CosignKey, SecretKeyMode)
	signers, err := c2.ArtifactSigners()
	if err != nil {
		t.Fatal(err)
	}
	if len(signers) != 2 || signers[0].String() != "cosign" || signers[1].String() != "minisign" {
		t.Fatalf("signers = %v", signers)
	}
	art := filepath.Join(t.TempDir(), "app.tar.gz")
	if err := os.WriteFile(art, []byte("archive"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, s := range signers {
		if _, err := s.Sign(t.Context(), art); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
		if err := s.Verify(t.Context(), art); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	}

	if err := os.Remove(filepath.Join(dir, "minisign.pub")); err != nil {
		t.Fatal(err)
	}
	if _, err := EnsureDevKeys(dir); err == nil || !strings.Contains(err.Error(), "incomplete") {
		t.Errorf("incomplete pair: err = %v", err)
	}
}

func TestCosignKeyErrors(t *testing.T) {
	dir := t.TempDir()
	files, err := Generate(KindCosign, dir, []byte(pw), GenerateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	assertMode(t, files.Secret, SecretKeyMode)
	if _, err := (Config{CosignKey: files.Secret, CosignPassword: Secret(pw)}).CosignSigner(); err != nil {
		t.Fatal(err)
	}
	_, err = Config{CosignKey: files.Secret, CosignPassword: Secret("wrong")}.CosignSigner()
	if !errors.Is(err, signing.ErrWrongPassword) || !strings.Contains(err.Error(), files.Secret) {
		t.Errorf("wrong password: %v", err)
	}
	mpath, _ := minisignKey(t, "")
	_, err = Config{CosignKey: mpath}.CosignSigner()
	if !errors.Is(err, signing.ErrBadKey) || !strings.Contains(err.Error(), mpath) {
		t.Errorf("minisign key as cosign key: %v", err)
	}
	_, err = Config{MinisignKey: files.Secret}.LoadMinisignKey()
	if !errors.Is(err, signing.ErrBadKey) || !strings.Contains(err.Error(), files.Secret) {
		t.Errorf("cosign key as minisign key: %v", err)
	}
}

func TestArtifactSigners(t *testing.T) {
	if _, err := (Config{}).ArtifactSigners(); !errors.Is(err, ErrNotConfigured) {
		t.Errorf("no keys: err = %v", err)
	}
	path, _ := minisignKey(t, pw)
	_, err := Config{MinisignKey: path}.ArtifactSigners()
	if !errors.Is(err, signing.ErrNoPassword) {
		t.Errorf("missing password: err = %v", err)
	}
	s, err := Config{MinisignKey: path, MinisignPassword: Secret(pw), Version: "1.0.0"}.ArtifactSigners()
	if err != nil || len(s) != 1 || s[0].String() != "minisign" {
		t.Fatalf("signers = %v, %v", s, err)
	}
}

func TestBinarySigner(t *testing.T) {
	dir := t.TempDir()
	pe := make([]byte, 0x80)
	copy(pe, "MZ")
	binary.LittleEndian.PutUint32(pe[0x3c:], 0x40)
	copy(pe[0x40:], "PE\x00\x00")
	macho := make([]byte, 64)
	binary.BigEndian.PutUint32(macho, 0xcffaedfe)
	tests := []struct {
		name    string
		data    []byte
		c       Config
		backend string // "" for none
	}{
		{"PE with certificate", pe, Config{AuthenticodeP12: "/certs/win.p12"}, "authenticode"},
		{"PE without certificate", pe, Config{}, ""},
		{"Mach-O ad hoc", macho, Config{}, "macos"},
		{"ELF", []byte("\x7fELF\x02\x01\x01\x00"), Config{AuthenticodeP12: "x"}, ""},
		{"text", []byte("#!/bin/sh\n"), Config{}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := filepath.Join(dir, strings.ReplaceAll(tt.name, " ", "_"))
			if err := os.WriteFile(p, tt.data, 0o755); err != nil {
				t.Fatal(err)
			}
			b, err := tt.c.BinarySigner(p)
			if err != nil {
				t.Fatal(err)
			}
			got := ""
			if b != nil {
				got = b.String()
			}
			if got != tt.backend {
				t.Errorf("backend = %q, want %q", got, tt.backend)
			}
		})
	}
	if _, err := (Config{}).BinarySigner(filepath.Join(dir, "missing")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}
}

func TestDoctor(t *testing.T) {
	path, _ := minisignKey(t, pw)
	byName := func(rs []Report) map[string]Report {
		m := map[string]Report{}
		for _, r := range rs {
			m[r.Backend] = r
		}
		return m
	}
	r := byName(Config{}.Doctor(t.Context()))
	if len(r) != 4 || r["minisign"].Configured || r["cosign"].Configured || r["authenticode"].Configured || !r["macos"].Configured {
		t.Fatalf("unconfigured reports: %+v", r)
	}
	r = byName(Config{MinisignKey: path, MinisignPassword: Secret(pw)}.Doctor(t.Context()))
	if m := r["minisign"]; !m.Configured || len(m.Problems) != 0 || m.Source != path {
		t.Errorf("good minisign key: %+v", m)
	}
	r = byName(Config{MinisignKey: path, MinisignPassword: Secret("bad")}.Doctor(t.Context()))
	if m := r["minisign"]; len(m.Problems) != 1 || !errors.Is(m.Problems[0], signing.ErrWrongPassword) {
		t.Errorf("wrong password: %+v", m)
	}
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	r = byName(Config{MinisignKey: path, MinisignPassword: Secret(pw)}.Doctor(t.Context()))
	if m := r["minisign"]; len(m.Problems) != 1 || !strings.Contains(m.Problems[0].Error(), "chmod 600") {
		t.Errorf("world-readable key: %+v", m)
	}
}
