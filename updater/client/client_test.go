package client

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/slipwayhq/slipway/updater/catalog"
	"github.com/slipwayhq/slipway/updater/channel"
	"github.com/slipwayhq/slipway/updater/endpoint"
	"github.com/slipwayhq/slipway/updater/internal/memstore"
	"github.com/slipwayhq/slipway/updater/publish"
	"github.com/slipwayhq/slipway/updater/repo"
	"github.com/slipwayhq/slipway/updater/updatertest"
)

var start = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// script is a fake agent binary: `slipway-agent version` prints version.
func script(version string) []byte {
	return []byte("#!/bin/sh\necho slipway-agent " + version + "\n")
}

func tarGz(t *testing.T, name string, data []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	for _, f := range []struct {
		name string
		data []byte
	}{{"README.md", []byte("readme")}, {name, data}} {
		if err := tw.WriteHeader(&tar.Header{Name: f.name, Mode: 0o755, Size: int64(len(f.data)), Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		tw.Write(f.data)
	}
	tw.Close()
	gz.Close()
	return buf.Bytes()
}

func agentRelease(t *testing.T, version string, bin []byte) []updatertest.File {
	return []updatertest.File{
		{Name: "slipway-agent_" + version + "_linux_amd64.tar.gz", OS: "linux", Arch: "amd64", Format: "tar.gz", Data: tarGz(t, "slipway-agent", bin)},
		{Name: "slipway-agent_" + version + "_windows_amd64.tar.gz", OS: "windows", Arch: "amd64", Format: "tar.gz", Data: tarGz(t, "slipway-agent.exe", bin)},
		{Name: "other_" + version + "_linux_amd64.tar.gz", OS: "linux", Arch: "amd64", Format: "tar.gz", Data: tarGz(t, "slipway-agent", bin)},
	}
}

// world is a server with a TUF repository and an installed agent 1.0.0.
type world struct {
	st      *memstore.Store
	pub     *updatertest.Publisher
	keys    *repo.Keys
	file    *channel.File
	h       *endpoint.Handler
	srv     *httptest.Server
	bin     string
	cfg     Config
	mu      sync.Mutex
	tamper  map[string]http.HandlerFunc // path -> replacement handler
	ranges  []string                    // Range headers seen on downloads
	metaAt  time.Time                   // time of the last apply
	prevTUF map[string][]byte           // storage keys of tuf/ before the last apply
}

func newWorld(t *testing.T) *world {
	t.Helper()
	if runtime.GOOS == "windows" {
		t.Skip("fake binaries are shell scripts")
	}
	w := &world{st: memstore.New(), file: &channel.File{}, tamper: map[string]http.HandlerFunc{}}
	w.pub = updatertest.New(t, w.st, "", 3)
	var err error
	if w.keys, err = repo.EnsureKeys(filepath.Join(t.TempDir(), "keys"), 1); err != nil {
		t.Fatal(err)
	}
	w.pub.Publish(t, "agent", "1.0.0", agentRelease(t, "1.0.0", script("1.0.0"))...)
	w.pub.Publish(t, "agent", "1.1.0", agentRelease(t, "1.1.0", script("1.1.0"))...)
	w.pub.Publish(t, "agent", "1.2.0", agentRelease(t, "1.2.0", []byte("#!/bin/sh\nexit 3\n"))...)
	w.pub.Publish(t, "other", "9.0.0", agentRelease(t, "9.0.0", script("9.0.0"))...)
	w.promote(t, "other", "9.0.0")
	w.promote(t, "agent", "1.1.0")
	if w.h, err = endpoint.New(t.Context(), w.st, endpoint.Options{}); err != nil {
		t.Fatal(err)
	}
	r := chi.NewRouter()
	w.h.Routes(r)
	w.srv = httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, req *http.Request) {
		w.mu.Lock()
		fn := w.tamper[req.URL.Path]
		if strings.HasPrefix(req.URL.Path, "/v1/download/") {
			w.ranges = append(w.ranges, req.Header.Get("Range"))
		}
		w.mu.Unlock()
		if fn != nil {
			fn(rw, req)
			return
		}
		r.ServeHTTP(rw, req)
	}))
	t.Cleanup(w.srv.Close)

	dir := t.TempDir()
	w.bin = filepath.Join(dir, "bin", "slipway-agent")
	os.MkdirAll(filepath.Dir(w.bin), 0o755)
	if err := os.WriteFile(w.bin, script("1.0.0"), 0o755); err != nil {
		t.Fatal(err)
	}
	w.cfg = Config{Product: "agent", Channel: "stable", ServerURL: w.srv.URL, TrustedRoot: w.st.Bytes("tuf/1.root.json"),
		MinisignKey: w.pub.PK, StateDir: filepath.Join(dir, "state"), CurrentVersion: "1.0.0", MachineID: "m-1",
		OS: "linux", Arch: "amd64", BinaryPath: w.bin, Now: func() time.Time { return w.metaAt.Add(time.Hour) }}
	return w
}

