package authenticode_test

import (
	"bytes"
	"crypto/x509"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/slipwayhq/slipway/internal/testenv"
	"github.com/slipwayhq/slipway/signing"
	"github.com/slipwayhq/slipway/signing/authenticode"
	"github.com/slipwayhq/slipway/signing/binfmt/binfmttest"
	"github.com/slipwayhq/slipway/signing/p12/p12test"
)

var bins = binfmttest.NewBuilder()

func TestMain(m *testing.M) {
	code := m.Run()
	bins.Cleanup()
	os.Exit(code)
}

func osslsigncode(t *testing.T) string {
	t.Helper()
	return testenv.Tool(t, "osslsigncode", "scripts/tools.sh apt")
}

// refVerify runs the real `osslsigncode verify` against the test CA.
func refVerify(t *testing.T, tool, caFile, path string) error {
	t.Helper()
	out, err := exec.CommandContext(t.Context(), tool, "verify", "-CAfile", caFile, "-in", path).CombinedOutput()
	if err != nil {
		return errors.New(string(out))
	}
	return nil
}

func TestSignVerifiedByOsslsigncode(t *testing.T) {
	tool := osslsigncode(t)
	tests := []struct {
		name     string
		password string
		opts     p12test.Options
	}{
		{"modern p12", "correct horse", p12test.Options{}},
		{"legacy p12", "correct horse", p12test.Options{Legacy: true}},
		{"empty password", "", p12test.Options{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pki := p12test.New(t, []byte(tt.password), tt.opts)
			exe := bins.Copy(t, "windows", "amd64")
			s := authenticode.New(pki.P12, []byte(tt.password), authenticode.Options{Tool: tool, CAFile: pki.CAPEM})
			if errs := s.Check(t.Context()); len(errs) != 0 {
				t.Fatalf("Check: %v", errs)
			}
			if refVerify(t, tool, pki.CAPEM, exe) == nil {
				t.Fatal("unsigned binary verified")
			}
			paths, err := s.Sign(t.Context(), exe)
			if err != nil || paths != nil {
				t.Fatalf("Sign = %v, %v", paths, err)
			}
			if err := refVerify(t, tool, pki.CAPEM, exe); err != nil {
				t.Fatalf("osslsigncode verify rejected the signed file: %v", err)
			}
			if err := s.Verify(t.Context(), exe); err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if st, err := os.Stat(exe); err != nil || st.Mode().Perm() != 0o755 {
				t.Errorf("mode after signing: %v, %v", st.Mode(), err)
			}
			assertNoLeftovers(t, filepath.Dir(exe))

			st, _ := os.Stat(exe)
			binfmttest.FlipByte(t, exe, st.Size()/3)
			if refVerify(t, tool, pki.CAPEM, exe) == nil {
				t.Error("osslsigncode verify accepted a tampered file")
			}
			if err := s.Verify(t.Context(), exe); !errors.Is(err, signing.ErrBadSignature) {
				t.Errorf("Verify(tampered) = %v, want ErrBadSignature", err)
			}
		})
	}
}

func assertNoLeftovers(t *testing.T, dir string) {
	t.Helper()
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
		}
		t.Errorf("dir holds %v, want only the signed file", names)
	}
}

func TestResignAndPinnedLeaf(t *testing.T) {
	tool := osslsigncode(t)
	pki := p12test.New(t, []byte("pw"), p12test.Options{})
	other := p12test.New(t, []byte("pw"), p12test.Options{Name: "Someone Else"})
	exe := bins.Copy(t, "windows", "amd64")
	s := authenticode.New(pki.P12, []byte("pw"), authenticode.Options{Tool: tool, CAFile: pki.CAPEM})
	for range 2 { // signing a signed file replaces its signature
		if _, err := s.Sign(t.Context(), exe); err != nil {
			t.Fatal(err)
		}
	}
	if err := refVerify(t, tool, pki.CAPEM, exe); err != nil {
		t.Fatalf("re-signed file: %v", err)
	}
	// Same CA trusted, but a verifier pinned to another P12's certificate.
	pinned := authenticode.New(other.P12, []byte("pw"), authenticode.Options{Tool: tool, CAFile: pki.CAPEM})
	if err := pinned.Verify(t.Context(), exe); !errors.Is(err, signing.ErrBadSignature) {
		t.Errorf("Verify with other leaf = %v, want ErrBadSignature", err)
	}
	// A signature from an untrusted CA fails.
	untrusted := authenticode.New("", nil, authenticode.Options{Tool: tool, CAFile: other.CAPEM})
	if err := untrusted.Verify(t.Context(), exe); !errors.Is(err, signing.ErrBadSignature) {
		t.Errorf("Verify against other CA = %v, want ErrBadSignature", err)
	}
}

