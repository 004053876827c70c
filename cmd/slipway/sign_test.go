package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/slipwayhq/slipway/internal/testenv"
	"github.com/slipwayhq/slipway/signing/keyring"
)

// signEnv clears every key variable so the host environment cannot leak in.
func signEnv(t *testing.T, kv ...string) {
	t.Helper()
	for _, k := range []string{keyring.EnvCosignKey, keyring.EnvCosignPassword, keyring.EnvMinisignKey, keyring.EnvMinisignPassword,
		keyring.EnvTauriKey, keyring.EnvTauriPassword, keyring.EnvAuthenticodeP12, keyring.EnvMacOSP12} {
		t.Setenv(k, "")
		os.Unsetenv(k)
	}
	for i := 0; i+1 < len(kv); i += 2 {
		t.Setenv(kv[i], kv[i+1])
	}
}

func writeArtifact(t *testing.T, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestKeysSignVerify runs the user journey for each kind: generate a
// password-protected key, sign with it from the environment, verify with
// the public key, and see tampering rejected.
func TestKeysSignVerify(t *testing.T) {
	for _, kind := range keyring.Kinds() {
		t.Run(kind, func(t *testing.T) {
			dir := t.TempDir()
			keys := filepath.Join(dir, "keys")
			signEnv(t, "TEST_KEY_PASSWORD", "cli-password")
			out, err := runSlipway(t, "keys", "generate", "--kind", kind, "--out", keys, "--password-env", "TEST_KEY_PASSWORD")
			if err != nil {
				t.Fatalf("%v\n%s", err, out)
			}
			if _, err := runSlipway(t, "keys", "generate", "--kind", kind, "--out", keys, "--no-password"); err == nil {
				t.Error("generate overwrote an existing key without --force")
			}
			files := keyring.Files(kind, keys)
			st, err := os.Stat(files.Secret)
			if err != nil || st.Mode().Perm() != 0o600 {
				t.Fatalf("secret key mode: %v %v", st.Mode(), err)
			}
			art := writeArtifact(t, dir, "MyApp_2.0.0_x64-setup.exe", "installer bytes")
			envKey, envPw := keyring.EnvMinisignKey, keyring.EnvMinisignPassword
			if kind == keyring.KindCosign {
				envKey, envPw = keyring.EnvCosignKey, keyring.EnvCosignPassword
			}
			signEnv(t, envKey, files.Secret, envPw, "cli-password")
			if out, err := runSlipway(t, "sign", "--version", "2.0.0", art); err != nil {
				t.Fatalf("sign: %v\n%s", err, out)
			}
			out, err = runSlipway(t, "verify", "--key", files.Public, art)
			if err != nil || !strings.Contains(out, "OK") {
				t.Fatalf("verify: %v\n%s", err, out)
			}
			if kind == keyring.KindMinisign {
				if out, err := runSlipway(t, "verify", "--key", files.Public, "--version", "2.0.1", art); err == nil {
					t.Fatalf("verify accepted another signed version:\n%s", out)
				}
				ms := testenv.Tool(t, "minisign", "apt-get install minisign")
				if out, err := exec.Command(ms, "-Vm", art, "-p", files.Public).CombinedOutput(); err != nil {
					t.Fatalf("minisign CLI: %v\n%s", err, out)
				}
			}
			if err := os.WriteFile(art, []byte("installer bytes!"), 0o644); err != nil {
				t.Fatal(err)
			}
			if out, err := runSlipway(t, "verify", "--key", files.Public, art); err == nil || !strings.Contains(err.Error(), "FAILED") {
				t.Fatalf("verify accepted a tampered artifact: %v\n%s", err, out)
			}
		})
	}
}

// TestSignKeyErrors: bad keys and passwords give one-line errors that name
// the key, never a stack trace or the key material.
func TestSignKeyErrors(t *testing.T) {
	dir := t.TempDir()
	signEnv(t, "PW", "right")
	if out, err := runSlipway(t, "keys", "generate", "--kind", "minisign", "--out", dir, "--password-env", "PW"); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	key := filepath.Join(dir, "minisign.key")
	text, _ := os.ReadFile(key)
	truncated := writeArtifact(t, dir, "truncated.key", string(text[:100]))
	art := writeArtifact(t, dir, "a.bin", "x")
	tests := []struct {
		name    string
		env     []string
		args    []string
		mention []string
	}{
		{"no password", []string{keyring.EnvMinisignKey, key}, nil, []string{key, "no password", keyring.EnvMinisignPassword}},
		{"wrong password", []string{keyring.EnvMinisignKey, key, keyring.EnvMinisignPassword, "wrong"}, nil, []string{key, "wrong password"}},
		{"truncated", []string{keyring.EnvMinisignKey, truncated}, nil, []string{truncated, "truncated"}},
		{"public key as secret", nil, []string{"--kind", "minisign", "--key", filepath.Join(dir, "minisign.pub")}, []string{"minisign.pub", "public key"}},
		{"missing", []string{keyring.EnvMinisignKey, filepath.Join(dir, "nope.key")}, nil, []string{"nope.key", "no such file"}},
		{"nothing configured", nil, nil, []string{"no signing key configured", keyring.EnvMinisignKey}},
		{"password-env unset", []string{keyring.EnvMinisignKey, key}, []string{"--kind", "minisign", "--password-env", "UNSET_VAR"}, []string{"UNSET_VAR"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			signEnv(t, tt.env...)
			out, err := runSlipway(t, append(append([]string{"sign"}, tt.args...), art)...)
			if err == nil {
				t.Fatalf("sign succeeded:\n%s", out)
			}
			for _, m := range tt.mention {
				if !strings.Contains(err.Error(), m) {
					t.Errorf("error %q does not mention %q", err, m)
				}
			}
			if strings.Contains(err.Error(), "goroutine") || strings.Contains(err.Error(), strings.Split(string(text), "\n")[1][:20]) {
				t.Errorf("error leaks a trace or key material: %v", err)
			}
		})
	}
}

func TestDoctorCommand(t *testing.T) {
	dir := t.TempDir()
	signEnv(t)
	if out, err := runSlipway(t, "keys", "generate", "--kind", "minisign", "--out", dir, "--no-password"); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	key := filepath.Join(dir, "minisign.key")
	signEnv(t, keyring.EnvMinisignKey, key)
	out, err := runSlipway(t, "doctor")
	if err != nil || !strings.Contains(out, "minisign") || !strings.Contains(out, key) {
		t.Fatalf("doctor with a good key: %v\n%s", err, out)
	}
	if err := os.Chmod(key, 0o644); err != nil {
		t.Fatal(err)
	}
	out, err = runSlipway(t, "doctor")
	if err == nil || !strings.Contains(out, "PROBLEM") || !strings.Contains(out, "chmod 600") {
		t.Fatalf("doctor with a world-readable key: %v\n%s", err, out)
	}
}
