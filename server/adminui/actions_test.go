package adminui_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"html"
	"log/slog"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/slipwayhq/slipway/server/adminui"
)

// syncBuffer is a goroutine-safe log sink.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}
func (s *syncBuffer) String() string { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

func TestChannelActionsAudited(t *testing.T) {
	_, chans := updater(t)
	var logs syncBuffer
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
