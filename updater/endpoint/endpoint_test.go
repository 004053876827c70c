package endpoint

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"flag"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/slipwayhq/slipway/signing/minisign"
	"github.com/slipwayhq/slipway/updater/catalog"
	"github.com/slipwayhq/slipway/updater/channel"
	"github.com/slipwayhq/slipway/updater/internal/memstore"
	"github.com/slipwayhq/slipway/updater/publish"
	"github.com/slipwayhq/slipway/updater/repo"
	"github.com/slipwayhq/slipway/updater/tauri"
	"github.com/slipwayhq/slipway/updater/updatertest"
)

var update = flag.Bool("update", false, "rewrite golden files")

var now = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

type env struct {
	st   *memstore.Store
	pub  *updatertest.Publisher
	keys *repo.Keys
	// keysDir holds the TUF keys (root, targets, online).
	keysDir string
	file    *channel.File
	h       *Handler
	srv     *httptest.Server
}

// newEnv publishes agent 1.0.0 and 1.1.0 and myapp (Tauri) 1.2.3, applies
// the channels and serves the handler on a loopback httptest server.
func newEnv(t *testing.T, opts Options) *env {
	t.Helper()
	e := &env{st: memstore.New(), file: &channel.File{}}
	e.pub = updatertest.New(t, e.st, "", 1)
	var err error
	e.keysDir = filepath.Join(t.TempDir(), "keys")
	if e.keys, err = repo.EnsureKeys(e.keysDir, 1); err != nil {
		t.Fatal(err)
	}
	e.pub.Publish(t, "agent", "1.0.0", updatertest.Agent("1.0.0")...)
	e.pub.Publish(t, "agent", "1.1.0", append(updatertest.Agent("1.1.0"),
		updatertest.File{Name: "slipway-agent_1.1.0_linux_amd64.tar.gz.spdx.json", Format: "sbom", Data: []byte(`{"spdxVersion":"SPDX-2.3"}`)})...)
	e.pub.Publish(t, "myapp", "1.2.3", updatertest.TauriApp("1.2.3")...)
	for _, p := range []struct {
		prod, ch, v string
		pct         float64
	}{{"agent", "stable", "1.0.0", 100}, {"agent", "stable", "1.1.0", 50}, {"myapp", "stable", "1.2.3", 100}} {
		if err := e.file.Promote(p.prod, p.ch, p.v, p.pct); err != nil {
			t.Fatal(err)
		}
	}
	c, _ := e.file.Channel("agent", "stable")
	c.Notes = "Faster inventory."
	e.apply(t)
	if e.h, err = New(t.Context(), e.st, opts); err != nil {
		t.Fatal(err)
	}
	r := chi.NewRouter()
	e.h.Routes(r)
	e.srv = httptest.NewServer(r)
	t.Cleanup(e.srv.Close)
	return e
}

func (e *env) apply(t *testing.T) {
	t.Helper()
	cfg := publish.Config{Store: e.st, Verifier: catalog.Minisign{Key: e.pub.PK}}
	if _, err := publish.Apply(context.Background(), cfg, e.file, e.keys, now); err != nil {
		t.Fatal(err)
	}
}

func get(t *testing.T, u string, hdr ...string) (*http.Response, []byte) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, u, nil)
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, body
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	var pretty bytes.Buffer
	if json.Indent(&pretty, got, "", "  ") == nil {
		got = append(pretty.Bytes(), '\n')
	}
	updatertest.Golden(t, name, got, *update)
}

