package release

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/slipwayhq/slipway/signing"
	"github.com/slipwayhq/slipway/signing/minisign"
	"github.com/slipwayhq/slipway/storage"
	"github.com/slipwayhq/slipway/storage/fs"
)

// TestPublishFilesTauri publishes the shared Tauri bundles (each with its
// own Tauri .sig) as an external product: the existing signatures are
// published unchanged and still verify, cosign signs on top, and a second
// run is a no-op.
func TestPublishFilesTauri(t *testing.T) {
	tauri := filepath.Join(filepath.Dir(fixtureDir(t)), "..", "tauri")
	pubText, err := os.ReadFile(filepath.Join(tauri, "keys", "minisign.pub"))
	if err != nil {
		t.Skip("tauri fixtures not found")
	}
	pk, err := minisign.ParsePublicKey(pubText)
	if err != nil {
		t.Fatal(err)
	}
	signers, err := devSigners(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	var cosignOnly []signing.Backend
	for _, s := range signers {
		if s.String() == "cosign" {
			cosignOnly = append(cosignOnly, s)
		}
	}
	dir := t.TempDir()
	st, err := fs.New(dir, fs.Options{})
	if err != nil {
		t.Fatal(err)
	}
	eo := ExternalOptions{
		Options: Options{Version: "v1.2.3", Store: st, Signers: cosignOnly},
		Product: "myapp",
		// The macOS updater bundle does not name its arch: state it.
		Files: []string{filepath.Join(tauri, "artifacts", "*"), "darwin-universal=" + filepath.Join(tauri, "artifacts", "MyApp.app.tar.gz")},
	}
	rep, err := PublishFiles(t.Context(), eo)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Products) != 1 || len(rep.Products[0].Artifacts) != 6 {
		t.Fatalf("report = %+v", rep.Products)
	}
	rec, err := GetRecord(t.Context(), st, Key("", "myapp", "1.2.3", RecordName))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{ // name -> os/arch/format
		"MyApp-1.2.3-1.x86_64.rpm":   "linux/amd64/rpm",
		"MyApp_universal.app.tar.gz": "darwin/universal/app",
		"MyApp_1.2.3_amd64.AppImage": "linux/amd64/appimage",
		"MyApp_1.2.3_amd64.deb":      "linux/amd64/deb",
		"MyApp_1.2.3_x64-setup.exe":  "windows/amd64/nsis",
		"MyApp_1.2.3_x64_en-US.msi":  "windows/amd64/msi",
	}
	for _, a := range rec.Artifacts {
		if got := a.OS + "/" + a.Arch + "/" + a.Format; got != want[a.Name] {
			t.Errorf("%s classified %s, want %s", a.Name, got, want[a.Name])
		}
		if len(a.Signatures) != 4 {
			t.Errorf("%s signatures = %v", a.Name, a.Signatures)
		}
		src := a.Name
		if src == "MyApp_universal.app.tar.gz" {
			src = "MyApp.app.tar.gz"
		}
		orig, err := os.ReadFile(filepath.Join(tauri, "artifacts", src+".sig"))
		if err != nil {
			t.Fatal(err)
		}
		key := Key("", "myapp", "1.2.3", a.Name)
		if got := readObject(t, st, key+".sig"); !bytes.Equal(got, orig) {
			t.Errorf("%s: published .sig differs from the bundle's own", a.Name)
		}
		// The published .minisig verifies with the app's key (and version).
		sig, err := minisign.ParseSignature(readObject(t, st, key+".minisig"))
		if err != nil {
			t.Fatal(err)
		}
		if err := minisign.Verify(pk, bytes.NewReader(readObject(t, st, key)), sig); err != nil {
			t.Errorf("%s: minisign verify: %v", a.Name, err)
		}
	}
	// The user's directory got no signature files written into it.
	if _, err := os.Stat(filepath.Join(tauri, "artifacts", "MyApp.app.tar.gz.cosign.sig")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("cosign signature written next to the user's file: %v", err)
	}
	again, err := PublishFiles(t.Context(), eo)
	if err != nil {
		t.Fatal(err)
	}
	checkAll(t, again.Products[0], StatusUnchanged)

	// Without the target, the arch-less macOS bundle is refused: published
	// as darwin/ it would never be offered.
	eo.Files = []string{filepath.Join(tauri, "artifacts", "*")}
	if _, err := PublishFiles(t.Context(), eo); err == nil || !strings.Contains(err.Error(), "darwin-aarch64=") {
		t.Errorf("arch-less .app.tar.gz: %v", err)
	}
	eo.Files = []string{filepath.Join(t.TempDir(), "nothing-*")}
	if _, err := PublishFiles(t.Context(), eo); err == nil {
		t.Error("a glob matching nothing was accepted")
	}
}

