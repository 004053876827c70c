package adminui_test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"html"
	"log/slog"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/slipwayhq/slipway/internal/testenv"
	"github.com/slipwayhq/slipway/server/adminui"
	"github.com/slipwayhq/slipway/server/store"
	"github.com/slipwayhq/slipway/server/token"
)

func TestChannelActionsAudited(t *testing.T) {
	_, chans := updater(t)
	var logs testenv.SyncBuffer
	e := newEnv(t, adminui.Options{Rollouts: chans, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	c := e.client()
	csrf := e.login(t, c)
	post := func(path string) (int, string) {
		res, err := c.PostForm(e.ts.URL+path, url.Values{"csrf": {csrf}})
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res.StatusCode, res.Header.Get("Location")
	}
	tests := []struct {
		path   string
		status int
		paused bool
	}{
		{"/admin/releases/agent/stable/pause", http.StatusSeeOther, true},
		{"/admin/releases/agent/stable/resume", http.StatusSeeOther, false},
		{"/admin/releases/agent/stable/explode", http.StatusBadRequest, false},
		{"/admin/releases/agent/nightly/pause", http.StatusConflict, false},
		{"/admin/releases/Agent%20X/stable/pause", http.StatusBadRequest, false},
		{"/admin/releases/agent/" + strings.Repeat("x", 100) + "/pause", http.StatusBadRequest, false},
	}
	for _, tc := range tests {
		code, _ := post(tc.path)
		if code != tc.status {
			t.Errorf("%s: %d, want %d", tc.path, code, tc.status)
		}
		list, err := chans.Channels(t.Context())
		if err != nil || len(list) != 1 || list[0].Paused != tc.paused {
			t.Fatalf("after %s: %+v %v", tc.path, list, err)
		}
	}
	for _, want := range []string{"audit=true action=pause", "audit=true action=resume", "product=agent channel=stable", "action=login"} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("audit log lacks %q:\n%s", want, logs.String())
		}
	}
	if strings.Contains(logs.String(), e.admin) || strings.Contains(logs.String(), csrf) {
		t.Fatal("a secret reached the log")
	}
	// The audit log keeps the same actions, failed ones included; requests
	// that name no action (unknown verb, bad names) are not recorded.
	entries, err := e.st.ListAudit(t.Context(), store.AuditQuery{})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, en := range entries {
		if en.ActorName != "bootstrap" || en.ActorID == "" || en.TenantID != "" {
			t.Errorf("entry %+v: want the bootstrap token, global", en)
		}
		got = append(got, en.Action+" "+en.Target+" "+strings.SplitN(en.Result, ":", 2)[0])
	}
	want := "pause agent/nightly unknown channel agent/nightly; resume agent/stable ok; pause agent/stable ok; login  ok"
	if strings.Join(got, "; ") != want {
		t.Fatalf("audit log:\n got %s\nwant %s", strings.Join(got, "; "), want)
	}
	res, body := get(t, c, e.ts.URL+"/admin/audit")
	if res.StatusCode != http.StatusOK || strings.Count(body, `data-action="pause"`) != 2 || !strings.Contains(body, "agent/nightly") ||
		!strings.Contains(body, `aria-current="page">Audit log`) {
		t.Fatalf("audit page: %d\n%s", res.StatusCode, body)
	}
}