func TestNativeCheck(t *testing.T) {
	e := newEnv(t, Options{BaseURL: "https://updates.example.com"})
	in, out := machines("agent", "1.1.0", 50)
	base := e.srv.URL + "/v1/updates/agent/stable?os=linux&arch=amd64&machine="
	tests := []struct {
		name, url string
		status    int
		version   string
	}{
		{"in rollout", base + in + "&current=1.0.0", 200, "1.1.0"},
		{"out of rollout", base + out + "&current=1.0.0", 204, ""},
		{"fresh machine out of rollout gets previous", base + out, 200, "1.0.0"},
		{"up to date", base + in + "&current=1.1.0", 204, ""},
		{"v prefix accepted", base + in + "&current=v1.0.0", 200, "1.1.0"},
		{"platform not built", e.srv.URL + "/v1/updates/agent/stable?os=plan9&arch=amd64&current=0.1.0&machine=" + in, 204, ""},
		{"missing os", e.srv.URL + "/v1/updates/agent/stable?arch=amd64", 400, ""},
		{"garbage current", base + in + "&current=latest", 400, ""},
		{"oversize machine", base + strings.Repeat("m", 300), 400, ""},
		{"unknown channel", e.srv.URL + "/v1/updates/agent/nightly?os=linux&arch=amd64", 404, ""},
		{"unknown product", e.srv.URL + "/v1/updates/nope/stable?os=linux&arch=amd64", 404, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := get(t, tt.url)
			if resp.StatusCode != tt.status {
				t.Fatalf("status %d: %s", resp.StatusCode, body)
			}
			if tt.status != 200 {
				return
			}
			var up Update
			if err := json.Unmarshal(body, &up); err != nil {
				t.Fatal(err)
			}
			if up.Version != tt.version || up.Size == 0 || len(up.SHA256) != 64 || up.Signatures["minisign"] == "" {
				t.Fatalf("update %+v", up)
			}
		})
	}
	resp, body := get(t, base+in+"&current=1.0.0")
	golden(t, "TestNativeCheck", body)
	// The same answer again: 304 with the ETag.
	resp2, body2 := get(t, base+in+"&current=1.0.0", "If-None-Match", resp.Header.Get("ETag"))
	if resp2.StatusCode != http.StatusNotModified || len(body2) != 0 {
		t.Fatalf("conditional GET: %d %q", resp2.StatusCode, body2)
	}
}

func TestDownloadRangeAndSignature(t *testing.T) {
	e := newEnv(t, Options{})
	in, _ := machines("agent", "1.1.0", 50)
	_, body := get(t, e.srv.URL+"/v1/updates/agent/stable?os=linux&arch=amd64&current=1.0.0&machine="+in)
	var up Update
	if err := json.Unmarshal(body, &up); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(up.URL, e.srv.URL+"/v1/download/agent/1.1.0/") {
		t.Fatalf("url %s", up.URL)
	}
	resp, whole := get(t, up.URL)
	if resp.StatusCode != 200 || int64(len(whole)) != up.Size {
		t.Fatalf("download %d %d bytes", resp.StatusCode, len(whole))
	}
	sig, err := minisign.ParseSignature([]byte(up.Signatures["minisign"]))
	if err != nil {
		t.Fatal(err)
	}
	if err := minisign.Verify(e.pub.PK, bytes.NewReader(whole), sig); err != nil {
		t.Fatalf("signature: %v", err)
	}
	// Resume after a dropped connection: Range from byte 5.
	resp, tail := get(t, up.URL, "Range", "bytes=5-")
	if resp.StatusCode != http.StatusPartialContent || !bytes.Equal(tail, whole[5:]) {
		t.Fatalf("range: %d %q", resp.StatusCode, tail)
	}
	resp, mid := get(t, up.URL, "Range", "bytes=2-4")
	if resp.StatusCode != http.StatusPartialContent || !bytes.Equal(mid, whole[2:5]) {
		t.Fatalf("range 2-4: %d %q", resp.StatusCode, mid)
	}
	// Files that are not installable (SBOMs, provenance) are downloadable
	// with their signatures, but never offered as updates.
	sbom := e.srv.URL + "/v1/download/agent/1.1.0/slipway-agent_1.1.0_linux_amd64.tar.gz.spdx.json"
	if resp, b := get(t, sbom); resp.StatusCode != 200 || string(b) != `{"spdxVersion":"SPDX-2.3"}` {
		t.Fatalf("SBOM download: %d %q", resp.StatusCode, b)
	}
	if resp, b := get(t, sbom+".minisig"); resp.StatusCode != 200 || !bytes.Contains(b, []byte("untrusted comment")) {
		t.Fatalf("SBOM signature download: %d %q", resp.StatusCode, b)
	}
	if resp, _ := get(t, e.srv.URL+"/v1/download/agent/1.1.0/release.json"); resp.StatusCode != 404 {
		t.Fatalf("non-artifact served: %d", resp.StatusCode)
	}
	if resp, _ := get(t, e.srv.URL+"/v1/download/agent/9.9.9/x"); resp.StatusCode != 404 {
		t.Fatalf("unknown release: %d", resp.StatusCode)
	}
}

