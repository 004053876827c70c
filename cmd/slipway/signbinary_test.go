package main

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/slipwayhq/slipway/internal/testenv"
	"github.com/slipwayhq/slipway/signing/binfmt/binfmttest"
	"github.com/slipwayhq/slipway/signing/macos"
	"github.com/slipwayhq/slipway/signing/p12/p12test"
)

// runSlipway runs the CLI in-process and returns its standard output.
func runSlipway(t *testing.T, args ...string) (string, error) {
	t.Helper()
	root := newRoot()
	var out bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&out)
	root.SetArgs(args)
	err := root.ExecuteContext(t.Context())
	return out.String(), err
}

func clearKeyEnv(t *testing.T) {
	for _, k := range []string{"SLIPWAY_AUTHENTICODE_P12", "SLIPWAY_AUTHENTICODE_PASSWORD", "SLIPWAY_AUTHENTICODE_TIMESTAMP_URL",
		"SLIPWAY_MACOS_P12", "SLIPWAY_MACOS_PASSWORD", envNotaryIssuer, envNotaryKeyID, envNotaryKey, envMacOSTimestamp} {
		t.Setenv(k, "")
		os.Unsetenv(k)
	}
}

// TestSignBinaryCommand shares one set of cross-built binaries between
// its subtests (no TestMain, which other command tests may need).
func TestSignBinaryCommand(t *testing.T) {
	bins := binfmttest.NewBuilder()
	t.Cleanup(bins.Cleanup)
	ossl := testenv.Tool(t, "osslsigncode", "scripts/tools.sh apt")
	pki := p12test.New(t, []byte("cli pw"), p12test.Options{})

	t.Run("pe with certificate", func(t *testing.T) {
		clearKeyEnv(t)
		t.Setenv("SLIPWAY_AUTHENTICODE_P12", pki.P12)
		t.Setenv("SLIPWAY_AUTHENTICODE_PASSWORD", "cli pw")
		exe := bins.Copy(t, "windows", "amd64")
		out, err := runSlipway(t, "sign-binary", "--verify", "--ca-file", pki.CAPEM, exe)
		if err != nil || !strings.Contains(out, "signed (authenticode)") {
			t.Fatalf("sign-binary = %q, %v", out, err)
		}
		if b, err := exec.CommandContext(t.Context(), ossl, "verify", "-CAfile", pki.CAPEM, "-in", exe).CombinedOutput(); err != nil {
			t.Fatalf("osslsigncode verify: %v\n%s", err, b)
		}
	})

	t.Run("pe without certificate", func(t *testing.T) {
		clearKeyEnv(t)
		exe := bins.Copy(t, "windows", "amd64")
		before, _ := os.ReadFile(exe)
		out, err := runSlipway(t, "sign-binary", exe)
		if err != nil || !strings.Contains(out, "not signed: SLIPWAY_AUTHENTICODE_P12 is not set") {
			t.Fatalf("sign-binary = %q, %v", out, err)
		}
		if after, _ := os.ReadFile(exe); !bytes.Equal(before, after) {
			t.Error("file changed")
		}
		if _, err := runSlipway(t, "sign-binary", "--require", exe); err == nil {
			t.Error("--require accepted an unsigned Windows binary")
		}
	})

	t.Run("macho ad hoc and with certificate", func(t *testing.T) {
		clearKeyEnv(t)
		bin := bins.Copy(t, "darwin", "arm64")
		out, err := runSlipway(t, "sign-binary", "--verify", bin)
		if err != nil || !strings.Contains(out, "signed (macos, ad hoc") {
			t.Fatalf("ad hoc: %q, %v", out, err)
		}
		t.Setenv("SLIPWAY_MACOS_P12", pki.P12)
		t.Setenv("SLIPWAY_MACOS_PASSWORD", "cli pw")
		tsa := pki.NewTSA(t)
		t.Setenv(envMacOSTimestamp, tsa.URL)
		out, err = runSlipway(t, "sign-binary", "--verify", bin)
		if err != nil || !strings.Contains(out, "signed (macos)\n") {
			t.Fatalf("p12: %q, %v", out, err)
		}
		if tsa.Requests.Load() == 0 {
			t.Error("SLIPWAY_MACOS_TIMESTAMP_URL was not used")
		}
		if err := macos.New("", nil, macos.Options{Roots: pki.Pool()}).Verify(t.Context(), bin); err != nil {
			t.Errorf("independent Verify against the CA: %v", err)
		}
	})

	t.Run("app bundle", func(t *testing.T) {
		clearKeyEnv(t)
		app := filepath.Join(t.TempDir(), "Hello.app")
		if err := os.MkdirAll(filepath.Join(app, "Contents", "MacOS"), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := binfmttest.CopyFile(filepath.Join(app, "Contents", "MacOS", "hello"), bins.Copy(t, "darwin", "arm64")); err != nil {
			t.Fatal(err)
		}
		info := `<plist version="1.0"><dict><key>CFBundleIdentifier</key><string>dev.slipway.hello</string>` +
			`<key>CFBundleExecutable</key><string>hello</string></dict></plist>`
		if err := os.WriteFile(filepath.Join(app, "Contents", "Info.plist"), []byte(info), 0o644); err != nil {
			t.Fatal(err)
		}
		out, err := runSlipway(t, "sign-binary", "--verify", app)
		if err != nil || !strings.Contains(out, "bundle signed (macos, ad hoc") {
			t.Fatalf("sign-binary = %q, %v", out, err)
		}
		if err := macos.New("", nil, macos.Options{}).VerifyBundle(t.Context(), app); err != nil {
			t.Error(err)
		}
		if _, err := runSlipway(t, "sign-binary", t.TempDir()); err == nil {
			t.Error("a directory that is not an .app was accepted")
		}
	})

	t.Run("elf and text are left alone", func(t *testing.T) {
		clearKeyEnv(t)
		dir := t.TempDir()
		self, _ := os.Executable()
		elf := filepath.Join(dir, "tool")
		if err := binfmttest.CopyFile(elf, self); err != nil {
			t.Fatal(err)
		}
		text := filepath.Join(dir, "README.txt")
		if err := os.WriteFile(text, []byte("hello\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		doc := filepath.Join(dir, "letter.doc") // OLE compound file like an .msi
		if err := os.WriteFile(doc, append([]byte{0xd0, 0xcf, 0x11, 0xe0, 0xa1, 0xb1, 0x1a, 0xe1}, make([]byte, 504)...), 0o644); err != nil {
			t.Fatal(err)
		}
		t.Setenv("SLIPWAY_AUTHENTICODE_P12", pki.P12)
		t.Setenv("SLIPWAY_AUTHENTICODE_PASSWORD", "cli pw")
		out, err := runSlipway(t, "sign-binary", elf, text, doc)
		if err != nil {
			t.Fatal(err)
		}
		for _, want := range []string{elf + ": ELF binary, nothing to sign", text + ": not a Windows or macOS executable",
			doc + ": not a Windows or macOS executable"} {
			if !strings.Contains(out, want) {
				t.Errorf("output %q lacks %q", out, want)
			}
		}
		if b, _ := os.ReadFile(text); string(b) != "hello\n" {
			t.Error("text file changed")
		}
	})

	t.Run("key errors", func(t *testing.T) {
		for _, tt := range p12test.BadKeys(t) {
			if tt.Name == "missing file" {
				continue // named once per file too, but by the OS error
			}
			t.Run(tt.Name, func(t *testing.T) {
				clearKeyEnv(t)
				t.Setenv("SLIPWAY_AUTHENTICODE_P12", tt.P12)
				t.Setenv("SLIPWAY_AUTHENTICODE_PASSWORD", tt.Password)
				t.Setenv("SLIPWAY_MACOS_P12", tt.P12)
				t.Setenv("SLIPWAY_MACOS_PASSWORD", tt.Password)
				exe, mac := bins.Copy(t, "windows", "amd64"), bins.Copy(t, "darwin", "amd64")
				_, err := runSlipway(t, "sign-binary", exe, mac)
				if !errors.Is(err, tt.Want) {
					t.Fatalf("err = %v, want %v", err, tt.Want)
				}
				msg := err.Error()
				if strings.Count(msg, tt.P12) != 2 || strings.Contains(msg, "goroutine") ||
					(tt.Password != "" && strings.Contains(msg, tt.Password)) {
					t.Errorf("error should name the key once per file, without stack or password: %q", msg)
				}
			})
		}
	})
}
