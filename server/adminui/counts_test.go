package adminui_test

import (
	"bufio"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/slipwayhq/slipway/server/adminui"
	"github.com/slipwayhq/slipway/server/store"
)

// TestMachineCountsMatchRows reproduces "1 machines, 1 online" above a
// table with two online rows: the counts came from the cached fleet stats
// while the rows were read fresh. The counts must match the rows shown.
func TestMachineCountsMatchRows(t *testing.T) {
	e := newEnv(t, adminui.Options{StatsTTL: time.Hour})
	ctx := t.Context()
	now := time.Now().UTC()
	add := func(i int, id string) {
		t.Helper()
		m := store.Machine{ID: id, TenantID: "default", Hostname: "host-" + id, Source: "agent", CreatedAt: now, UpdatedAt: now}
		if _, _, err := e.st.RegisterMachine(ctx, m, store.Token{Hash: []byte{byte(i)}, CreatedAt: now, ExpiresAt: now.Add(time.Hour)}); err != nil {
			t.Fatal(err)
		}
		if err := e.st.RecordHeartbeats(ctx, []store.Heartbeat{{MachineID: id, At: time.Now().UTC(), Status: "ok", AgentVersion: "1.0.0"}}); err != nil {
			t.Fatal(err)
		}
	}
	c := e.client()
	e.login(t, c)
	counts := regexp.MustCompile(`<span id="count-machines">(\d+) machines</span>\s*<span class="online" id="count-online">(\d+) online</span>`)
	check := func(want string) {
		t.Helper()
		_, body := get(t, c, e.ts.URL+"/admin/")
		m := counts.FindStringSubmatch(body)
		rows := strings.Count(body, `<span class="badge online">`)
		if m == nil {
			t.Fatalf("no counts in page:\n%s", body)
		}
		if got := m[1] + " machines, " + m[2] + " online"; got != want {
			t.Fatalf("counts %q, want %q (%d online rows)", got, want, rows)
		}
	}
	add(1, "m-1")
	check("1 machines, 1 online")
	add(2, "m-2")
	check("2 machines, 2 online")
	// The live update carries the same counts, total included.
	req, _ := http.NewRequestWithContext(ctx, "GET", e.ts.URL+"/admin/events", nil)
	res, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	sc := bufio.NewScanner(res.Body)
	for sc.Scan() {
		if line, ok := strings.CutPrefix(sc.Text(), "data: "); ok {
			if !strings.Contains(line, `"Machines":2,"Online":2`) {
				t.Fatalf("live counts: %s", line)
			}
			return
		}
	}
	t.Fatalf("no event: %v", sc.Err())
}
