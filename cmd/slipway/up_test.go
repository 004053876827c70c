package main

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/go-chi/chi/v5"

	"github.com/slipwayhq/slipway/storage"
	"github.com/slipwayhq/slipway/updater/repo"
	"github.com/slipwayhq/slipway/updater/updatertest"
)

// TestUpPromoteAndServe covers what `slipway up` does after the release
// step (which the release package tests with a real GoReleaser build):
// promote both products to stable in the data directory's channels file,
// apply it (signed TUF metadata), serve the update endpoints, and let the
// admin page's channels file pause a channel.
func TestUpPromoteAndServe(t *testing.T) {
	ctx := t.Context()
	data := t.TempDir()
	keysDir := filepath.Join(data, "keys")
	if _, err := repo.EnsureKeys(keysDir, 1); err != nil {
		t.Fatal(err)
	}
	st, err := storage.Open(ctx, filepath.Join(data, "artifacts"))
	if err != nil {
		t.Fatal(err)
	}
	pub := updatertest.New(t, st, "", 7)
	if err := os.WriteFile(filepath.Join(keysDir, "minisign.pub"), pub.PK.Encode(), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, p := range upProducts {
		pub.Publish(t, p, "1.2.3", updatertest.File{
			Name: "slipway-" + p + "_1.2.3_linux_amd64.tar.gz", OS: "linux", Arch: "amd64", Format: "tar.gz",
			Data: []byte("archive of " + p),
		})
	}

	var out bytes.Buffer
	if err := upPromote(ctx, st, data, keysDir, "1.2.3", &out); err != nil {
		t.Fatalf("promote: %v\n%s", err, out.String())
	}
	if !strings.Contains(out.String(), "agent/stable") || !strings.Contains(out.String(), "desktop/stable") {
		t.Fatalf("first apply should change both channels:\n%s", out.String())
	}
	out.Reset()
	if err := upPromote(ctx, st, data, keysDir, "1.2.3", &out); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "No changes") {
		t.Fatalf("second run should change nothing:\n%s", out.String())
	}

	u, err := newUpdates(ctx, data, updateOptions{keysDir: keysDir}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	r := chi.NewRouter()
	u.mount()(r)
	srv := httptest.NewServer(r)
	defer srv.Close()
	check := func() (int, string) {
		t.Helper()
		res, err := http.Get(srv.URL + "/v1/updates/agent/stable?os=linux&arch=amd64&current=1.0.0&machine=m-1")
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		var body struct {
			Version string `json:"version"`
		}
		if res.StatusCode == http.StatusOK {
			if err := json.NewDecoder(res.Body).Decode(&body); err != nil {
				t.Fatal(err)
			}
		}
		return res.StatusCode, body.Version
	}
	if code, v := check(); code != http.StatusOK || v != "1.2.3" {
		t.Fatalf("update check = %d %q, want 200 1.2.3", code, v)
	}
	for _, f := range []string{"root.json", "timestamp.json"} {
		res, err := http.Get(srv.URL + "/tuf/" + f)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != http.StatusOK {
			t.Fatalf("/tuf/%s = %d", f, res.StatusCode)
		}
	}

	// The admin page pauses through the same channels file; the endpoint
	// stops offering the version once it reloads.
	cf, err := upChannelsFile(st, data, keysDir)
	if err != nil {
		t.Fatal(err)
	}
	if err := cf.SetPaused(ctx, "agent", upChannel, true); err != nil {
		t.Fatal(err)
	}
	if err := u.h.Reload(ctx); err != nil {
		t.Fatal(err)
	}
	if code, _ := check(); code != http.StatusNoContent {
		t.Fatalf("paused channel answered %d, want 204", code)
	}
}

func TestIndent(t *testing.T) {
	for in, want := range map[string]string{
		"":       "",
		"a\n":    "    a\n",
		"a\nb\n": "    a\n    b\n",
		"a\nb":   "    a\n    b\n",
	} {
		if got := indent(in); got != want {
			t.Errorf("indent(%q) = %q, want %q", in, got, want)
		}
	}
}
