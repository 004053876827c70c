package main

import (
	"encoding/base64"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/slipwayhq/slipway/internal/testenv"
	"github.com/slipwayhq/slipway/signing/keyring"
	"github.com/slipwayhq/slipway/signing/minisign"
	"github.com/slipwayhq/slipway/updater/channel"
	"github.com/slipwayhq/slipway/updater/tauri"
	"github.com/slipwayhq/slipway/updater/updatertest"
)

// tauriBundles are the names `tauri build` (tauri-bundler 2.x) gives the
// updater bundles of MyApp 1.2.3, by the --files value that publishes them.
// The macOS .app.tar.gz says no arch: its target is stated.
var tauriBundles = map[string]string{
	"MyApp_1.2.3_amd64.AppImage":   "",
	"MyApp_1.2.3_aarch64.AppImage": "",
	"MyApp_1.2.3_amd64.deb":        "",
	"MyApp_1.2.3_arm64.deb":        "",
	"MyApp-1.2.3-1.x86_64.rpm":     "",
	"MyApp-1.2.3-1.aarch64.rpm":    "",
	"MyApp_1.2.3_x64-setup.exe":    "",
	"MyApp_1.2.3_arm64-setup.exe":  "",
	"MyApp_1.2.3_x64_en-US.msi":    "",
	"MyApp_1.2.3_arm64_en-US.msi":  "",
	"universal/MyApp.app.tar.gz":   "darwin-universal=",
}

// tauriWant is the bundle each client is offered: under {os}-{arch} (and the
// dynamic endpoint without bundle type) the preferred one, under
// {os}-{arch}-{bundle} that bundle.
var tauriWant = map[string]string{
	"linux-x86_64":          "MyApp_1.2.3_amd64.AppImage",
	"linux-aarch64":         "MyApp_1.2.3_aarch64.AppImage",
	"windows-x86_64":        "MyApp_1.2.3_x64-setup.exe",
	"windows-aarch64":       "MyApp_1.2.3_arm64-setup.exe",
	"darwin-x86_64":         "MyApp_universal.app.tar.gz",
	"darwin-aarch64":        "MyApp_universal.app.tar.gz",
	"linux-x86_64-deb":      "MyApp_1.2.3_amd64.deb",
	"linux-aarch64-rpm":     "MyApp-1.2.3-1.aarch64.rpm",
	"linux-aarch64-deb":     "MyApp_1.2.3_arm64.deb",
	"windows-aarch64-msi":   "MyApp_1.2.3_arm64_en-US.msi",
	"windows-x86_64-nsis":   "MyApp_1.2.3_x64-setup.exe",
	"darwin-aarch64-app":    "MyApp_universal.app.tar.gz",
	"linux-x86_64-appimage": "MyApp_1.2.3_amd64.AppImage",
}

