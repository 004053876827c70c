package main

import (
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/slipwayhq/slipway/server"
	"github.com/slipwayhq/slipway/server/store/sqlite"
)

// TestAdminTokenCLI drives `slipway admin token create|list|revoke`
// against a real server.
func TestAdminTokenCLI(t *testing.T) {
	dir := t.TempDir()
	st, err := sqlite.Open(t.Context(), filepath.Join(dir, "slipway.db"), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if _, err := server.EnsureBootstrap(t.Context(), st, dir, server.Bootstrap{}, time.Now()); err != nil {
		t.Fatal(err)
	}
	srv, err := server.New(server.Config{DataDir: dir}, server.Options{Store: st})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	ts := httptest.NewServer(srv)
	defer ts.Close()
	admin, err := os.ReadFile(filepath.Join(dir, server.AdminTokenFile))
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv(envAdminToken, strings.TrimSpace(string(admin)))

	out, err := runSlipway(t, "admin", "token", "create", "--server", ts.URL, "--name", "dashboards", "--role", "viewer", "--ttl", "24h")
	if err != nil {
		t.Fatalf("create: %v\n%s", err, out)
	}
	m := regexp.MustCompile(`id: (\S+)[\s\S]*token: (swa_\S+)`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("create printed:\n%s", out)
	}
	id, secret := m[1], m[2]
	out, err = runSlipway(t, "admin", "token", "list", "--server", ts.URL)
	if err != nil || !strings.Contains(out, id) || !strings.Contains(out, "viewer") || strings.Contains(out, secret) {
		t.Fatalf("list: %v\n%s", err, out)
	}
	// The new token works, and may not create tokens (viewer).
	t.Setenv(envAdminToken, secret)
	if out, err := runSlipway(t, "admin", "token", "create", "--server", ts.URL, "--name", "x"); err == nil || !strings.Contains(err.Error(), "forbidden_role") {
		t.Fatalf("viewer create: %v\n%s", err, out)
	}
	t.Setenv(envAdminToken, strings.TrimSpace(string(admin)))
	if out, err := runSlipway(t, "admin", "token", "revoke", "--server", ts.URL, id); err != nil || !strings.Contains(out, "revoked "+id) {
		t.Fatalf("revoke: %v\n%s", err, out)
	}
	out, _ = runSlipway(t, "admin", "token", "list", "--server", ts.URL)
	if !strings.Contains(out, "revoked") {
		t.Fatalf("list after revoke:\n%s", out)
	}
	t.Setenv(envAdminToken, secret)
	if _, err := runSlipway(t, "admin", "token", "list", "--server", ts.URL); err == nil || !strings.Contains(err.Error(), "401") {
		t.Fatalf("revoked token still works: %v", err)
	}
	t.Setenv(envAdminToken, "")
	if _, err := runSlipway(t, "admin", "token", "list", "--server", ts.URL); err == nil {
		t.Fatal("no token: no error")
	}

	// Session signing keys: list, rotate (the old key stays, verifying).
	t.Setenv(envAdminToken, strings.TrimSpace(string(admin)))
	out, err = runSlipway(t, "admin", "session-key", "list", "--server", ts.URL)
	if err != nil || strings.Count(out, "signing") != 1 || strings.Contains(out, "verifying") {
		t.Fatalf("session-key list: %v\n%s", err, out)
	}
	out, err = runSlipway(t, "admin", "session-key", "rotate", "--server", ts.URL)
	rm := regexp.MustCompile(`signing with ([0-9a-f]{16})`).FindStringSubmatch(out)
	if err != nil || rm == nil || !regexp.MustCompile(rm[1]+`\s+signing`).MatchString(out) || strings.Count(out, "verifying") != 1 {
		t.Fatalf("session-key rotate: %v\n%s", err, out)
	}
	t.Setenv(envAdminToken, secret)
	if _, err := runSlipway(t, "admin", "session-key", "rotate", "--server", ts.URL); err == nil {
		t.Fatal("a revoked token rotated the session key")
	}
}
