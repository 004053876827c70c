package authenticode_test

import (
	"bytes"
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
	huge := filepath.Join(t.TempDir(), "huge.p12")
	writeFile(t, huge, bytes.Repeat([]byte{0x30}, 2<<20))
	cases := append(p12test.BadKeys(t),
		p12test.KeyCase{Name: "oversize", P12: huge, Password: "right", Want: signing.ErrBadKey},
		p12test.KeyCase{Name: "not configured", P12: "", Password: "right", Want: signing.ErrBadKey},
		p12test.KeyCase{Name: "newline in password", P12: pki.P12, Password: "right\n", Want: signing.ErrWrongPassword},
	)
	p12test.RunBadKeys(t, cases,
		func(t *testing.T) string { return bins.Copy(t, "windows", "amd64") },
		func(p12 string, pw []byte) signing.Backend {
			return authenticode.New(p12, pw, authenticode.Options{Tool: tool})
		})
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

// TestTimestamp signs with an RFC 3161 timestamp from a local TSA that
// the test CA issued; osslsigncode must find and accept the timestamp.
func TestTimestamp(t *testing.T) {
	tool := osslsigncode(t)
	pki := p12test.New(t, []byte("pw"), p12test.Options{})
	tsa := pki.NewTSA(t)
	exe := bins.Copy(t, "windows", "amd64")
	s := authenticode.New(pki.P12, []byte("pw"), authenticode.Options{Tool: tool, CAFile: pki.CAPEM, TimestampURL: tsa.URL})
	if _, err := s.Sign(t.Context(), exe); err != nil {
		t.Fatalf("Sign: %v", err)
	}
	if tsa.Requests.Load() != 1 {
		t.Fatalf("TSA answered %d requests, want 1", tsa.Requests.Load())
	}
	out, err := exec.CommandContext(t.Context(), tool, "verify", "-CAfile", pki.CAPEM, "-TSA-CAfile", pki.CAPEM, "-in", exe).CombinedOutput()
	if err != nil {
		t.Fatalf("osslsigncode verify: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "Timestamp Server Signature verification: ok") || !strings.Contains(string(out), "CN=Slipway Test TSA") {
		t.Errorf("osslsigncode verify shows no timestamp:\n%s", out)
	}
	if err := s.Verify(t.Context(), exe); err != nil {
		t.Errorf("Verify: %v", err)
	}
	// A dead timestamp server fails the signing and leaves the file alone.
	down := authenticode.New(pki.P12, []byte("pw"), authenticode.Options{Tool: tool, TimestampURL: "http://127.0.0.1:1/"})
	if _, err := down.Sign(t.Context(), bins.Copy(t, "windows", "amd64")); err == nil {
		t.Error("signing with an unreachable timestamp server succeeded")
	}
}