// TestTauriJourney is journey 6 with the real Tauri CLI: a key from `tauri
// signer generate`, bundles with Tauri's names signed by `tauri signer
// sign`, published with `slipway release --product myapp --files`, the
// app's key in the channels file, promoted and applied together with the
// Slipway-signed desktop client; every target gets the right bundle from
// the static and the dynamic endpoint, and the served signature verifies
// with the Tauri public key through minisign.
func TestTauriJourney(t *testing.T) {
	tauriCLI := testenv.Tool(t, "tauri", "scripts/tools.sh tauri (npm @tauri-apps/cli)")
	ms := testenv.Tool(t, "minisign", "apt-get install minisign")
	work, data := t.TempDir(), t.TempDir()
	if _, err := keyring.EnsureDevKeys(filepath.Join(data, "keys")); err != nil { // the cosign key
		t.Fatal(err)
	}
	// pub signs the Slipway desktop client with the release key.
	_, pub, keysDir := upData(t, data)
	t.Setenv("SLIPWAY_COSIGN_KEY", filepath.Join(keysDir, "cosign.key"))
	t.Setenv("COSIGN_PASSWORD", "")
	for _, k := range []string{"SLIPWAY_MINISIGN_KEY", "TAURI_SIGNING_PRIVATE_KEY", "SLIPWAY_MINISIGN_PASSWORD"} {
		t.Setenv(k, "") // restored after the test
		os.Unsetenv(k)  // the Tauri CLI treats an empty variable as set
	}

	// The app's own Tauri key and bundles signed by the Tauri CLI.
	tauriKey := filepath.Join(work, "myapp.key")
	runTool(t, nil, tauriCLI, "signer", "generate", "--ci", "-w", tauriKey, "-p", "app-pass")
	files := []string{"--product", "myapp", "--version", "1.2.3", "--store", filepath.Join(data, "artifacts")}
	for name, target := range tauriBundles {
		p := filepath.Join(work, "bundles", name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte("bundle "+name), 0o644); err != nil {
			t.Fatal(err)
		}
		runTool(t, []string{"TAURI_SIGNING_PRIVATE_KEY_PASSWORD=app-pass"}, tauriCLI,
			"signer", "sign", "-f", tauriKey, "--app-version", "1.2.3", p)
		files = append(files, "--files", target+p)
	}
	if out, err := runSlipway(t, append([]string{"release"}, files...)...); err != nil {
		t.Fatalf("slipway release --files: %v\n%s", err, out)
	}

	// The Slipway-signed desktop client, verified with the release key.
	pub.Publish(t, "desktop", "0.2.0", updatertest.File{Name: "slipway-desktop_0.2.0_linux_amd64.tar.gz",
		OS: "linux", Arch: "amd64", Format: "tar.gz", Data: []byte("desktop")})

	// The app's key goes in the channels file; no --minisign-pub anywhere.
	appPub, err := os.ReadFile(tauriKey + ".pub")
	if err != nil {
		t.Fatal(err)
	}
	chFile := filepath.Join(work, "channels.yaml")
	if err := (&channel.File{Keys: map[string][]string{"myapp": {string(appPub)}}}).Save(chFile); err != nil {
		t.Fatal(err)
	}
	common := []string{"--data", data, "--channels", chFile}
	for _, args := range [][]string{{"promote", "myapp", "1.2.3", "--to", "stable"}, {"promote", "desktop", "0.2.0", "--to", "stable"},
		{"tuf", "init"}, {"apply"}} {
		if out, err := runSlipway(t, append(args, common...)...); err != nil {
			t.Fatalf("slipway %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}

	u, err := newUpdates(t.Context(), data, updateOptions{keysDir: keysDir}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	r := chi.NewRouter()
	u.mount()(r)
	srv := httptest.NewServer(r)
	defer srv.Close()
	pk, err := minisign.ParsePublicKey(appPub)
	if err != nil {
		t.Fatal(err)
	}
	checkTauriTargets(t, srv.URL, ms, pk)
	checkTauriRules(t, srv.URL, "desktop", "linux", "x86_64", "0.2.0")
	checkTauriRules(t, srv.URL, "myapp", "darwin", "aarch64", "1.2.3")
}

// checkTauriTargets checks what each client is offered, statically and
// dynamically, and verifies the served bundles with minisign.
func checkTauriTargets(t *testing.T, base, ms string, pk *minisign.PublicKey) {
	t.Helper()
	_, body := httpGet(t, base+"/tauri/myapp/stable/latest.json")
	for key, file := range tauriWant {
		_, url, sig, err := tauri.Validate(body, key)
		if err != nil {
			t.Fatalf("latest.json for %s: %v\n%s", key, err, body)
		}
		if !strings.HasSuffix(url, "/"+file) {
			t.Errorf("latest.json %s -> %s, want %s", key, url, file)
		}
		parts := strings.SplitN(key, "-", 3)
		dyn := base + "/tauri/myapp/stable/" + parts[0] + "/" + parts[1] + "/1.0.0"
		if len(parts) == 3 {
			dyn += "/" + parts[2]
		}
		code, dbody := httpGet(t, dyn)
		_, durl, dsig, err := tauri.Validate(dbody, "")
		if code != http.StatusOK || err != nil || durl != url || dsig != sig {
			t.Errorf("dynamic %s: %d %v %s, want %s", key, code, err, durl, url)
		}
		verifyWithMinisign(t, ms, pk, url, sig)
	}
}

// verifyWithMinisign downloads the bundle and checks the served signature
// with the reference minisign and the Tauri public key.
func verifyWithMinisign(t *testing.T, ms string, pk *minisign.PublicKey, url, sig string) {
	t.Helper()
	code, data := httpGet(t, url)
	if code != http.StatusOK {
		t.Fatalf("download %s: %d", url, code)
	}
	text, err := base64.StdEncoding.DecodeString(sig)
	if err != nil {
		t.Fatalf("signature of %s: %v", url, err)
	}
	dir := t.TempDir()
	p := filepath.Join(dir, filepath.Base(url))
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p+".minisig", text, 0o644); err != nil {
		t.Fatal(err)
	}
	runTool(t, nil, ms, "-Vm", p, "-P", pk.String())
}

// checkTauriRules: 204 when up to date, version without "v", absolute
// URLs and an RFC 3339 pub_date.
func checkTauriRules(t *testing.T, base, product, goos, arch, version string) {
	t.Helper()
	prefix := base + "/tauri/" + product + "/stable/" + goos + "/" + arch + "/"
	if code, body := httpGet(t, prefix+version); code != http.StatusNoContent || len(body) != 0 {
		t.Errorf("%s up to date: %d %q, want 204 and no body", product, code, body)
	}
	code, body := httpGet(t, prefix+"0.0.1")
	var d map[string]string
	if code != http.StatusOK || json.Unmarshal(body, &d) != nil {
		t.Fatalf("%s update: %d %s", product, code, body)
	}
	if _, err := time.Parse(time.RFC3339, d["pub_date"]); err != nil || d["version"] != version ||
		!strings.HasPrefix(d["url"], "http://") {
		t.Errorf("%s answer breaks a Tauri rule: %s", product, body)
	}
	if _, _, _, err := tauri.Validate(body, ""); err != nil {
		t.Errorf("%s answer rejected by the plugin's rules: %v", product, err)
	}
}

func httpGet(t *testing.T, url string) (int, []byte) {
	t.Helper()
	res, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return res.StatusCode, b
}

func runTool(t *testing.T, env []string, name string, args ...string) {
	t.Helper()
	cmd := exec.CommandContext(t.Context(), name, args...)
	cmd.Env = append(os.Environ(), env...)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s %s: %v\n%s", filepath.Base(name), strings.Join(args, " "), err, out)
	}
}