func (w *world) promote(t *testing.T, product, version string) {
	t.Helper()
	if err := w.file.Promote(product, "stable", version, 100); err != nil {
		t.Fatal(err)
	}
	w.apply(t)
}

func (w *world) apply(t *testing.T) {
	t.Helper()
	w.prevTUF = map[string][]byte{}
	for _, k := range w.st.Keys() {
		if strings.HasPrefix(k, "tuf/") {
			w.prevTUF[k] = w.st.Bytes(k)
		}
	}
	if w.metaAt.IsZero() {
		w.metaAt = start
	} else {
		w.metaAt = w.metaAt.Add(time.Minute)
	}
	cfg := publish.Config{Store: w.st, Verifier: catalog.Minisign{Key: w.pub.PK}}
	if _, err := publish.Apply(context.Background(), cfg, w.file, w.keys, w.metaAt); err != nil {
		t.Fatal(err)
	}
	if w.h != nil {
		if err := w.h.Reload(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
}

func (w *world) set(path string, fn http.HandlerFunc) {
	w.mu.Lock()
	w.tamper[path] = fn
	w.mu.Unlock()
}

func (w *world) client(t *testing.T) *Client {
	t.Helper()
	c, err := New(w.cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// intact fails the test unless the installed binary is still 1.0.0 and
// nothing was swapped.
func (w *world) intact(t *testing.T) {
	t.Helper()
	data, err := os.ReadFile(w.bin)
	if err != nil || !bytes.Equal(data, script("1.0.0")) {
		t.Fatalf("installed binary changed: %q %v", data, err)
	}
	if _, err := os.Stat(w.bin + PreviousSuffix); err == nil {
		t.Fatal("a swap happened")
	}
}

// offer rewrites the server's update answer.
func (w *world) offer(t *testing.T, edit func(o map[string]any)) {
	t.Helper()
	c := w.client(t)
	o, _, err := c.ask(t.Context())
	if err != nil || o == nil {
		t.Fatalf("ask: %v %v", o, err)
	}
	raw, _ := json.Marshal(o)
	var m map[string]any
	json.Unmarshal(raw, &m)
	edit(m)
	body, _ := json.Marshal(m)
	w.set("/v1/updates/agent/stable", func(rw http.ResponseWriter, r *http.Request) { rw.Write(body) })
}

func TestUpdateHappyPath(t *testing.T) {
	w := newWorld(t)
	res, err := w.client(t).Update(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if res.From != "1.0.0" || res.To != "1.1.0" {
		t.Fatalf("result %+v", res)
	}
	if data, _ := os.ReadFile(w.bin); !bytes.Equal(data, script("1.1.0")) {
		t.Fatalf("new binary %q", data)
	}
	if data, _ := os.ReadFile(w.bin + PreviousSuffix); !bytes.Equal(data, script("1.0.0")) {
		t.Fatalf("previous binary %q", data)
	}
	// Healthy start: nothing rolled back; confirm commits the update.
	if err := Startup(w.cfg.StateDir, w.cfg.Now()); err != nil {
		t.Fatal(err)
	}
	if err := ConfirmHealthy(w.cfg.StateDir); err != nil {
		t.Fatal(err)
	}
	if err := Startup(w.cfg.StateDir, w.cfg.Now().Add(24*time.Hour)); err != nil {
		t.Fatalf("after confirm: %v", err)
	}
	// Now on 1.1.0: nothing to do.
	w.cfg.CurrentVersion = "1.1.0"
	if res, err := w.client(t).Update(t.Context()); err != nil || res != nil {
		t.Fatalf("second update: %+v %v", res, err)
	}
}

func TestUnhealthyRollsBack(t *testing.T) {
	w := newWorld(t)
	if _, err := w.client(t).Update(t.Context()); err != nil {
		t.Fatal(err)
	}
	if err := Startup(w.cfg.StateDir, w.cfg.Now().Add(time.Minute)); err != nil {
		t.Fatalf("first start: %v", err)
	}
	err := Startup(w.cfg.StateDir, w.cfg.Now().Add(time.Hour)) // past the 10 min deadline
	if !errors.Is(err, ErrUnhealthy) {
		t.Fatalf("err = %v, want ErrUnhealthy", err)
	}
	if data, _ := os.ReadFile(w.bin); !bytes.Equal(data, script("1.0.0")) {
		t.Fatalf("not rolled back: %q", data)
	}
	f, err := LastFailure(w.cfg.StateDir)
	if err != nil || f == nil || f.To != "1.1.0" {
		t.Fatalf("failure report %+v %v", f, err)
	}
	if f, _ := LastFailure(w.cfg.StateDir); f != nil {
		t.Fatal("failure reported twice")
	}
}

func TestSelfCheckFailureKeepsBinary(t *testing.T) {
	w := newWorld(t)
	w.promote(t, "agent", "1.2.0") // its binary exits 3
	_, err := w.client(t).Update(t.Context())
	if !errors.Is(err, ErrSelfCheck) {
		t.Fatalf("err = %v", err)
	}
	w.intact(t)
}

func TestResumeDownload(t *testing.T) {
	w := newWorld(t)
	c := w.client(t)
	o, err := c.Check(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	// A dropped connection: the server sends half the file then closes.
	full := w.st.Bytes("releases/agent/1.1.0/slipway-agent_1.1.0_linux_amd64.tar.gz")
	half := len(full) / 2
	path := "/v1/download/agent/1.1.0/slipway-agent_1.1.0_linux_amd64.tar.gz"
	w.set(path, func(rw http.ResponseWriter, r *http.Request) {
		rw.Header().Set("Content-Length", itoa(len(full)))
		rw.Write(full[:half])
	})
	if _, err := c.Download(t.Context(), o); !errors.Is(err, ErrServer) {
		t.Fatalf("interrupted download: %v", err)
	}
	w.set(path, nil)
	staged, err := c.Download(t.Context(), o)
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(staged); !bytes.Equal(got, full) {
		t.Fatal("resumed file differs")
	}
	w.mu.Lock()
	if last := w.ranges[len(w.ranges)-1]; last != "bytes="+itoa(half)+"-" {
		t.Fatalf("ranges %q", w.ranges)
	}
	w.mu.Unlock()
	// A server (or proxy) that ignores Range: the client starts over.
	os.Remove(staged)
	w.set(path, func(rw http.ResponseWriter, r *http.Request) { rw.Write(full[:half]) })
	c.Download(t.Context(), o)
	w.set(path, func(rw http.ResponseWriter, r *http.Request) { rw.Write(full) })
	if staged, err = c.Download(t.Context(), o); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(staged); !bytes.Equal(got, full) {
		t.Fatal("restarted file differs")
	}
}

func itoa(i int) string { return strconv.Itoa(i) }
