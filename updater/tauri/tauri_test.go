package tauri

import (
	"bytes"
	"errors"
	"os"
	"path"
	"path/filepath"
	"testing"

	"github.com/slipwayhq/slipway/internal/testenv"
	"github.com/slipwayhq/slipway/signing/minisign"
)

// fixtures are the interop Tauri fixtures (SPEC.md §1.6).
var fixtures = filepath.Join(testenv.RepoRoot(), "testdata", "interop", "tauri")

func readFixture(t *testing.T, name string) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(fixtures, name))
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// TestFixtures runs the interop fixtures through Validate with the
// outcomes of SPEC §1.6: the valid ones parse, each malformed one fails.
func TestFixtures(t *testing.T) {
	valid := []struct{ file, key string }{
		{"dynamic.200.json", ""},
		{"dynamic.200.minimal.json", ""},
		{"dynamic.200.nulls.json", ""},
		{"dynamic.200.legacy-sig-no-version.json", ""},
		{"latest.minimal.json", "linux-x86_64"},
		{"latest.tauri-action.json", "windows-x86_64"},
		{"latest.all-targets.json", "darwin-aarch64"},
	}
	for _, v := range valid {
		t.Run(v.file, func(t *testing.T) {
			ver, url, sig, err := Validate(readFixture(t, v.file), v.key)
			if err != nil {
				t.Fatal(err)
			}
			if ver == "" || url == "" || sig == "" {
				t.Fatalf("empty result %q %q %q", ver, url, sig)
			}
			// The signature verifies over the fixture artifact, as the plugin checks it.
			pk, err := minisign.ParsePublicKey(readFixture(t, "keys/tauri-pubkey.b64"))
			if err != nil {
				t.Fatal(err)
			}
			data := readFixture(t, "artifacts/"+path.Base(url))
			if _, err := minisign.VerifyTauriWith(pk, bytes.NewReader(data), sig, ver, minisign.TauriOptions{}); err != nil {
				t.Fatalf("signature: %v", err)
			}
		})
	}
	invalid := []struct{ file, key string }{
		{"malformed/missing-version.json", ""},
		{"malformed/version-not-semver.json", ""},
		{"malformed/version-uppercase-V.json", ""},
		{"malformed/version-number-not-string.json", ""},
		{"malformed/pub_date-empty-string.json", ""},
		{"malformed/pub_date-not-rfc3339.json", ""},
		{"malformed/dynamic-missing-url.json", ""},
		{"malformed/dynamic-missing-signature.json", ""},
		{"malformed/dynamic-relative-url.json", ""},
		{"malformed/static-entry-missing-signature.json", "darwin-aarch64"},
		{"malformed/static-target-absent.json", "linux-x86_64"},
		{"malformed/signature-is-raw-minisign-text.json", "linux-x86_64"},
		{"malformed/signature-with-trailing-newline.json", "linux-x86_64"},
		{"malformed/signature-for-other-version.json", "linux-x86_64"},
		{"malformed/not-json.txt", ""},
		{"malformed/empty-body-200.txt", ""},
	}
	for _, v := range invalid {
		t.Run(v.file, func(t *testing.T) {
			_, _, _, err := Validate(readFixture(t, v.file), v.key)
			if !errors.Is(err, ErrBody) && !errors.Is(err, ErrSignature) {
				t.Fatalf("accepted or wrong error: %v", err)
			}
		})
	}
}

func TestGoPlatform(t *testing.T) {
	tests := []struct{ target, arch, goos, goarch string }{
		{"linux", "x86_64", "linux", "amd64"},
		{"darwin", "aarch64", "darwin", "arm64"},
		{"windows", "i686", "windows", "386"},
		{"linux", "armv7", "linux", "arm"},
	}
	for _, tt := range tests {
		goos, goarch, ok := GoPlatform(tt.target, tt.arch)
		if !ok || goos != tt.goos || goarch != tt.goarch || Arch(goarch) != tt.arch {
			t.Errorf("%s/%s -> %s/%s %v", tt.target, tt.arch, goos, goarch, ok)
		}
	}
	for _, bad := range [][2]string{{"macos", "x86_64"}, {"linux", "amd64"}, {"", ""}} {
		if _, _, ok := GoPlatform(bad[0], bad[1]); ok {
			t.Errorf("%v accepted", bad)
		}
	}
}

func TestSignedVersion(t *testing.T) {
	sig := string(readFixture(t, "artifacts/MyApp.app.tar.gz.sig"))
	if v, ok, err := SignedVersion(sig); err != nil || !ok || v != "1.2.3" {
		t.Fatalf("got %q %v %v", v, ok, err)
	}
	old := string(readFixture(t, "artifacts/MyApp.app.tar.gz.noversion.sig"))
	if _, ok, err := SignedVersion(old); err != nil || ok {
		t.Fatalf("legacy: ok=%v err=%v", ok, err)
	}
	for _, bad := range []string{"", "!!!", sig + "\n", "dW50cnVzdGVk"} {
		if _, _, err := SignedVersion(bad); !errors.Is(err, ErrSignature) {
			t.Errorf("%q: %v", bad, err)
		}
	}
}
