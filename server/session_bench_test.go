package server_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"github.com/slipwayhq/slipway/internal/pgtest"
	"github.com/slipwayhq/slipway/server"
	"github.com/slipwayhq/slipway/server/store"
	"github.com/slipwayhq/slipway/server/store/postgres"
	"github.com/slipwayhq/slipway/server/store/sqlite"
)

// BenchmarkSessionRequest measures GET /api/machines/me with a session
// JWT through the real router, on each store: the cost of the per-request
// session revocation check (issue 14) is the difference to the same
// benchmark on the commit before it (docs/benchmarks.md).
func BenchmarkSessionRequest(b *testing.B) {
	stores := map[string]func(b *testing.B, dir string) store.Store{
		"sqlite": func(b *testing.B, dir string) store.Store {
			st, err := sqlite.Open(b.Context(), filepath.Join(dir, "slipway.db"), sqlite.Options{Synchronous: "NORMAL"})
			if err != nil {
				b.Fatal(err)
			}
			return st
		},
		"postgres": func(b *testing.B, _ string) store.Store {
			st, err := postgres.Open(b.Context(), pgtest.Start(b), postgres.Options{})
			if err != nil {
				b.Fatal(err)
			}
			return st
		},
	}
	for _, name := range []string{"sqlite", "postgres"} {
		b.Run(name, func(b *testing.B) {
			dir := b.TempDir()
			st := stores[name](b, dir)
			defer st.Close()
			now := func() time.Time { return time.Date(2026, 5, 4, 10, 0, 0, 0, time.UTC) }
			if _, err := server.EnsureBootstrap(b.Context(), st, dir, server.Bootstrap{}, now()); err != nil {
				b.Fatal(err)
			}
			srv, err := server.New(server.Config{DataDir: dir, PublicURL: "http://slipway.test"}, server.Options{Store: st, Now: now})
			if err != nil {
				b.Fatal(err)
			}
			defer srv.Close()
			call := func(method, path, bearer string, body any) map[string]any {
				var rd *bytes.Reader
				j, _ := json.Marshal(body)
				rd = bytes.NewReader(j)
				req := httptest.NewRequest(method, path, rd)
				req.Header.Set("Content-Type", "application/json")
				if bearer != "" {
					req.Header.Set("Authorization", "Bearer "+bearer)
				}
				rec := httptest.NewRecorder()
				srv.ServeHTTP(rec, req)
				var m map[string]any
				_ = json.Unmarshal(rec.Body.Bytes(), &m)
				if rec.Code >= 300 {
					b.Fatalf("%s %s: %d %s", method, path, rec.Code, rec.Body)
				}
				return m
			}
			secret := readFile(b, filepath.Join(dir, server.ProvisioningSecretFile))
			m := call("POST", "/api/machines/register", "", registerBody(secret, "bench", "B1"))
			jwt := call("POST", "/api/machines/sessions", m["machineToken"].(string), map[string]any{})["token"].(string)
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					req := httptest.NewRequest("GET", "/api/machines/me", nil)
					req.Header.Set("Authorization", "Bearer "+jwt)
					rec := httptest.NewRecorder()
					srv.ServeHTTP(rec, req)
					if rec.Code != http.StatusOK {
						b.Errorf("me: %d %s", rec.Code, rec.Body)
						return
					}
				}
			})
		})
	}
}