func TestKeyErrors(t *testing.T) {
	tool := osslsigncode(t)
	pki := p12test.New(t, []byte("right"), p12test.Options{})
	tlsOnly := p12test.New(t, []byte("right"), p12test.Options{ExtUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}})
	dir := t.TempDir()
	p12Bytes, _ := os.ReadFile(pki.P12)
	truncated := filepath.Join(dir, "truncated.p12")
	writeFile(t, truncated, p12Bytes[:len(p12Bytes)/2])
	huge := filepath.Join(dir, "huge.p12")
	writeFile(t, huge, bytes.Repeat([]byte{0x30}, 2<<20))

	tests := []struct {
		name, p12, password string
		want                error
	}{
		{"wrong password", pki.P12, "hunter2-typo", signing.ErrWrongPassword},
		{"missing password", pki.P12, "", signing.ErrNoPassword},
		{"truncated", truncated, "right", signing.ErrBadKey},
		{"oversize", huge, "right", signing.ErrBadKey},
		{"pem instead of p12", pki.CAPEM, "right", signing.ErrBadKey},
		{"not for code signing", tlsOnly.P12, "right", signing.ErrBadKey},
		{"missing file", filepath.Join(dir, "nope.p12"), "right", os.ErrNotExist},
		{"not configured", "", "right", signing.ErrBadKey},
		{"newline in password", pki.P12, "right\n", signing.ErrWrongPassword},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			exe := bins.Copy(t, "windows", "amd64")
			before, _ := os.ReadFile(exe)
			s := authenticode.New(tt.p12, []byte(tt.password), authenticode.Options{Tool: tool})
			_, err := s.Sign(t.Context(), exe)
			if !errors.Is(err, tt.want) {
				t.Fatalf("Sign = %v, want %v", err, tt.want)
			}
			if tt.p12 != "" && !strings.Contains(err.Error(), tt.p12) {
				t.Errorf("error %q does not name the key %s", err, tt.p12)
			}
			if tt.password != "" && strings.Contains(err.Error(), tt.password) {
				t.Errorf("error leaks the password: %q", err)
			}
			if len(s.Check(t.Context())) == 0 {
				t.Error("Check reported nothing")
			}
			if after, _ := os.ReadFile(exe); !bytes.Equal(before, after) {
				t.Error("file changed by a failed Sign")
			}
		})
	}
}

func TestNotSignable(t *testing.T) {
	pki := p12test.New(t, []byte("pw"), p12test.Options{})
	s := authenticode.New(pki.P12, []byte("pw"), authenticode.Options{Tool: osslsigncode(t)})
	text := filepath.Join(t.TempDir(), "notes.txt")
	writeFile(t, text, []byte("just text\n"))
	if _, err := s.Sign(t.Context(), text); !errors.Is(err, authenticode.ErrNotSignable) {
		t.Errorf("Sign(text) = %v, want ErrNotSignable", err)
	}
	if err := s.Verify(t.Context(), text); !errors.Is(err, authenticode.ErrNotSignable) {
		t.Errorf("Verify(text) = %v, want ErrNotSignable", err)
	}
}

func TestCheckMissingTool(t *testing.T) {
	pki := p12test.New(t, []byte("pw"), p12test.Options{})
	s := authenticode.New(pki.P12, []byte("pw"), authenticode.Options{Tool: filepath.Join(t.TempDir(), "osslsigncode")})
	errs := s.Check(t.Context())
	if len(errs) != 1 || !strings.Contains(errs[0].Error(), "osslsigncode") {
		t.Errorf("Check = %v, want one missing-tool error", errs)
	}
	if s.String() != "authenticode" {
		t.Errorf("String = %q", s.String())
	}
}

// TestPasswordNotOnCommandLine runs the real osslsigncode through a
// wrapper that records its arguments and environment.
func TestPasswordNotOnCommandLine(t *testing.T) {
	tool := osslsigncode(t)
	const password = "Tr0ub4dor-very-secret"
	t.Setenv("SLIPWAY_AUTHENTICODE_PASSWORD", password)
	pki := p12test.New(t, []byte(password), p12test.Options{})
	dir := t.TempDir()
	record := filepath.Join(dir, "record")
	wrapper := filepath.Join(dir, "osslsigncode-wrapper")
	writeFile(t, wrapper, []byte("#!/bin/sh\n{ echo \"$@\"; env; } >>"+record+"\nexec "+tool+" \"$@\"\n"))
	if err := os.Chmod(wrapper, 0o755); err != nil {
		t.Fatal(err)
	}
	exe := bins.Copy(t, "windows", "amd64")
	s := authenticode.New(pki.P12, []byte(password), authenticode.Options{Tool: wrapper, CAFile: pki.CAPEM})
	if _, err := s.Sign(t.Context(), exe); err != nil {
		t.Fatal(err)
	}
	if err := refVerify(t, tool, pki.CAPEM, exe); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(record)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(got, []byte("-readpass -")) {
		t.Fatalf("wrapper did not record the sign call: %s", got)
	}
	if bytes.Contains(got, []byte(password)) {
		t.Error("password visible in osslsigncode's arguments or environment")
	}
}

func writeFile(t *testing.T, path string, data []byte) {
	t.Helper()
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
}
