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
	"github.com/slipwayhq/slipway/updater/channel"
	"github.com/slipwayhq/slipway/updater/publish"
	"github.com/slipwayhq/slipway/updater/repo"
	"github.com/slipwayhq/slipway/updater/updatertest"
)

// upData makes what `up` keeps in data before its release step: TUF keys,
// the local store, and a publisher whose minisign key is the release key.
func upData(t *testing.T, data string) (storage.Store, *updatertest.Publisher, string) {
	t.Helper()
	keysDir := filepath.Join(data, "keys")
	if _, err := repo.EnsureKeys(keysDir, 1); err != nil {
		t.Fatal(err)
	}
	st, err := storage.Open(t.Context(), filepath.Join(data, "artifacts"))
	if err != nil {
		t.Fatal(err)
	}
	pub := updatertest.New(t, st, "", 7)
	if err := os.WriteFile(filepath.Join(keysDir, "minisign.pub"), pub.PK.Encode(), 0o600); err != nil {
		t.Fatal(err)
	}
	return st, pub, keysDir
}

// promoteInFile promotes product to version in the data directory's
// channels file, as `slipway promote` does.
func promoteInFile(t *testing.T, st storage.Store, data, keysDir, product, version string) {
	t.Helper()
	cf, err := upChannelsFile(st, data, keysDir)
	if err != nil {
		t.Fatal(err)
	}
	f, err := channel.Load(cf.Path)
	if err != nil {
		t.Fatal(err)
	}
	if err := publish.Promote(t.Context(), cf.Publish, f, product, upChannel, version, 100); err != nil {
		t.Fatal(err)
	}
	if err := f.Save(cf.Path); err != nil {
		t.Fatal(err)
	}
}

// TestUpPromoteAndServe covers what `slipway up` does after the release
// step (which the release package tests with a real GoReleaser build):
// promote both products to stable in the data directory's channels file,
// apply it (signed TUF metadata), serve the update endpoints, and let the
// admin page's channels file pause a channel.
func TestUpPromoteAndServe(t *testing.T) {
	ctx := t.Context()
	data := t.TempDir()
	st, pub, keysDir := upData(t, data)
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

// TestUpRerunKeepsUserPromotion reproduces issue 13: after the user
// promoted a version, rerunning `slipway up` moved the channel back to the
// fresh snapshot. A rerun moves only what `up` itself put there, and says
// what it kept.
func TestUpRerunKeepsUserPromotion(t *testing.T) {
	ctx := t.Context()
	data := t.TempDir()
	st, pub, keysDir := upData(t, data)
	versions := []string{"0.0.1-snapshot-aaa", "0.0.3", "0.0.4-snapshot-bbb", "0.0.5-snapshot-ccc"}
	for _, p := range upProducts {
		for _, v := range versions {
			pub.Publish(t, p, v, updatertest.File{Name: "slipway-" + p + "_" + v + "_linux_amd64.tar.gz",
				OS: "linux", Arch: "amd64", Format: "tar.gz", Data: []byte(p + v)})
		}
	}
	stable := func(p string) string {
		t.Helper()
		cf, err := upChannelsFile(st, data, keysDir)
		if err != nil {
			t.Fatal(err)
		}
		f, err := channel.Load(cf.Path)
		if err != nil {
			t.Fatal(err)
		}
		c, err := f.Channel(p, upChannel)
		if err != nil {
			t.Fatal(err)
		}
		return c.Version
	}
	var out bytes.Buffer
	if err := upPromote(ctx, st, data, keysDir, versions[0], &out); err != nil {
		t.Fatal(err)
	}
	// The user promotes 0.0.3 of the agent (what `slipway promote` does).
	promoteInFile(t, st, data, keysDir, "agent", "0.0.3")
	// `up` again with a new snapshot: the agent stays, the desktop moves.
	out.Reset()
	if err := upPromote(ctx, st, data, keysDir, versions[2], &out); err != nil {
		t.Fatal(err)
	}
	if got := stable("agent"); got != "0.0.3" {
		t.Fatalf("agent/stable = %s after rerun, want the user's 0.0.3\n%s", got, out.String())
	}
	if got := stable("desktop"); got != versions[2] {
		t.Fatalf("desktop/stable = %s, want the new snapshot %s", got, versions[2])
	}
	if !strings.Contains(out.String(), "keeping agent/stable at 0.0.3") ||
		!strings.Contains(out.String(), "slipway promote agent "+versions[2]+" --to stable") {
		t.Fatalf("rerun does not say what it kept:\n%s", out.String())
	}
	// A further rerun still keeps the user's choice and moves up's own.
	out.Reset()
	if err := upPromote(ctx, st, data, keysDir, versions[3], &out); err != nil {
		t.Fatal(err)
	}
	if got := stable("agent"); got != "0.0.3" {
		t.Fatalf("agent/stable = %s, want 0.0.3 kept", got)
	}
	if got := stable("desktop"); got != versions[3] {
		t.Fatalf("desktop/stable = %s, want %s", got, versions[3])
	}
}
