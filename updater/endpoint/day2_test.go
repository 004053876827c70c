package endpoint

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/slipwayhq/slipway/updater/repo"
)

// serve mounts h on a loopback server.
func serve(t *testing.T, h *Handler) *httptest.Server {
	t.Helper()
	r := chi.NewRouter()
	h.Routes(r)
	srv := httptest.NewServer(r)
	t.Cleanup(srv.Close)
	return srv
}

// TestStartsWhileStoreDown: New used to fail when storage was down at
// start, taking the machine and admin APIs down with it. Now the update
// routes answer 503 with Retry-After and catch up on their own.
func TestStartsWhileStoreDown(t *testing.T) {
	e := newEnv(t, Options{})
	e.st.SetDown(true)
	h, err := New(t.Context(), e.st, Options{})
	if err != nil {
		t.Fatalf("New with storage down: %v", err)
	}
	srv := serve(t, h)
	u := srv.URL + "/v1/updates/agent/stable?os=linux&arch=amd64&current=0.9.0&machine=m"
	for _, path := range []string{u, srv.URL + "/tuf/timestamp.json", srv.URL + "/tauri/myapp/stable/latest.json"} {
		resp, _ := get(t, path)
		if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" {
			t.Fatalf("%s with storage down: %d Retry-After %q", path, resp.StatusCode, resp.Header.Get("Retry-After"))
		}
	}
	if h.Ready() || len(h.Warnings()) == 0 {
		t.Fatal("not reported as unready")
	}
	if err := h.Tick(t.Context()); err == nil {
		t.Fatal("Tick with storage down succeeded")
	}
	e.st.SetDown(false)
	if err := h.Tick(t.Context()); err != nil {
		t.Fatal(err)
	}
	if resp, _ := get(t, u); resp.StatusCode != http.StatusOK {
		t.Fatalf("after storage came back: %d", resp.StatusCode)
	}
}

// TestDownloadOpensBeforeHeaders: a missing object used to be a 200 with
// `immutable` caching and an empty body; storage down the same. Errors
// are never cached (no-store).
func TestDownloadOpensBeforeHeaders(t *testing.T) {
	e := newEnv(t, Options{})
	name := "slipway-agent_1.1.0_linux_amd64.tar.gz"
	key := "releases/agent/1.1.0/" + name
	url := e.srv.URL + "/v1/download/agent/1.1.0/" + name
	whole := e.st.Bytes(key)

	e.st.SetDown(true)
	resp, _ := get(t, url)
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Cache-Control") != "no-store" || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("storage down: %d cache %q", resp.StatusCode, resp.Header.Get("Cache-Control"))
	}
	e.st.SetDown(false)

	if err := e.st.Delete(t.Context(), key); err != nil {
		t.Fatal(err)
	}
	resp, body := get(t, url)
	if resp.StatusCode != http.StatusNotFound || resp.Header.Get("Cache-Control") != "no-store" {
		t.Fatalf("missing object: %d %q cache %q", resp.StatusCode, body, resp.Header.Get("Cache-Control"))
	}
	if err := e.st.Put(t.Context(), key, bytes.NewReader(whole), int64(len(whole)), ""); err != nil {
		t.Fatal(err)
	}
	resp, tail := get(t, url, "Range", "bytes=7-")
	if resp.StatusCode != http.StatusPartialContent || !bytes.Equal(tail, whole[7:]) {
		t.Fatalf("range after restore: %d", resp.StatusCode)
	}
}

