package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/slipwayhq/slipway/server"
	"github.com/slipwayhq/slipway/server/store"
	"github.com/slipwayhq/slipway/server/store/sqlite"
)

type auditItem struct {
	TenantID string `json:"tenantId"`
	Actor    struct{ ID, Name string }
	Action   string
	Target   string
	Detail   string
	Result   string
}

// auditPage lists the audit log with the query and returns its items and
// next cursor.
func (e *env) auditPage(admin, query string) ([]auditItem, string) {
	e.t.Helper()
	var page struct {
		Items      []auditItem
		NextCursor string
	}
	r := expect(e.t, e.do("GET", "/api/admin/audit"+query, admin, nil), http.StatusOK)
	if err := json.Unmarshal(r.Body, &page); err != nil {
		e.t.Fatal(err)
	}
	return page.Items, page.NextCursor
}

func summary(items []auditItem) string {
	var out []string
	for _, it := range items {
		out = append(out, it.Action+" "+it.TenantID+" "+it.Result)
	}
	return strings.Join(out, "; ")
}

// TestAdminAuditLog: state-changing admin API calls are listed newest
// first with the acting token, tenant-scoped, in cursor pages.
func TestAdminAuditLog(t *testing.T) {
	e := newEnv(t)
	if items, next := e.auditPage(e.admin, ""); len(items) != 0 || next != "" {
		t.Fatalf("fresh log: %v %q", items, next)
	}
	m := e.register(e.secret, "audited-1", "AU1")
	expect(t, e.do("POST", "/api/admin/machines/"+m.ID+"/token/revoke", e.admin, nil), http.StatusOK)
	items, _ := e.auditPage(e.admin, "")
	if len(items) != 1 {
		t.Fatalf("after revoke: %+v", items)
	}
	if it := items[0]; it.Action != "revoke-token" || it.Target != m.ID || it.TenantID != "default" || it.Result != "ok" ||
		it.Actor.Name != "bootstrap" || it.Actor.ID == "" || it.Detail != `{"tokens":1}` {
		t.Fatalf("revoke entry: %+v", it)
	}
	created := expect(t, e.do("POST", "/api/admin/tenants", e.admin, map[string]any{"id": "acme", "name": "ACME"}), http.StatusCreated).JSON(t)
	expect(t, e.do("POST", "/api/admin/tenants", e.admin, map[string]any{"id": "acme", "name": "again"}), http.StatusConflict)
	sec := expect(t, e.do("POST", "/api/admin/tenants/acme/secrets", e.admin, map[string]any{"kind": "fleet"}), http.StatusCreated).JSON(t)
	expect(t, e.do("DELETE", "/api/admin/tenants/acme/secrets/"+sec["id"].(string), e.admin, nil), http.StatusNoContent)
	expect(t, e.do("DELETE", "/api/admin/machines/"+m.ID, e.admin, nil), http.StatusNoContent)
	items, _ = e.auditPage(e.admin, "")
	want := "delete-machine default ok; revoke-secret acme ok; create-secret acme ok; " +
		"create-tenant acme conflict: tenant already exists; create-tenant acme ok; revoke-token default ok"
	if got := summary(items); got != want {
		t.Fatalf("log:\n got %s\nwant %s", got, want)
	}
	body := string(e.do("GET", "/api/admin/audit", e.admin, nil).Body)
	for _, secret := range []string{e.admin, sec["secret"].(string), created["provisioningSecret"].(map[string]any)["secret"].(string)} {
		if strings.Contains(body, secret) {
			t.Fatal("a secret value is in the audit log")
		}
	}
	// Pages of 4 walk every entry once.
	var walked []auditItem
	cursor := ""
	for page := 0; ; page++ {
		items, next := e.auditPage(e.admin, "?limit=4&cursor="+url.QueryEscape(cursor))
		walked = append(walked, items...)
		if next == "" {
			break
		}
		if page > 3 {
			t.Fatal("pagination does not end")
		}
		cursor = next
	}
	if got := summary(walked); got != want {
		t.Fatalf("paged log:\n got %s\nwant %s", got, want)
	}
	// Tenant filter and scope.
	if got, _ := e.auditPage(e.admin, "?tenant=default"); summary(got) != "delete-machine default ok; revoke-token default ok" {
		t.Fatalf("tenant filter: %s", summary(got))
	}
	// Action and failure filters.
	if got, _ := e.auditPage(e.admin, "?action=create-tenant"); summary(got) != "create-tenant acme conflict: tenant already exists; create-tenant acme ok" {
		t.Fatalf("action filter: %s", summary(got))
	}
	if got, _ := e.auditPage(e.admin, "?failed=true"); summary(got) != "create-tenant acme conflict: tenant already exists" {
		t.Fatalf("failed filter: %s", summary(got))
	}
	scoped := e.scopedAdmin("acme")
	if got, _ := e.auditPage(scoped, ""); len(got) != 4 || got[0].TenantID != "acme" || got[3].TenantID != "acme" {
		t.Fatalf("scoped list: %s", summary(got))
	}
	expect(t, e.do("GET", "/api/admin/audit?tenant=default", scoped, nil), http.StatusForbidden)
}

