package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/slipwayhq/slipway/updater/client"
)

func TestVersionLine(t *testing.T) {
	var out, errb bytes.Buffer
	if code := run(context.Background(), []string{"version"}, &out, &errb); code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	if got, want := out.String(), "slipway-desktop "+version+" ("+commit+")\n"; got != want {
		t.Fatalf("got %q want %q", got, want)
	}
}

func TestBadFlag(t *testing.T) {
	var out, errb bytes.Buffer
	if code := run(context.Background(), []string{"--no-such-flag"}, &out, &errb); code != 2 {
		t.Fatalf("exit %d", code)
	}
}

// TestServeUntilCancelled starts the UI without a browser and stops it.
func TestServeUntilCancelled(t *testing.T) {
	t.Setenv("SLIPWAY_CONFIG_DIR", t.TempDir())
	t.Setenv("HOME", t.TempDir())
	t.Setenv("XDG_CONFIG_HOME", t.TempDir())
	ctx, cancel := context.WithCancel(t.Context())
	var out, errb bytes.Buffer
	done := make(chan int, 1)
	go func() { done <- run(ctx, []string{"--no-browser"}, &out, &errb) }()
	cancel()
	if code := <-done; code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
}

// TestTrialRun: started as a trial run (client.TrialEnv set to its own
// version), the desktop client starts its UI, answers one request, prints
// the healthy line and exits 0, without printing its secret URL or writing
// update state; a trial run of another version fails.
func TestTrialRun(t *testing.T) {
	home := t.TempDir()
	t.Setenv("SLIPWAY_CONFIG_DIR", t.TempDir())
	t.Setenv("HOME", home)
	t.Setenv("XDG_CONFIG_HOME", filepath.Join(home, ".config"))
	t.Setenv(client.TrialEnv, version)
	// The installation's pending update (its own start-up would count a
	// start in it): a trial run must leave it as it is.
	state := filepath.Join(home, ".config", "slipway", "desktop", "update-state")
	if err := os.MkdirAll(state, 0o700); err != nil {
		t.Fatal(err)
	}
	pending := []byte(`{"from":"0.9.0","to":"` + version + `","binary":"/nonexistent","deadline":"2099-01-01T00:00:00Z","starts":0}`)
	if err := os.WriteFile(filepath.Join(state, "pending-update.json"), pending, 0o600); err != nil {
		t.Fatal(err)
	}
	var out, errb bytes.Buffer
	if code := run(t.Context(), []string{"--no-browser"}, &out, &errb); code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	if got := out.String(); got != "slipway-update-trial: healthy "+version+"\n" {
		t.Fatalf("stdout %q, want only the healthy line", got)
	}
	if b, err := os.ReadFile(filepath.Join(state, "pending-update.json")); err != nil || !bytes.Equal(b, pending) {
		t.Fatalf("a trial run changed the update state: %s %v", b, err)
	}

	t.Setenv(client.TrialEnv, "9.9.9")
	out.Reset()
	if code := run(t.Context(), []string{"--no-browser"}, &out, &errb); code == 0 || strings.Contains(out.String(), "healthy") {
		t.Fatalf("trial of another version: exit %d, stdout %q", code, out.String())
	}
}
