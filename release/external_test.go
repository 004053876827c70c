package release

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
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
		Files:   []string{filepath.Join(tauri, "artifacts", "*")},
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
		"MyApp.app.tar.gz":           "darwin//app",
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
		orig, err := os.ReadFile(filepath.Join(tauri, "artifacts", a.Name+".sig"))
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
		{"slipway-agent_1.0.0_linux_arm64.tar.gz", "/arm64/tar.gz"},
		{"app_1.0.0_aarch64.dmg", "darwin/arm64/dmg"},
		{"app_1.0.0_x64_en-US.msi.zip", "windows/amd64/msi"},
		{"notes.txt", "//file"},
	}
	for _, tc := range tests {
		a := classify(tc.name)
		if got := a.OS + "/" + a.Arch + "/" + a.Format; got != tc.want {
			t.Errorf("classify(%q) = %s, want %s", tc.name, got, tc.want)
		}
	}
}
