package daemon_test

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/slipwayhq/slipway/agent/agenttest"
	"github.com/slipwayhq/slipway/agent/daemon"
	"github.com/slipwayhq/slipway/agent/enroll"
	"github.com/slipwayhq/slipway/agent/heartbeat"
	"github.com/slipwayhq/slipway/agent/inventory"
	"github.com/slipwayhq/slipway/agent/software"
	"github.com/slipwayhq/slipway/machineapi"
)

// wire counts request body bytes on the wire, per path.
type wire struct {
	mu    sync.Mutex
	bytes map[string][]int64
}

func (w *wire) RoundTrip(r *http.Request) (*http.Response, error) {
	w.mu.Lock()
	w.bytes[r.URL.Path] = append(w.bytes[r.URL.Path], r.ContentLength)
	w.mu.Unlock()
	return http.DefaultTransport.RoundTrip(r)
}

func (w *wire) take(path string) []int64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := w.bytes[path]
	delete(w.bytes, path)
	return out
}

func packages(n int, firefox string) software.List {
	items := []software.Item{{Name: "firefox", Version: firefox, Source: "deb_packages"}}
	for i := range n - 1 {
		items = append(items, software.Item{Name: fmt.Sprintf("lib%03d", i), Version: "1.0." + fmt.Sprint(i),
			Source: "deb_packages", Vendor: "Debian Maintainers <debian@example.org>"})
	}
	return software.Collect(context.Background(), software.Options{Sources: []software.Source{static(items)}})
}

type static []software.Item

func (static) Name() string                                       { return "static" }
func (s static) Collect(context.Context) ([]software.Item, error) { return s, nil }

// TestSoftwareSentOnlyWhenChanged: the first heartbeat uploads the list
// (gzip), later heartbeats carry only its hash (a fixed ~90 bytes more
// than a heartbeat without software), and a changed list is uploaded once.
func TestSoftwareSentOnlyWhenChanged(t *testing.T) {
	srv := agenttest.Start(t)
	w := &wire{bytes: map[string][]int64{}}
	now := time.Date(2026, 5, 4, 10, 0, 0, 0, time.UTC)
	firefox := "127.0"
	collected := 0
	newD := func(dir string, sw func(context.Context) software.List) *daemon.Daemon {
		return daemon.New(daemon.Config{Dir: dir, Version: "1.0.0", Inventory: inventory.Options{Osquery: "off"}, NoSoftware: sw == nil,
			ClientOptions: machineapi.Options{HTTPClient: &http.Client{Transport: w}},
			Enroll:        enroll.Config{Server: srv.URL, ProvisioningSecret: srv.Secret},
			Heartbeat: heartbeat.Options{Software: sw, SoftwareEvery: time.Hour, InventoryEvery: 1000 * time.Hour,
				Now: func() time.Time { return now }}})
	}
	d := newD(t.TempDir(), func(context.Context) software.List { collected++; return packages(300, firefox) })
	st, err := d.Enroll(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	loop := d.Loop()
	beat := func() {
		t.Helper()
		if _, err := loop.Beat(t.Context()); err != nil {
			t.Fatal(err)
		}
	}
	beat()
	uploads := w.take(machineapi.PathSoftware)
	if len(uploads) != 1 || uploads[0] <= 0 || uploads[0] > 16<<10 {
		t.Fatalf("first beat uploads: %v (300 entries gzip-compressed)", uploads)
	}
	_, page := srv.AdminJSON(http.MethodGet, "/machines/"+st.MachineID+"/software")
	if page["total"] != float64(300) {
		t.Fatalf("server has %v entries", page["total"])
	}
	w.take(machineapi.PathHeartbeat)
	for range 5 {
		now = now.Add(time.Minute)
		beat()
	}
	if up := w.take(machineapi.PathSoftware); len(up) != 0 {
		t.Fatalf("unchanged list re-sent: %v", up)
	}
	withHash := w.take(machineapi.PathHeartbeat)

	// The same heartbeats from an agent without software inventory.
	plain := newD(t.TempDir(), nil)
	if _, err := plain.Enroll(t.Context()); err != nil {
		t.Fatal(err)
	}
	plainLoop := plain.Loop()
	if _, err := plainLoop.Beat(t.Context()); err != nil {
		t.Fatal(err)
	}
	w.take(machineapi.PathHeartbeat)
	if _, err := plainLoop.Beat(t.Context()); err != nil {
		t.Fatal(err)
	}
	without := w.take(machineapi.PathHeartbeat)
	extra := withHash[len(withHash)-1] - without[0]
	t.Logf("heartbeat body %d bytes with the software hash, %d without; first upload %d bytes", withHash[len(withHash)-1], without[0], uploads[0])
	if extra < 80 || extra > 200 { // ,"softwareHash":"sha256:<64 hex>" plus metrics noise
		t.Fatalf("hash costs %d bytes per heartbeat", extra)
	}
	if collected != 1 {
		t.Fatalf("collected %d times within the hour", collected)
	}
	// An hour later the list is collected again; firefox changed: one upload.
	firefox = "128.0"
	now = now.Add(time.Hour)
	beat()
	beat()
	if up := w.take(machineapi.PathSoftware); len(up) != 1 {
		t.Fatalf("changed list: %d uploads, want 1", len(up))
	}
	_, hits := srv.AdminJSON(http.MethodGet, "/software?q=firefox+%3E%3D+128")
	if items, _ := hits["items"].([]any); len(items) != 1 {
		t.Fatalf("search after the change: %v", hits)
	}
}