// TestPreviousSnapshotServed: after an apply lands, the previous
// N.snapshot.json used to be 404 at once, failing clients that had just
// read the previous timestamp. It stays for the grace period, and a
// snapshot newer than the loaded one (another replica's apply) is read
// from storage.
func TestPreviousSnapshotServed(t *testing.T) {
	clock := now
	e := newEnv(t, Options{Now: func() time.Time { return clock }})
	r, err := repo.Open(t.Context(), e.st, "", repo.Options{})
	if err != nil {
		t.Fatal(err)
	}
	old := fmt.Sprintf("%d.snapshot.json", r.Snapshot.Signed.Version)
	// A second server that has not reloaded yet.
	lagging, err := New(t.Context(), e.st, Options{})
	if err != nil {
		t.Fatal(err)
	}
	lagSrv := serve(t, lagging)

	if err := e.file.Promote("agent", "stable", "1.1.0", 100); err != nil {
		t.Fatal(err)
	}
	e.apply(t)
	if err := e.h.Tick(t.Context()); err != nil {
		t.Fatal(err)
	}
	r, _ = repo.Open(t.Context(), e.st, "", repo.Options{})
	cur := fmt.Sprintf("%d.snapshot.json", r.Snapshot.Signed.Version)
	if cur == old {
		t.Fatal("apply wrote no new snapshot")
	}
	e.st.SetDown(true) // served from memory, not storage
	for _, name := range []string{old, cur} {
		if resp, _ := get(t, e.srv.URL+"/tuf/"+name); resp.StatusCode != 200 {
			t.Fatalf("%s right after apply: %d", name, resp.StatusCode)
		}
	}
	e.st.SetDown(false)
	if resp, _ := get(t, lagSrv.URL+"/tuf/"+cur); resp.StatusCode != 200 {
		t.Fatalf("lagging replica, newer %s: %d", cur, resp.StatusCode)
	}
	// After the grace period and another change, the old one leaves memory.
	clock = clock.Add(2 * time.Hour)
	if err := e.file.Promote("agent", "stable", "1.0.0", 100); err != nil {
		t.Fatal(err)
	}
	e.apply(t)
	if err := e.h.Tick(t.Context()); err != nil {
		t.Fatal(err)
	}
	if _, ok := e.h.snap.Load().tuf[old]; ok {
		t.Fatalf("%s still in memory after the grace period", old)
	}
	if _, ok := e.h.snap.Load().tuf[cur]; !ok {
		t.Fatalf("%s (just superseded) not kept", cur)
	}
}

// signedBy returns the key ID that signed the served timestamp.
func signedBy(t *testing.T, srvURL string) string {
	t.Helper()
	_, body := get(t, srvURL+"/tuf/timestamp.json")
	var ts struct {
		Signatures []struct {
			KeyID string `json:"keyid"`
		} `json:"signatures"`
	}
	if err := json.Unmarshal(body, &ts); err != nil || len(ts.Signatures) != 1 {
		t.Fatalf("timestamp %s: %v", body, err)
	}
	return ts.Signatures[0].KeyID
}

// TestOnlineKeyRotationWithoutRestart: the server loaded the online key
// once, so after `slipway tuf rotate online` it kept signing with the
// revoked key. It now re-reads the key file, and refuses (loudly) to
// sign with a key the root no longer trusts.
func TestOnlineKeyRotationWithoutRestart(t *testing.T) {
	clock := now
	e := newEnv(t, Options{})
	keysDir := e.keysDir
	opts := Options{OnlineKeyFile: filepath.Join(keysDir, repo.OnlineKeyFile), Now: func() time.Time { return clock }}
	h, err := New(t.Context(), e.st, opts)
	if err != nil {
		t.Fatal(err)
	}
	stale, err := New(t.Context(), e.st, Options{OnlineKey: e.keys.Online, Now: func() time.Time { return clock }})
	if err != nil {
		t.Fatal(err)
	}
	srv := serve(t, h)
	r, _ := repo.Open(t.Context(), e.st, "", repo.Options{})
	if err := r.RotateKey(t.Context(), keysDir, repo.RoleOnline, clock); err != nil {
		t.Fatal(err)
	}
	newKey, err := repo.LoadKey(filepath.Join(keysDir, repo.OnlineKeyFile))
	if err != nil {
		t.Fatal(err)
	}
	clock = clock.Add(20 * time.Hour) // the timestamp is due
	before := e.st.Bytes("tuf/timestamp.json")
	if err := stale.Tick(t.Context()); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(before, e.st.Bytes("tuf/timestamp.json")) {
		t.Fatal("a server holding the revoked key re-signed the timestamp")
	}
	if w := strings.Join(stale.Warnings(), "\n"); !strings.Contains(w, "not the one root version 2 trusts") {
		t.Fatalf("revoked key not reported: %q", w)
	}
	if err := h.Tick(t.Context()); err != nil {
		t.Fatal(err)
	}
	if got := signedBy(t, srv.URL); got != newKey.ID {
		t.Fatalf("timestamp signed by %s, want the rotated key %s", got, newKey.ID)
	}
	if w := h.Warnings(); len(w) != 0 {
		t.Fatalf("warnings after rotation: %q", w)
	}
}