// TestAuditPage: the page pages through the log, newest first, and a
// tenant-scoped admin sees only its tenant's entries.
func TestAuditPage(t *testing.T) {
	e := newEnv(t, adminui.Options{})
	at := time.Now().UTC()
	for i := range 55 {
		tenant := "default"
		if i%5 == 0 {
			tenant = ""
		}
		if err := e.st.AppendAudit(t.Context(), store.AuditEntry{At: at, TenantID: tenant, ActorID: "a1", ActorName: "ops",
			Action: "revoke-token", Target: fmt.Sprintf("machine-%02d", i), Result: store.AuditOK}); err != nil {
			t.Fatal(err)
		}
	}
	c := e.client()
	e.login(t, c) // entry 56: login
	targets := regexp.MustCompile(`<code>(machine-\d\d)</code>`)
	res, body := get(t, c, e.ts.URL+"/admin/audit")
	first := targets.FindAllStringSubmatch(body, -1)
	older := regexp.MustCompile(`id="older" href="/admin/audit\?cursor=([^"]+)"`).FindStringSubmatch(body)
	if res.StatusCode != http.StatusOK || len(first) != 49 || first[0][1] != "machine-54" || older == nil ||
		!strings.Contains(body, `data-action="login"`) {
		t.Fatalf("first page: %d, %d machine rows, older %v", res.StatusCode, len(first), older)
	}
	_, body = get(t, c, e.ts.URL+"/admin/audit?cursor="+older[1])
	second := targets.FindAllStringSubmatch(body, -1)
	if len(second) != 6 || second[0][1] != "machine-05" || second[5][1] != "machine-00" || strings.Contains(body, `id="older"`) {
		t.Fatalf("second page: %v", second)
	}
	for _, bad := range []string{"!!!", "MA", strings.Repeat("x", 200)} {
		if res, _ := get(t, c, e.ts.URL+"/admin/audit?cursor="+url.QueryEscape(bad)); res.StatusCode != http.StatusBadRequest {
			t.Errorf("cursor %.20q: %d, want 400", bad, res.StatusCode)
		}
	}
	// Filters: the older link keeps them; bad ones are refused.
	_, body = get(t, c, e.ts.URL+"/admin/audit?action=revoke-token&tenant=default")
	rows := targets.FindAllStringSubmatch(body, -1)
	olderF := regexp.MustCompile(`id="older" href="(/admin/audit\?[^"]+)"`).FindStringSubmatch(body)
	if len(rows) != 44 || strings.Contains(body, `data-action="login"`) || olderF != nil {
		t.Fatalf("tenant+action filter: %d rows, older %v", len(rows), olderF)
	}
	_, body = get(t, c, e.ts.URL+"/admin/audit?action=revoke-token")
	olderF = regexp.MustCompile(`id="older" href="(/admin/audit\?[^"]+)"`).FindStringSubmatch(body)
	if olderF == nil || !strings.Contains(olderF[1], "action=revoke-token") {
		t.Fatalf("older link drops the filter: %v", olderF)
	}
	_, body = get(t, c, e.ts.URL+strings.ReplaceAll(olderF[1], "&amp;", "&"))
	if rows := targets.FindAllStringSubmatch(body, -1); len(rows) != 5 || rows[4][1] != "machine-00" {
		t.Fatalf("filtered second page: %v", rows)
	}
	if _, body = get(t, c, e.ts.URL+"/admin/audit?failed=1"); targets.MatchString(body) || !strings.Contains(body, "match the filter") {
		t.Fatal("failed-only filter shows successful entries")
	}
	for _, bad := range []string{"action=Pause", "action=" + strings.Repeat("a", 40), "failed=maybe", "tenant=" + strings.Repeat("t", 70)} {
		if res, _ := get(t, c, e.ts.URL+"/admin/audit?"+bad); res.StatusCode != http.StatusBadRequest {
			t.Errorf("%.30s: %d, want 400", bad, res.StatusCode)
		}
	}
	value, hash := token.New(token.Admin)
	if err := e.st.CreateTenant(t.Context(), store.Tenant{ID: "other", Name: "Other"}); err != nil {
		t.Fatal(err)
	}
	if err := e.st.CreateAdminToken(t.Context(), store.AdminToken{ID: "scoped", Name: "other-ops", TenantID: "other", Hash: hash, CreatedAt: at}); err != nil {
		t.Fatal(err)
	}
	e.admin = value
	sc := e.client()
	e.login(t, sc)
	_, body = get(t, sc, e.ts.URL+"/admin/audit")
	if strings.Contains(body, "machine-") || strings.Count(body, `data-action="login"`) != 1 || !strings.Contains(body, "other-ops") {
		t.Fatalf("scoped admin's audit page shows other tenants' entries:\n%s", body)
	}
}

func TestGarbageQueries(t *testing.T) {
	e := newEnv(t, adminui.Options{})
	c := e.client()
	e.login(t, c)
	long := strings.Repeat("a", 200)
	for _, q := range []string{"?q=" + long, "?os=" + long, "?tenant=" + long, "?agentVersion=" + long,
		"?cursor=!!!", "?cursor=" + long, "?status=maybe"} {
		for _, path := range []string{"/admin/", "/admin/events"} {
			if res, _ := get(t, c, e.ts.URL+path+q); res.StatusCode != http.StatusBadRequest {
				t.Errorf("%s%.30s: %d, want 400", path, q, res.StatusCode)
			}
		}
	}
	if res, _ := get(t, c, e.ts.URL+"/admin/machines/"+long); res.StatusCode != http.StatusNotFound {
		t.Errorf("unknown machine: %d", res.StatusCode)
	}
	res, err := c.Post(e.ts.URL+"/admin/login", "application/x-www-form-urlencoded", strings.NewReader("token="+strings.Repeat("x", 10000)))
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusUnauthorized {
		t.Errorf("oversize login: %d", res.StatusCode)
	}
	if res, _ := get(t, c, e.ts.URL+"/admin/releases"); res.StatusCode != http.StatusOK {
		t.Errorf("releases without updater: %d", res.StatusCode)
	}
}

// A machine registered after the page opened is streamed as fresh even
// when it does not sort onto the page (IDs are UUIDv7, by creation time).
func TestEventsStreamFreshMachines(t *testing.T) {
	e := newEnv(t, adminui.Options{})
	c := e.client()
	e.login(t, c)
	_, page := get(t, c, e.ts.URL+"/admin/?cursor=enp6")
	m := regexp.MustCompile(`data-live="([^"]+)"`).FindStringSubmatch(page)
	if m == nil {
		t.Fatal("no live URL")
	}
	live := html.UnescapeString(m[1])
	register(t, e.ts.URL, "fresh-host", "SN-FRESH")
	req, _ := http.NewRequestWithContext(t.Context(), "GET", e.ts.URL+live, nil)
	res, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	sc := bufio.NewScanner(res.Body)
	for sc.Scan() {
		if data, ok := strings.CutPrefix(sc.Text(), "data: "); ok {
			var up struct{ Rows, Fresh []struct{ Hostname string } }
			if err := json.Unmarshal([]byte(data), &up); err != nil {
				t.Fatal(err)
			}
			if len(up.Rows) != 0 || len(up.Fresh) != 1 || up.Fresh[0].Hostname != "fresh-host" {
				t.Fatalf("update %s", data)
			}
			return
		}
	}
	t.Fatal("no event")
}
