package client

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/slipwayhq/slipway/signing/minisign"
	"github.com/slipwayhq/slipway/updater/updatertest"
)

// machine returns a copy of w's client config for another machine at
// 1.0.0 with its own binary and state (the built-in key: w.pub's).
func (w *world) machine(t *testing.T) Config {
	t.Helper()
	dir := t.TempDir()
	cfg := w.cfg
	cfg.StateDir, cfg.BinaryPath = filepath.Join(dir, "state"), filepath.Join(dir, "bin", "slipway-agent")
	os.MkdirAll(filepath.Dir(cfg.BinaryPath), 0o755)
	if err := os.WriteFile(cfg.BinaryPath, script("1.0.0"), 0o755); err != nil {
		t.Fatal(err)
	}
	return cfg
}

func update(t *testing.T, cfg Config) (*Result, error) {
	t.Helper()
	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c.Update(t.Context())
}

// TestReleaseKeyRotation: the minisign release key changes with an
// overlap. The new key is announced in the signed TUF targets together
// with an endorsement by the old key; during the overlap machines accept
// artifacts signed by either key, after it only by the new one, and a
// machine that slept through the overlap still follows. A key announced
// without an endorsement by a trusted key is refused.
func TestReleaseKeyRotation(t *testing.T) {
	w := newWorld(t)
	oldKey, next := w.pub, updatertest.New(t, w.st, "", 4)
	next.Publish(t, "agent", "1.3.0", agentRelease(t, "1.3.0", script("1.3.0"))...)

	// 1. Announced in signed metadata but not endorsed: refused.
	w.file.Keys = map[string][]string{"agent": {oldKey.PK.String(), next.PK.String()}}
	w.promote(t, "agent", "1.3.0")
	if _, err := w.client(t).Update(t.Context()); !errors.Is(err, ErrBadSignature) {
		t.Fatalf("unendorsed key: %v, want ErrBadSignature", err)
	}
	w.intact(t)
	// Endorsed by itself: still refused.
	self, _ := minisign.Endorse(next.SK, "agent", next.PK, start)
	w.file.Endorsements = map[string][]string{"agent": {self}}
	w.apply(t)
	if _, err := w.client(t).Update(t.Context()); !errors.Is(err, ErrBadSignature) {
		t.Fatalf("self-endorsed key: %v, want ErrBadSignature", err)
	}
	w.intact(t)

	// 2. Endorsed by the old key: the overlap. The new key's release installs.
	w.file.Endorsements = nil
	if err := w.file.Endorse("agent", oldKey.SK, oldKey.PK, next.PK, w.metaAt); err != nil {
		t.Fatal(err)
	}
	w.apply(t)
	if res, err := w.client(t).Update(t.Context()); err != nil || res.To != "1.3.0" {
		t.Fatalf("new key during the overlap: %+v %v", res, err)
	}
	// ... and a release signed with the old key still does, on a machine
	// that learned both keys and on one that knows only the old key.
	oldKey.Publish(t, "agent", "1.4.0", agentRelease(t, "1.4.0", script("1.4.0"))...)
	w.promote(t, "agent", "1.4.0")
	w.cfg.CurrentVersion = "1.3.0"
	if res, err := w.client(t).Update(t.Context()); err != nil || res.To != "1.4.0" {
		t.Fatalf("old key during the overlap (learned both): %+v %v", res, err)
	}
	if res, err := update(t, w.machine(t)); err != nil || res.To != "1.4.0" {
		t.Fatalf("old key during the overlap (built-in key only): %+v %v", res, err)
	}

	// 3. The old key retired: its signatures no longer verify anywhere.
	if err := w.file.Retire("agent", oldKey.PK.ID); err != nil {
		t.Fatal(err)
	}
	w.apply(t)
	sleeper := w.machine(t) // never saw the overlap
	if _, err := update(t, sleeper); !errors.Is(err, ErrBadSignature) {
		t.Fatalf("old key after the overlap: %v, want ErrBadSignature", err)
	}
	next.Publish(t, "agent", "1.5.0", agentRelease(t, "1.5.0", script("1.5.0"))...)
	w.promote(t, "agent", "1.5.0")
	if res, err := update(t, sleeper); err != nil || res.To != "1.5.0" {
		t.Fatalf("new key after the overlap, machine that slept through it: %+v %v", res, err)
	}
	learned, err := New(sleeper)
	if err != nil {
		t.Fatal(err)
	}
	if got := learned.trustedKeys(); len(got) != 1 || got[0].ID != next.PK.ID {
		t.Fatalf("learned keys %s, want only %s", keyIDs(got), next.PK.ID)
	}
}
