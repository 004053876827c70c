package adminui_test

import (
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"testing"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/slipwayhq/slipway/internal/pgtest"
	"github.com/slipwayhq/slipway/server"
	"github.com/slipwayhq/slipway/server/adminui"
	"github.com/slipwayhq/slipway/server/store"
	"github.com/slipwayhq/slipway/server/store/postgres"
	"github.com/slipwayhq/slipway/server/store/sqlite"
	"github.com/slipwayhq/slipway/server/token"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// bulkStore is what both stores offer for seeding.
type bulkStore interface {
	store.Store
	BulkRegister(ctx context.Context, ms []store.Machine, toks []store.Token) error
}

// seedFleet writes n machines: a mix of OSes, agent versions, last-seen
// times (online, stale, offline) and self-update results.
func seedFleet(b *testing.B, st bulkStore, n int) {
	ctx := context.Background()
	now := time.Now().UTC()
	if _, err := server.EnsureBootstrap(ctx, st, b.TempDir(), server.Bootstrap{}, now); err != nil {
		b.Fatal(err)
	}
	versions := []string{"1.0.0", "1.1.0", "1.2.0"}
	results := []string{"healthy", "installed", "failed", "rolled-back"}
	for lo := 0; lo < n; lo += 10000 {
		var ms []store.Machine
		var toks []store.Token
		for i := lo; i < min(n, lo+10000); i++ {
			_, h := token.New(token.Machine)
			os := []string{"linux", "windows", "darwin"}[i%3]
			inv := fmt.Appendf(nil, `{"agent":{"version":%q,"update":{"installed":"1.2.0","result":%q,"at":%q}}}`,
				versions[i%3], results[i%4], now.Add(-time.Duration(i%120)*time.Minute).Format(time.RFC3339))
			ms = append(ms, store.Machine{ID: fmt.Sprintf("m-%07d", i), TenantID: server.DefaultTenant,
				Fingerprint: fmt.Sprintf("fp-%07d", i), Hostname: fmt.Sprintf("host-%07d", i),
				OS: store.OS{Name: os, Version: "1", Architecture: "amd64"}, SerialNumbers: []string{fmt.Sprintf("SN%07d", i)},
				Source: "agent", AgentVersion: versions[i%3], Status: "ok", Inventory: inv,
				LastSeenAt: now.Add(-time.Duration(i%2000) * time.Minute), CreatedAt: now, UpdatedAt: now})
			toks = append(toks, store.Token{Hash: h, CreatedAt: now, ExpiresAt: now.Add(time.Hour)})
		}
		if err := st.BulkRegister(ctx, ms, toks); err != nil {
			b.Fatal(err)
		}
	}
}

// benchPages measures full page renders (HTTP round trip included) with a
// logged-in session against a fleet of 100,000 machines.
func benchPages(b *testing.B, st bulkStore) {
	seedFleet(b, st, 100_000)
	value, hash := token.New(token.Admin)
	if err := st.CreateAdminToken(context.Background(), store.AdminToken{ID: "bench", Hash: hash, CreatedAt: time.Now()}); err != nil {
		b.Fatal(err)
	}
	dir := b.TempDir() // one data dir (and secret key) for the runs on st
	for _, mode := range []struct {
		name string
		ttl  time.Duration
	}{{"uncached", time.Nanosecond}, {"cached", 0}} {
		b.Run(mode.name, func(b *testing.B) { benchPaths(b, st, dir, value, adminui.Options{StatsTTL: mode.ttl}) })
	}
}

// benchPaths renders each page with a fresh admin page and server on st.
// "uncached" recomputes the fleet aggregates on every render; "cached"
// is the default (aggregates reused for StatsTTL).
func benchPaths(b *testing.B, st store.Store, dir, admin string, opts adminui.Options) {
	cfg := server.Config{DataDir: dir}
	var err error
	if opts.SigningKeys, err = server.SigningKeys(cfg, st, slog.New(slog.DiscardHandler)); err != nil {
		b.Fatal(err)
	}
	ui, err := adminui.New(st, opts)
	if err != nil {
		b.Fatal(err)
	}
	srv, err := server.New(cfg, server.Options{Store: st, Mount: []func(chi.Router){ui.Routes}, SigningKeys: opts.SigningKeys})
	if err != nil {
		b.Fatal(err)
	}
	defer srv.Close()
	ts := httptest.NewServer(srv)
	defer ts.Close()
	e := &env{ts: ts, admin: admin}
	c := e.client()
	e.login(b, c)
	for _, p := range []struct{ name, path string }{
		{"machines", "/admin/"},
		{"machines-filtered", "/admin/?status=online&os=linux&q=host-00"},
		{"machines-page-1000", "/admin/?cursor=" + b64("m-0050000")},
		{"machine", "/admin/machines/m-0000042"},
		{"releases", "/admin/releases"},
	} {
		b.Run(p.name, func(b *testing.B) {
			for b.Loop() {
				res, err := c.Get(ts.URL + p.path)
				if err != nil {
					b.Fatal(err)
				}
				n, _ := io.Copy(io.Discard, res.Body)
				res.Body.Close()
				if res.StatusCode != http.StatusOK || n < 500 {
					b.Fatalf("%s: %d (%d bytes)", p.path, res.StatusCode, n)
				}
			}
		})
	}
}

func b64(s string) string { return url.QueryEscape(base64.RawURLEncoding.EncodeToString([]byte(s))) }

func BenchmarkPages100k(b *testing.B) {
	b.Run("sqlite", func(b *testing.B) {
		st, err := sqlite.Open(b.Context(), filepath.Join(b.TempDir(), "slipway.db"), sqlite.Options{Synchronous: "OFF"})
		if err != nil {
			b.Fatal(err)
		}
		defer st.Close()
		benchPages(b, st)
	})
	b.Run("postgres", func(b *testing.B) {
		st, err := postgres.Open(b.Context(), pgtest.Start(b), postgres.Options{})
		if err != nil {
			b.Fatal(err)
		}
		defer st.Close()
		benchPages(b, st)
	})
}