func readObject(t *testing.T, st storage.Store, key string) []byte {
	t.Helper()
	rc, _, err := st.Get(t.Context(), key)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	var b bytes.Buffer
	if _, err := b.ReadFrom(rc); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// checkAll asserts the status of the record and every artifact.
func checkAll(t *testing.T, p ProductReport, want FileStatus) {
	t.Helper()
	if p.Record.Status != want {
		t.Errorf("record %s, want %s", p.Record.Status, want)
	}
	for _, a := range p.Artifacts {
		if a.Status != want {
			t.Errorf("%s %s, want %s", a.Name, a.Status, want)
		}
	}
}

func TestClassify(t *testing.T) {
	tests := []struct{ name, want string }{
		{"slipway-agent_1.0.0_linux_arm64.tar.gz", "linux/arm64/tar.gz"},
		{"app_1.0.0_aarch64.dmg", "darwin/arm64/dmg"},
		{"app_1.0.0_x64_en-US.msi.zip", "windows/amd64/msi"},
		{"notes.txt", "//file"},
		// Tauri v2's names for every OS and bundle type (tauri-bundler).
		{"MyApp_1.2.3_amd64.AppImage", "linux/amd64/appimage"},
		{"MyApp_1.2.3_aarch64.AppImage", "linux/arm64/appimage"},
		{"MyApp_1.2.3_i386.AppImage", "linux/386/appimage"},
		{"MyApp_1.2.3_armhf.AppImage", "linux/arm/appimage"},
		{"MyApp_1.2.3_amd64.AppImage.tar.gz", "linux/amd64/appimage"},
		{"MyApp_1.2.3_amd64.deb", "linux/amd64/deb"},
		{"MyApp_1.2.3_arm64.deb", "linux/arm64/deb"},
		{"MyApp-1.2.3-1.x86_64.rpm", "linux/amd64/rpm"},
		{"MyApp-1.2.3-1.aarch64.rpm", "linux/arm64/rpm"},
		{"MyApp-1.2.3-1.armhfp.rpm", "linux/arm/rpm"},
		{"MyApp_1.2.3_x64-setup.exe", "windows/amd64/nsis"},
		{"MyApp_1.2.3_arm64-setup.exe", "windows/arm64/nsis"},
		{"MyApp_1.2.3_x86-setup.exe", "windows/386/nsis"},
		{"MyApp_1.2.3_x64-setup.nsis.zip", "windows/amd64/nsis"},
		{"MyApp_1.2.3_x64_en-US.msi", "windows/amd64/msi"},
		{"MyApp_1.2.3_arm64_en-US.msi", "windows/arm64/msi"},
		{"MyApp_1.2.3_x86_en-US.msi", "windows/386/msi"},
		{"MyApp.app.tar.gz", "darwin//app"},
		{"MyApp_aarch64.app.tar.gz", "darwin/arm64/app"},
		{"MyApp_x64.app.tar.gz", "darwin/amd64/app"},
		{"MyApp_universal.app.tar.gz", "darwin/universal/app"},
		{"MyApp_1.2.3_universal.dmg", "darwin/universal/dmg"},
		{"Farmhand_1.2.3_x64-setup.exe", "windows/amd64/nsis"}, // "arm" inside a word is no arch
		{"Linuxer_1.2.3_universal.deb", "linux//deb"},          // universal is macOS only
	}
	for _, tc := range tests {
		a := classify(tc.name)
		if got := a.OS + "/" + a.Arch + "/" + a.Format; got != tc.want {
			t.Errorf("classify(%q) = %s, want %s", tc.name, got, tc.want)
		}
	}
}

func TestParseFileSpec(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"bundles/*", "bundles/*//"},
		{"darwin-universal=b/MyApp.app.tar.gz", "b/MyApp.app.tar.gz/darwin/universal"},
		{"darwin-aarch64=a", "a/darwin/arm64"},
		{"darwin-x86_64=a", "a/darwin/amd64"},
		{"linux-arm64=a", "a/linux/arm64"},
		{"windows-i686=a", "a/windows/386"},
		{"linux-armv7=a", "a/linux/arm"},
		{"dir=with=equals/*", "dir=with=equals/*//"}, // not a target: a glob
		{"linux-universal=a", "error"},
		{"plan9-x86_64=a", "error"},
		{"linux-sparc=a", "error"},
		{"linux-x86_64=", "error"},
	} {
		got := "error"
		if s, err := ParseFileSpec(tc.in); err == nil {
			got = s.Glob + "/" + s.OS + "/" + s.Arch
		}
		if got != tc.want {
			t.Errorf("ParseFileSpec(%q) = %s, want %s", tc.in, got, tc.want)
		}
	}
}

// TestExpandFilesTargets: stated targets name arch-less bundles (renamed
// as tauri-action does, so two architectures share a release), and
// contradictions or name clashes are refused.
func TestExpandFilesTargets(t *testing.T) {
	dir := t.TempDir()
	for _, p := range []string{"arm/MyApp.app.tar.gz", "intel/MyApp.app.tar.gz", "win/MyApp_1.2.3_x64-setup.exe"} {
		if err := os.MkdirAll(filepath.Join(dir, filepath.Dir(p)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, p), []byte(p), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	in, err := expandFiles([]string{"darwin-aarch64=" + filepath.Join(dir, "arm/*"), "darwin-x86_64=" + filepath.Join(dir, "intel/*"),
		filepath.Join(dir, "win/*")})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, f := range in {
		got = append(got, f.artifact.Name+"="+f.artifact.OS+"/"+f.artifact.Arch)
	}
	want := "[MyApp_1.2.3_x64-setup.exe=windows/amd64 MyApp_aarch64.app.tar.gz=darwin/arm64 MyApp_x64.app.tar.gz=darwin/amd64]"
	if fmt.Sprint(got) != want {
		t.Fatalf("got %v, want %s", got, want)
	}
	for name, files := range map[string][]string{
		"same name twice":   {"darwin-aarch64=" + filepath.Join(dir, "arm/*"), "darwin-aarch64=" + filepath.Join(dir, "intel/*")},
		"OS contradicts":    {"linux-x86_64=" + filepath.Join(dir, "arm/*")},
		"arch contradicts":  {"windows-aarch64=" + filepath.Join(dir, "win/*")},
		"arch not said":     {filepath.Join(dir, "arm/*")},
		"glob matches none": {filepath.Join(dir, "none-*")},
		"bad target":        {"darwin-sparc=" + filepath.Join(dir, "arm/*")},
	} {
		if _, err := expandFiles(files); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}