func TestTUFReadOnly(t *testing.T) {
	e := newEnv(t, Options{})
	resp, body := get(t, e.srv.URL+"/tuf/1.root.json")
	if resp.StatusCode != 200 || !bytes.Contains(body, []byte(`"_type":"root"`)) {
		t.Fatalf("root: %d %.80s", resp.StatusCode, body)
	}
	resp, _ = get(t, e.srv.URL+"/tuf/timestamp.json")
	resp2, _ := get(t, e.srv.URL+"/tuf/timestamp.json", "If-None-Match", resp.Header.Get("ETag"))
	if resp.StatusCode != 200 || resp2.StatusCode != http.StatusNotModified {
		t.Fatalf("timestamp %d then %d", resp.StatusCode, resp2.StatusCode)
	}
	for _, bad := range []string{"/tuf/../release.json", "/tuf/0.root.json", "/tuf/keys.json", "/tuf/targets/agent/1.1.0/deadbeef.x"} {
		if resp, _ := get(t, e.srv.URL+bad); resp.StatusCode == 200 {
			t.Errorf("%s served", bad)
		}
	}
	// Targets by their consistent-snapshot name <dir>/<sha256>.<file>.
	name := "slipway-agent_1.1.0_linux_amd64.tar.gz"
	data := e.st.Bytes("releases/agent/1.1.0/" + name)
	sum := sha256.Sum256(data)
	resp, got := get(t, e.srv.URL+"/tuf/targets/agent/1.1.0/"+hex.EncodeToString(sum[:])+"."+name)
	if resp.StatusCode != 200 || !bytes.Equal(got, data) {
		t.Fatalf("target: %d %q", resp.StatusCode, got)
	}
	req, _ := http.NewRequest(http.MethodPut, e.srv.URL+"/tuf/timestamp.json", strings.NewReader("{}"))
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != http.StatusMethodNotAllowed {
		t.Fatalf("PUT accepted: %v %v", resp, err)
	}
}

func TestDownloadModes(t *testing.T) {
	in, _ := machines("agent", "1.1.0", 50)
	tests := []struct {
		name string
		opts Options
		want string
	}{
		{"public base URL", Options{Downloads: DownloadPublic, PublicBaseURL: "https://cdn.example.com/rel/"},
			"https://cdn.example.com/rel/releases/agent/1.1.0/slipway-agent_1.1.0_linux_amd64.tar.gz"},
		{"presigned", Options{Downloads: DownloadPresigned}, "memory:///releases/agent/1.1.0/slipway-agent_1.1.0_linux_amd64.tar.gz"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, tt.opts)
			_, body := get(t, e.srv.URL+"/v1/updates/agent/stable?os=linux&arch=amd64&current=1.0.0&machine="+in)
			var up Update
			if err := json.Unmarshal(body, &up); err != nil || up.URL != tt.want {
				t.Fatalf("url %q (%v)", up.URL, err)
			}
		})
	}
	for _, bad := range []Options{{Downloads: DownloadPublic}, {Downloads: "ftp"}} {
		if err := bad.Validate(); err == nil {
			t.Errorf("%+v accepted", bad)
		}
	}
}

func TestStorageChangesAndOutage(t *testing.T) {
	e := newEnv(t, Options{})
	ctx := t.Context()
	// Promote 1.1.0 fully: after a reload every machine gets it.
	if err := e.file.SetRollout("agent", "stable", 100); err != nil {
		t.Fatal(err)
	}
	e.apply(t)
	if err := e.h.Reload(ctx); err != nil {
		t.Fatal(err)
	}
	_, out := machines("agent", "1.1.0", 50)
	u := e.srv.URL + "/v1/updates/agent/stable?os=linux&arch=amd64&current=1.0.0&machine=" + out
	if resp, _ := get(t, u); resp.StatusCode != 200 {
		t.Fatalf("after full rollout: %d", resp.StatusCode)
	}
	// Storage goes down: reload fails, the last good metadata is served.
	e.st.SetDown(true)
	if err := e.h.Tick(ctx); err == nil {
		t.Fatal("reload with storage down succeeded")
	}
	if resp, _ := get(t, u); resp.StatusCode != 200 {
		t.Fatalf("storage down: %d", resp.StatusCode)
	}
	if resp, _ := get(t, e.srv.URL+"/tuf/timestamp.json"); resp.StatusCode != 200 {
		t.Fatalf("tuf with storage down: %d", resp.StatusCode)
	}
	e.st.SetDown(false)
	if err := e.h.Tick(ctx); err != nil {
		t.Fatal(err)
	}
}