// TestReplicasSignOneAtATime: two servers sharing the online key used to
// both re-sign; with a lease only the holder writes.
func TestReplicasSignOneAtATime(t *testing.T) {
	clock := now.Add(20 * time.Hour)
	e := newEnv(t, Options{})
	var holder atomic.Value
	holder.Store("a")
	var asked atomic.Int32
	replica := func(name string) *Handler {
		h, err := New(t.Context(), e.st, Options{OnlineKey: e.keys.Online, Now: func() time.Time { return clock },
			Lease: func(context.Context) (bool, error) { asked.Add(1); return holder.Load() == name, nil }})
		if err != nil {
			t.Fatal(err)
		}
		return h
	}
	a, b := replica("a"), replica("b")
	before := e.st.Bytes("tuf/timestamp.json")
	if err := b.Tick(t.Context()); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(before, e.st.Bytes("tuf/timestamp.json")) {
		t.Fatal("replica without the lease signed")
	}
	if err := a.Tick(t.Context()); err != nil {
		t.Fatal(err)
	}
	after := e.st.Bytes("tuf/timestamp.json")
	if bytes.Equal(before, after) {
		t.Fatal("lease holder did not sign")
	}
	n := asked.Load()
	if err := b.Tick(t.Context()); err != nil || asked.Load() != n {
		t.Fatalf("replica asked for the lease with nothing due: %v", err)
	}
}

// TestExpiryGaugeAndWarnings: slipway_tuf_expiry_days per role, and a
// warning from 30 days before targets expire.
func TestExpiryGaugeAndWarnings(t *testing.T) {
	clock := now
	e := newEnv(t, Options{})
	reg := prometheus.NewRegistry()
	h, err := New(t.Context(), e.st, Options{OnlineKey: e.keys.Online, Registerer: reg, Now: func() time.Time { return clock }})
	if err != nil {
		t.Fatal(err)
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, mf := range mfs {
		if mf.GetName() != "slipway_tuf_expiry_days" {
			continue
		}
		for _, m := range mf.GetMetric() {
			got[m.GetLabel()[0].GetValue()] = m.GetGauge().GetValue()
		}
	}
	if want := map[string]float64{"root": 365, "targets": 180, "snapshot": 30, "timestamp": 1}; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("expiry gauge %v, want %v", got, want)
	}
	if w := h.Warnings(); len(w) != 0 {
		t.Fatalf("fresh repository warns: %q", w)
	}
	clock = now.Add(155 * 24 * time.Hour)
	if err := h.Tick(t.Context()); err != nil {
		t.Fatal(err)
	}
	w := strings.Join(h.Warnings(), "\n")
	if !strings.Contains(w, "TUF targets metadata") || !strings.Contains(w, "slipway tuf refresh") || strings.Contains(w, "timestamp") {
		t.Fatalf("warnings at day 155: %q", w)
	}
	noKey, err := New(t.Context(), e.st, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := noKey.Tick(t.Context()); err != nil {
		t.Fatal(err)
	}
	if w := strings.Join(noKey.Warnings(), "\n"); !strings.Contains(w, "no TUF online key") {
		t.Fatalf("missing online key not reported: %q", w)
	}
}
