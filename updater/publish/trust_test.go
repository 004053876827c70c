package publish

import (
	"errors"
	"strings"
	"testing"

	"github.com/slipwayhq/slipway/signing/minisign"
	"github.com/slipwayhq/slipway/updater/channel"
	"github.com/slipwayhq/slipway/updater/updatertest"
)

// TestProductKeys reproduces issue 13: a Tauri app signed with its own key
// could not be promoted without --minisign-pub, and an apply carrying it
// and the Slipway-signed agent failed with either key. With the app's keys
// in the channels file, promote and apply pick the right key per product,
// and two keys overlap during a key change.
func TestProductKeys(t *testing.T) {
	ctx := t.Context()
	st, pub, cfg, keys := setup(t) // pub signs the agent with the release key
	pub.Publish(t, "agent", "1.0.0", updatertest.Agent("1.0.0")...)
	oldApp := updatertest.New(t, st, "p", 21) // the app's own (Tauri) key
	newApp := updatertest.New(t, st, "p", 22) // its successor
	oldApp.Publish(t, "myapp", "1.2.3", updatertest.TauriApp("1.2.3")...)
	newApp.Publish(t, "myapp", "1.3.0", updatertest.TauriApp("1.3.0")...)

	f := &channel.File{}
	if err := Promote(ctx, cfg, f, "myapp", "stable", "1.2.3", 100); !errors.Is(err, minisign.ErrKeyIDMismatch) {
		t.Fatalf("app promoted without its key: %v", err)
	}
	f.Keys = map[string][]string{"myapp": {oldApp.PK.Tauri()}} // Tauri's pubkey form, as in tauri.conf.json
	if err := Promote(ctx, cfg, f, "myapp", "stable", "1.2.3", 100); err != nil {
		t.Fatal(err)
	}
	if err := Promote(ctx, cfg, f, "agent", "stable", "1.0.0", 100); err != nil {
		t.Fatalf("agent with the release key: %v", err)
	}
	// One apply carries both products, each verified with its own key.
	if _, err := Apply(ctx, cfg, f, keys, now); err != nil {
		t.Fatalf("apply of a Tauri-signed app and the agent: %v", err)
	}
	// The release key does not stand in for the app's.
	pub.Publish(t, "myapp", "1.2.4", updatertest.TauriApp("1.2.4")...)
	err := Promote(ctx, cfg, f, "myapp", "stable", "1.2.4", 100)
	if !errors.Is(err, minisign.ErrKeyIDMismatch) || !strings.Contains(err.Error(), "myapp trusts "+oldApp.PK.ID.String()) {
		t.Fatalf("app version signed with the release key: %v", err)
	}
	// Key change: the new key alone is unknown; listed with the old one,
	// versions signed by either verify.
	if err := Promote(ctx, cfg, f, "myapp", "stable", "1.3.0", 100); err == nil {
		t.Fatal("version signed with a key not listed was promoted")
	}
	f.Keys["myapp"] = []string{string(oldApp.PK.Encode()), newApp.PK.String()}
	for _, v := range []string{"1.3.0", "1.2.3"} {
		if err := Promote(ctx, cfg, f, "myapp", "stable", v, 100); err != nil {
			t.Fatalf("overlap, %s: %v", v, err)
		}
	}
	if err := Promote(ctx, cfg, f, "myapp", "stable", "1.3.0", 100); err != nil {
		t.Fatal(err)
	}
	if _, err := Apply(ctx, cfg, f, keys, now); err != nil {
		t.Fatalf("apply after the key change: %v", err)
	}
	// The keys survive a save and load of the channels file.
	path := t.TempDir() + "/channels.yaml"
	if err := f.Save(path); err != nil {
		t.Fatal(err)
	}
	back, err := channel.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := back.TrustedKeys("myapp"); err != nil || len(got) != 2 || got[1].ID != newApp.PK.ID {
		t.Fatalf("keys after reload: %v %v", got, err)
	}
}
