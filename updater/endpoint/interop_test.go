package endpoint

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"log/slog"
	"net/http/httptest"
	"os"
	"path"
	"path/filepath"
	"testing"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/slipwayhq/slipway/internal/testenv"
	"github.com/slipwayhq/slipway/release"
	"github.com/slipwayhq/slipway/signing/minisign"
	"github.com/slipwayhq/slipway/updater/catalog"
	"github.com/slipwayhq/slipway/updater/channel"
	"github.com/slipwayhq/slipway/updater/internal/memstore"
	"github.com/slipwayhq/slipway/updater/publish"
	"github.com/slipwayhq/slipway/updater/repo"
	"github.com/slipwayhq/slipway/updater/tauri"
)

// interopDir holds the interop Tauri fixtures: bundles signed the way
// the Tauri CLI signs them (trusted comment with version:1.2.3).
var interopDir = filepath.Join(testenv.RepoRoot(), "testdata", "interop", "tauri")

// TestTauriInteropBundles publishes the interop fixture bundles with their
// own .minisig/.sig files, serves them, and checks what a Tauri app
// configured with the fixture pubkey would do: parse, download, verify.
func TestTauriInteropBundles(t *testing.T) {
	st := memstore.New()
	rec := &release.Record{Product: "myapp", Version: "1.2.3", Date: time.Date(2024, 6, 10, 6, 13, 20, 0, time.UTC)}
	for _, a := range []struct{ name, os, arch, format string }{
		{"MyApp_1.2.3_amd64.AppImage", "linux", "amd64", "appimage"},
		{"MyApp_1.2.3_amd64.deb", "linux", "amd64", "deb"},
		{"MyApp-1.2.3-1.x86_64.rpm", "linux", "amd64", "rpm"},
		{"MyApp.app.tar.gz", "darwin", "universal", "app"},
		{"MyApp_1.2.3_x64-setup.exe", "windows", "amd64", "nsis"},
		{"MyApp_1.2.3_x64_en-US.msi", "windows", "amd64", "msi"},
	} {
		data := readInterop(t, "artifacts/"+a.name)
		sum := sha256.Sum256(data)
		rec.Artifacts = append(rec.Artifacts, release.Artifact{Name: a.name, OS: a.os, Arch: a.arch, Format: a.format,
			Size: int64(len(data)), SHA256: hex.EncodeToString(sum[:]), URL: a.name,
			Signatures: map[string]string{"minisign": a.name + ".minisig", "tauri": a.name + ".sig"}})
		for _, f := range []string{a.name, a.name + ".minisig", a.name + ".sig"} {
			put(t, st, release.Key("", "myapp", "1.2.3", f), readInterop(t, "artifacts/"+f))
		}
	}
	data, _ := json.Marshal(rec)
	put(t, st, release.Key("", "myapp", "1.2.3", release.RecordName), data)

	pk, err := minisign.ParsePublicKey(readInterop(t, "keys/tauri-pubkey.b64"))
	if err != nil {
		t.Fatal(err)
	}
	f := &channel.File{}
	if err := f.Promote("myapp", "stable", "1.2.3", 100); err != nil {
		t.Fatal(err)
	}
	keys, _ := repo.EnsureKeys(filepath.Join(t.TempDir(), "keys"), 1)
	if _, err := publish.Apply(t.Context(), publish.Config{Store: st, Verifier: catalog.Minisign{Key: pk}}, f, keys, now); err != nil {
		t.Fatal(err)
	}
	h, err := New(t.Context(), st, Options{})
	if err != nil {
		t.Fatal(err)
	}
	r := chi.NewRouter()
	h.Routes(r)
	srv := httptest.NewServer(r)
	defer srv.Close()

	check := func(url, key string) {
		t.Helper()
		resp, body := get(t, url)
		if resp.StatusCode != 200 {
			t.Fatalf("%s: %d %s", url, resp.StatusCode, body)
		}
		ver, u, sig, err := tauri.Validate(body, key)
		if err != nil {
			t.Fatalf("%s: %v", url, err)
		}
		_, art := get(t, u)
		if _, err := minisign.VerifyTauri(pk, bytes.NewReader(art), sig, ver); err != nil {
			t.Fatalf("%s (%s): %v", url, path.Base(u), err)
		}
	}
	for _, c := range [][2]string{
		{"/tauri/myapp/stable/linux/x86_64/1.0.0", "linux-x86_64"},
		{"/tauri/myapp/stable/linux/x86_64/1.0.0/rpm", "linux-x86_64-rpm"},
		{"/tauri/myapp/stable/darwin/aarch64/1.0.0/app", "darwin-aarch64-app"},
		{"/tauri/myapp/stable/darwin/x86_64/1.0.0", "darwin-x86_64"},
		{"/tauri/myapp/stable/windows/x86_64/1.0.0/msi", "windows-x86_64-msi"},
	} {
		check(srv.URL+c[0], c[1])
	}
	for _, key := range []string{"linux-x86_64", "linux-x86_64-deb", "darwin-aarch64", "darwin-x86_64-app", "windows-x86_64-nsis"} {
		check(srv.URL+"/tauri/myapp/stable/latest.json", key)
	}
}

func readInterop(t *testing.T, name string) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(interopDir, name))
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func put(t *testing.T, st *memstore.Store, key string, data []byte) {
	t.Helper()
	if err := st.Put(t.Context(), key, bytes.NewReader(data), int64(len(data)), ""); err != nil {
		t.Fatal(err)
	}
}

func TestTauriSignatureForOtherVersionNotServed(t *testing.T) {
	sig := string(readInterop(t, "artifacts/MyApp_1.2.3_amd64.AppImage.sig"))
	log := slog.New(slog.DiscardHandler)
	if usableTauriSig(sig, "1.2.3", "a", log) != sig {
		t.Fatal("matching signature refused")
	}
	if usableTauriSig(sig, "1.2.4", "a", log) != "" {
		t.Fatal("signature for 1.2.3 offered as 1.2.4")
	}
	if usableTauriSig(sig+"\n", "1.2.3", "a", log) != "" {
		t.Fatal("signature with trailing newline offered")
	}
	legacy := string(readInterop(t, "artifacts/MyApp.app.tar.gz.noversion.sig"))
	if usableTauriSig(legacy, "1.2.3", "a", log) != legacy {
		t.Fatal("old-CLI signature without version refused")
	}
}
