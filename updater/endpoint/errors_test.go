package endpoint

import (
	"encoding/json"
	"strings"
	"testing"
)

// TestErrorShape is the sweep's finding: update-endpoint errors were
// {"error":"<text>"}, not the {error, message} shape of the rest of the
// API. Every error route answers with a stable code and a message.
func TestErrorShape(t *testing.T) {
	e := newEnv(t, Options{BaseURL: "https://updates.example.com"})
	for path, want := range map[string]struct {
		status int
		code   string
	}{
		"/v1/updates/agent/stable?arch=amd64":         {400, "invalid_request"},
		"/v1/updates/nope/stable?os=linux&arch=amd64": {404, "not_found"},
		"/v1/download/agent/9.9.9/x.tar.gz":           {404, "not_found"},
		"/tuf/nope.json":                              {404, "not_found"},
		"/tuf/targets/nope":                           {404, "not_found"},
		"/tauri/myapp/stable/linux/x86_64/latest":     {400, "invalid_request"},
		"/tauri/myapp/stable/plan9/x86_64/1.0.0":      {404, "not_found"},
		"/tauri/nope/stable/latest.json":              {404, "not_found"},
	} {
		res, body := get(t, e.srv.URL+path)
		if res.StatusCode != want.status {
			t.Errorf("%s: %d, want %d (%s)", path, res.StatusCode, want.status, body)
			continue
		}
		var got map[string]any
		if err := json.Unmarshal(body, &got); err != nil {
			t.Errorf("%s: not JSON: %s", path, body)
			continue
		}
		msg, _ := got["message"].(string)
		if got["error"] != want.code || msg == "" || len(got) != 2 {
			t.Errorf("%s: body %s, want {error: %q, message}", path, body, want.code)
		}
		if !strings.HasPrefix(res.Header.Get("Content-Type"), "application/json") {
			t.Errorf("%s: content type %q", path, res.Header.Get("Content-Type"))
		}
	}
}
