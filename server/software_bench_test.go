package server_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/slipwayhq/slipway/machineapi"
	"github.com/slipwayhq/slipway/server"
	"github.com/slipwayhq/slipway/server/store"
	"github.com/slipwayhq/slipway/server/store/sqlite"
	"github.com/slipwayhq/slipway/server/store/storetest"
	"github.com/slipwayhq/slipway/server/token"
)

// BenchmarkHeartbeatSoftwareHash compares the heartbeat endpoint with and
// without the softwareHash field (whose list the server already has: the
// steady state of a fleet that changes nothing), through the real router
// and SQLite, SLIPWAY_BENCH_SW_MACHINES machines (default 200) beating
// from 32 goroutines. One op = one acknowledged heartbeat.
func BenchmarkHeartbeatSoftwareHash(b *testing.B) {
	n := storetest.BenchEnv("SLIPWAY_BENCH_SW_MACHINES", 200)
	dir := b.TempDir()
	st, err := sqlite.Open(b.Context(), filepath.Join(dir, "slipway.db"), sqlite.Options{Synchronous: "NORMAL"})
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	now := time.Now()
	if _, err := server.EnsureBootstrap(b.Context(), st, dir, server.Bootstrap{}, now); err != nil {
		b.Fatal(err)
	}
	srv, err := server.New(server.Config{DataDir: dir, RateLimit: 1e6, RateBurst: 1e6}, server.Options{Store: st})
	if err != nil {
		b.Fatal(err)
	}
	defer srv.Close()
	ts := httptest.NewServer(srv)
	defer ts.Close()
	ms := make([]store.Machine, n)
	toks := make([]store.Token, n)
	values := make([]string, n)
	for i := range ms {
		ms[i] = store.Machine{ID: fmt.Sprintf("m%07d", i), TenantID: "default", Fingerprint: fmt.Sprint(i), Hostname: "h",
			Source: "agent", CreatedAt: now, UpdatedAt: now}
		var h []byte
		values[i], h = token.New(token.Machine)
		toks[i] = store.Token{Hash: h, MachineID: ms[i].ID, TenantID: "default", CreatedAt: now, ExpiresAt: now.Add(24 * time.Hour)}
	}
	if err := st.BulkRegister(b.Context(), ms, toks); err != nil {
		b.Fatal(err)
	}
	client, _ := machineapi.New(ts.URL, machineapi.Options{})
	hashes := make([]string, n)
	for i := range ms {
		var items []machineapi.SoftwareItem
		for j := range 300 {
			items = append(items, machineapi.SoftwareItem{Name: fmt.Sprintf("pkg-%03d", j), Version: "1.0", Source: "deb_packages"})
		}
		up := machineapi.SoftwareUpload{Hash: machineapi.SoftwareHash(items), Software: items}
		if _, err := client.UploadSoftware(b.Context(), values[i], up); err != nil {
			b.Fatal(err)
		}
		hashes[i] = up.Hash
	}
	metrics := map[string]any{"cpu": 12.5, "memory": 40, "disk": 70, "uptime": 12345}
	for _, mode := range []string{"without-hash", "with-hash"} {
		b.Run(mode, func(b *testing.B) {
			var next atomic.Int64
			b.SetParallelism(16)
			b.RunParallel(func(pb *testing.PB) {
				hc := &http.Client{}
				for pb.Next() {
					i := int(next.Add(1)) % n
					req := machineapi.HeartbeatRequest{Status: "ok", AgentVersion: "1.4.0", Metrics: metrics}
					if mode == "with-hash" {
						req.SoftwareHash = hashes[i]
					}
					body, _ := json.Marshal(req)
					r, _ := http.NewRequest(http.MethodPost, ts.URL+machineapi.PathHeartbeat, bytes.NewReader(body))
					r.Header.Set("Authorization", "Bearer "+values[i])
					r.Header.Set("Content-Type", "application/json")
					res, err := hc.Do(r)
					if err != nil {
						b.Error(err)
						return
					}
					var out machineapi.HeartbeatResponse
					err = json.NewDecoder(res.Body).Decode(&out)
					res.Body.Close()
					if err != nil || res.StatusCode != http.StatusOK || out.SoftwareNeeded {
						b.Errorf("heartbeat: %d %v needed=%v", res.StatusCode, err, out.SoftwareNeeded)
						return
					}
				}
			})
		})
	}
}