func TestAdminAuditAuthAndBadQueries(t *testing.T) {
	e := newEnv(t)
	m := e.register(e.secret, "audited-2", "AU2")
	for name, bearer := range map[string]string{"missing": "", "wrong": e.admin + "x", "garbage": "nonsense",
		"machine token": m.Token} {
		if r := expect(t, e.do("GET", "/api/admin/audit", bearer, nil), http.StatusUnauthorized); len(r.Body) == 0 {
			t.Errorf("%s token: empty body", name)
		}
	}
	tests := []struct{ query, field string }{
		{"?limit=0", "limit"}, {"?limit=501", "limit"}, {"?limit=x", "limit"}, {"?limit=-1", "limit"},
		{"?action=Pause", "action"}, {"?action=" + strings.Repeat("a", 33), "action"}, {"?failed=yes", "failed"},
		{"?cursor=!!!", "cursor"}, {"?cursor=MA", "cursor"}, {"?cursor=" + strings.Repeat("MTIz", 20), "cursor"},
		{"?tenant=" + strings.Repeat("t", 65), "tenant"}, {"?tenant=a%00b", "tenant"},
	}
	for _, tc := range tests {
		r := expect(t, e.do("GET", "/api/admin/audit"+tc.query, e.admin, nil), http.StatusBadRequest).JSON(t)
		if r["field"] != tc.field || r["error"] != "invalid_request" {
			t.Errorf("%.40s: %v, want field %s", tc.query, r, tc.field)
		}
	}
	expect(t, e.do("POST", "/api/admin/audit", e.admin, nil), http.StatusMethodNotAllowed)
}

// syncLog is a goroutine-safe log sink.
type syncLog struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *syncLog) Write(p []byte) (int, error) { l.mu.Lock(); defer l.mu.Unlock(); return l.b.Write(p) }
func (l *syncLog) String() string              { l.mu.Lock(); defer l.mu.Unlock(); return l.b.String() }

// failingAudit is the real store whose audit writes fail.
type failingAudit struct{ store.Store }

func (failingAudit) AppendAudit(context.Context, store.AuditEntry) error {
	return errors.New("disk full")
}

// TestAuditWriteFailureIsLoggedNotFatal: the action has happened, so the
// admin gets its result; the lost record is logged at error level.
func TestAuditWriteFailureIsLoggedNotFatal(t *testing.T) {
	dir := t.TempDir()
	st, err := sqlite.Open(t.Context(), filepath.Join(dir, "slipway.db"), sqlite.Options{Synchronous: "OFF"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := server.EnsureBootstrap(t.Context(), st, dir, server.Bootstrap{}, time.Now()); err != nil {
		t.Fatal(err)
	}
	var logs syncLog
	srv, err := server.New(server.Config{DataDir: dir, PublicURL: "http://slipway.test", RateLimit: 1000, RateBurst: 1000},
		server.Options{Store: failingAudit{st}, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv)
	t.Cleanup(func() { ts.Close(); srv.Close(); st.Close() })
	e := &env{t: t, srv: srv, ts: ts, st: st, clock: &clock{t: time.Now()}, admin: readFile(t, filepath.Join(dir, server.AdminTokenFile)),
		client: http.DefaultClient}
	expect(t, e.do("POST", "/api/admin/tenants", e.admin, map[string]any{"id": "acme", "name": "ACME"}), http.StatusCreated)
	if _, err := st.GetTenant(t.Context(), "acme"); err != nil {
		t.Fatalf("tenant not created: %v", err)
	}
	for _, want := range []string{"level=ERROR", `msg="audit log write failed"`, "disk full", "action=create-tenant", "target=acme"} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("log lacks %s:\n%s", want, logs.String())
		}
	}
	if strings.Contains(logs.String(), e.admin) {
		t.Fatal("the admin token reached the log")
	}
}

// TestRetentionPrunesAuditAndHistory: the hourly pass deletes audit entries,
// heartbeat history and admin session revocations past their retention,
// and keeps the rest.
func TestRetentionPrunesAuditAndHistory(t *testing.T) {
	e := newEnv(t, func(c *server.Config) { c.AuditRetention, c.HeartbeatRetention = 30*24*time.Hour, 24*time.Hour })
	ctx := t.Context()
	now := e.clock.Now()
	for i, age := range []time.Duration{40 * 24 * time.Hour, 10 * 24 * time.Hour, time.Hour} {
		if err := e.st.AppendAudit(ctx, store.AuditEntry{At: now.Add(-age), ActorID: "a", ActorName: "ops",
			Action: "pause", Target: fmt.Sprintf("agent/%d", i), Result: store.AuditOK}); err != nil {
			t.Fatal(err)
		}
	}
	m := e.register(e.secret, "retention", "SN-RET")
	if err := e.st.RecordHeartbeats(ctx, []store.Heartbeat{
		{MachineID: m.ID, At: now.Add(-48 * time.Hour), Status: "ok"},
		{MachineID: m.ID, At: now.Add(-time.Hour), Status: "ok"},
	}); err != nil {
		t.Fatal(err)
	}
	if err := e.st.RevokeAdminSession(ctx, []byte("ended"), now.Add(-time.Minute)); err != nil {
		t.Fatal(err)
	}
	if err := e.st.RevokeAdminSession(ctx, []byte("live"), now.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	e.srv.PruneOld(ctx)
	if ended, _ := e.st.AdminSessionRevoked(ctx, []byte("ended")); ended {
		t.Error("the revocation of an expired admin session was kept")
	}
	if live, _ := e.st.AdminSessionRevoked(ctx, []byte("live")); !live {
		t.Error("the revocation of a still valid admin session was pruned")
	}
	left, err := e.st.ListAudit(ctx, store.AuditQuery{})
	if err != nil {
		t.Fatal(err)
	}
	if len(left) != 2 || left[0].Target != "agent/2" || left[1].Target != "agent/1" {
		t.Fatalf("audit after pruning: %+v", left)
	}
	hbs, err := e.st.ListHeartbeats(ctx, m.ID, 10)
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range hbs {
		if now.Sub(h.At) > 24*time.Hour {
			t.Fatalf("heartbeat from %v survived a 24h retention", h.At)
		}
	}
	if len(hbs) == 0 {
		t.Fatal("recent heartbeats were pruned too")
	}
}