func TestRefreshResignsTimestamp(t *testing.T) {
	e := newEnv(t, Options{})
	clock := now.Add(20 * time.Hour) // past half of the 24 h timestamp lifetime
	h, err := New(t.Context(), e.st, Options{OnlineKey: e.keys.Online, Now: func() time.Time { return clock }})
	if err != nil {
		t.Fatal(err)
	}
	before := e.st.Bytes("tuf/timestamp.json")
	if err := h.Tick(t.Context()); err != nil {
		t.Fatal(err)
	}
	after := e.st.Bytes("tuf/timestamp.json")
	if bytes.Equal(before, after) {
		t.Fatal("timestamp not re-signed")
	}
	if !bytes.Equal(h.snap.Load().tuf["timestamp.json"].data, after) {
		t.Fatal("handler serves stale timestamp")
	}
	if err := h.Tick(t.Context()); err != nil || !bytes.Equal(after, e.st.Bytes("tuf/timestamp.json")) {
		t.Fatalf("fresh timestamp re-signed again: %v", err)
	}
}

func TestTauriDynamic(t *testing.T) {
	e := newEnv(t, Options{BaseURL: "https://updates.example.com"})
	base := e.srv.URL + "/tauri/myapp/stable/"
	tests := []struct {
		name, path, key string
		status          int
		file            string
	}{
		{"linux default is appimage", "linux/x86_64/1.0.0", "linux-x86_64", 200, "MyApp_1.2.3_amd64.AppImage"},
		{"deb bundle", "linux/x86_64/1.0.0/deb", "linux-x86_64-deb", 200, "MyApp_1.2.3_amd64.deb"},
		{"windows msi", "windows/x86_64/1.0.0/msi", "windows-x86_64-msi", 200, "MyApp_1.2.3_x64_en-US.msi"},
		{"windows default nsis", "windows/x86_64/0.9.0", "windows-x86_64", 200, "MyApp_1.2.3_x64-setup.exe"},
		{"macOS app", "darwin/aarch64/1.0.0/app", "darwin-aarch64-app", 200, "MyApp.app.tar.gz"},
		{"unknown bundle detected", "linux/x86_64/1.0.0/unknown", "linux-x86_64", 200, "MyApp_1.2.3_amd64.AppImage"},
		{"build metadata encoded", "linux/x86_64/1.0.0%2Bbuild.5", "linux-x86_64", 200, "MyApp_1.2.3_amd64.AppImage"},
		{"up to date", "linux/x86_64/1.2.3", "", 204, ""},
		{"newer installed", "linux/x86_64/2.0.0", "", 204, ""},
		{"no build for platform", "linux/aarch64/1.0.0", "", 204, ""},
		{"bad target", "macos/x86_64/1.0.0", "", 404, ""},
		{"bundle of other os", "linux/x86_64/1.0.0/msi", "", 404, ""},
		{"bad version", "linux/x86_64/1.2", "", 400, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := get(t, base+tt.path, "Accept", "application/json")
			if resp.StatusCode != tt.status {
				t.Fatalf("status %d: %s", resp.StatusCode, body)
			}
			if tt.status == 204 && len(body) != 0 {
				t.Fatalf("204 with body %q", body)
			}
			if tt.status != 200 {
				return
			}
			ver, u, sig, err := tauri.Validate(body, tt.key)
			if err != nil {
				t.Fatalf("plugin would reject: %v\n%s", err, body)
			}
			if ver != "1.2.3" || !strings.HasSuffix(u, "/"+tt.file) {
				t.Fatalf("version %s url %s", ver, u)
			}
			e.verifyTauri(t, tt.file, sig, ver)
		})
	}
	_, body := get(t, base+"linux/x86_64/1.0.0")
	golden(t, "TestTauriDynamic", body)
}

// verifyTauri checks the signature the way the plugin does, over the
// artifact bytes in storage.
func (e *env) verifyTauri(t *testing.T, file, sig, version string) {
	t.Helper()
	data := e.st.Bytes("releases/myapp/1.2.3/" + file)
	if _, err := minisign.VerifyTauri(e.pub.PK, bytes.NewReader(data), sig, version); err != nil {
		t.Fatalf("tauri signature of %s: %v", file, err)
	}
}

