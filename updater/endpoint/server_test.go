package endpoint

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"

	"github.com/go-chi/chi/v5"

	"github.com/slipwayhq/slipway/server"
)

// TestMountedInServer mounts the handler into the real server through
// server.Options.Mount, as `slipway server`/`slipway up` do, with the
// server's machine identity feeding the rollout decision.
func TestMountedInServer(t *testing.T) {
	e := newEnv(t, Options{})
	in, out := machines("agent", "1.1.0", 50)
	// The authenticated identity wins over the query parameter.
	e.h.opts.Identify = func(r *http.Request) (string, string, bool) {
		if c, ok := server.MachineFromContext(r.Context()); ok {
			return c.MachineID, c.TenantID, true
		}
		if r.Header.Get("X-Test-Machine") != "" {
			return r.Header.Get("X-Test-Machine"), "", true
		}
		return "", "", false
	}
	srv, err := server.New(server.Config{DataDir: filepath.Join(t.TempDir(), "data")}, server.Options{Mount: []func(chi.Router){e.h.Routes}})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	ts := httptest.NewServer(srv)
	defer ts.Close()
	u := ts.URL + "/v1/updates/agent/stable?os=linux&arch=amd64&current=1.0.0&machine=" + out
	if resp, _ := get(t, u); resp.StatusCode != http.StatusNoContent {
		t.Fatalf("machine outside the rollout: %d", resp.StatusCode)
	}
	resp, body := get(t, u, "X-Test-Machine", in)
	var up Update
	if resp.StatusCode != 200 || json.Unmarshal(body, &up) != nil || up.Version != "1.1.0" {
		t.Fatalf("identified machine inside the rollout: %d %s", resp.StatusCode, body)
	}
	if resp, _ := get(t, ts.URL+"/tuf/1.root.json"); resp.StatusCode != 200 {
		t.Fatalf("/tuf through the server: %d", resp.StatusCode)
	}
}