func TestTauriStatic(t *testing.T) {
	e := newEnv(t, Options{BaseURL: "https://updates.example.com"})
	resp, body := get(t, e.srv.URL+"/tauri/myapp/stable/latest.json")
	if resp.StatusCode != 200 {
		t.Fatalf("status %d %s", resp.StatusCode, body)
	}
	var m tauri.Static
	if err := json.Unmarshal(body, &m); err != nil {
		t.Fatal(err)
	}
	want := []string{"linux-x86_64", "linux-x86_64-appimage", "linux-x86_64-deb", "darwin-aarch64", "darwin-aarch64-app",
		"windows-x86_64", "windows-x86_64-nsis", "windows-x86_64-msi"}
	if len(m.Platforms) != len(want) {
		t.Fatalf("platforms %v", m.Platforms)
	}
	for _, key := range want {
		_, u, sig, err := tauri.Validate(body, key)
		if err != nil {
			t.Fatalf("%s: %v", key, err)
		}
		pu, _ := url.Parse(u)
		e.verifyTauri(t, filepath.Base(pu.Path), sig, m.Version)
	}
	golden(t, "TestTauriStatic", body)
	staticMatchesDynamic(t, e.srv.URL, "myapp")
	staticMatchesDynamic(t, e.srv.URL, "agent")
}

// staticMatchesDynamic checks that latest.json offers each {os}-{arch} what
// the dynamic endpoint serves it, also for a product without Tauri bundles
// (issue 13: the README's latest.json curl answered 404 while the dynamic
// endpoint served the desktop archive).
func staticMatchesDynamic(t *testing.T, base, product string) {
	t.Helper()
	resp, body := get(t, base+"/tauri/"+product+"/stable/latest.json")
	if resp.StatusCode != 200 {
		t.Fatalf("%s latest.json: %d %s", product, resp.StatusCode, body)
	}
	var m tauri.Static
	if err := json.Unmarshal(body, &m); err != nil {
		t.Fatal(err)
	}
	plain := 0
	for key, p := range m.Platforms {
		parts := strings.Split(key, "-")
		if len(parts) != 2 {
			continue
		}
		plain++
		if _, _, _, err := tauri.Validate(body, key); err != nil {
			t.Fatalf("%s %s: %v", product, key, err)
		}
		resp, dyn := get(t, base+"/tauri/"+product+"/stable/"+parts[0]+"/"+parts[1]+"/0.0.1")
		var d tauri.Dynamic
		if resp.StatusCode != 200 || json.Unmarshal(dyn, &d) != nil {
			t.Fatalf("%s dynamic %s: %d %s", product, key, resp.StatusCode, dyn)
		}
		if d.Version != m.Version || d.URL != p.URL || d.Signature != p.Signature {
			t.Errorf("%s %s: static %s %s, dynamic %s %s", product, key, m.Version, p.URL, d.Version, d.URL)
		}
	}
	if plain == 0 {
		t.Fatalf("%s latest.json has no {os}-{arch} key: %s", product, body)
	}
}

// BenchmarkNativeCheck measures the handler alone (no network): an update
// check with the rollout decision, from 10,000 machine ids.
func BenchmarkNativeCheck(b *testing.B) {
	st := memstore.New()
	pub := updatertest.New(b, st, "", 1)
	keys, err := repo.EnsureKeys(filepath.Join(b.TempDir(), "keys"), 1)
	if err != nil {
		b.Fatal(err)
	}
	f := &channel.File{}
	for _, v := range []string{"1.0.0", "1.1.0"} {
		pub.Publish(b, "agent", v, updatertest.Agent(v)...)
		if err := f.Promote("agent", "stable", v, 50); err != nil {
			b.Fatal(err)
		}
	}
	if _, err := publish.Apply(b.Context(), publish.Config{Store: st, Verifier: catalog.Minisign{Key: pub.PK}}, f, keys, now); err != nil {
		b.Fatal(err)
	}
	h, err := New(b.Context(), st, Options{BaseURL: "http://127.0.0.1:8080"})
	if err != nil {
		b.Fatal(err)
	}
	r := chi.NewRouter()
	h.Routes(r)
	reqs := make([]*http.Request, 10000)
	for i := range reqs {
		reqs[i] = httptest.NewRequest(http.MethodGet, "/v1/updates/agent/stable?os=linux&arch=amd64&current=1.0.0&machine=m-"+strconv.Itoa(i), nil)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		w := httptest.NewRecorder()
		r.ServeHTTP(w, reqs[i%len(reqs)])
	}
}
