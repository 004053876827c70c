package publish

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/slipwayhq/slipway/signing"
	"github.com/slipwayhq/slipway/updater/catalog"
	"github.com/slipwayhq/slipway/updater/channel"
	"github.com/slipwayhq/slipway/updater/internal/memstore"
	"github.com/slipwayhq/slipway/updater/repo"
	"github.com/slipwayhq/slipway/updater/updatertest"
)

var now = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func setup(t *testing.T) (*memstore.Store, *updatertest.Publisher, Config, *repo.Keys) {
	t.Helper()
	st := memstore.New()
	pub := updatertest.New(t, st, "p", 1)
	keys, err := repo.EnsureKeys(filepath.Join(t.TempDir(), "keys"), 1)
	if err != nil {
		t.Fatal(err)
	}
	return st, pub, Config{Store: st, Prefix: "p", Verifier: catalog.Minisign{Key: pub.PK}}, keys
}

func TestApplyIdempotent(t *testing.T) {
	ctx := t.Context()
	st, pub, cfg, keys := setup(t)
	pub.Publish(t, "agent", "1.0.0", updatertest.Agent("1.0.0")...)
	pub.Publish(t, "agent", "1.1.0", updatertest.Agent("1.1.0")...)
	f := &channel.File{}
	if err := f.Promote("agent", "stable", "1.0.0", 100); err != nil {
		t.Fatal(err)
	}
	p, err := MakePlan(ctx, cfg, f)
	if err != nil {
		t.Fatal(err)
	}
	if p.Empty() || !strings.Contains(p.String(), "+ channel agent/stable: 1.0.0 at 100%") {
		t.Fatalf("first plan:\n%s", p)
	}
	if _, err := Apply(ctx, cfg, f, keys, now); err != nil {
		t.Fatal(err)
	}
	before := snapshotStore(st)
	p, err = Apply(ctx, cfg, f, keys, now.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if !p.Empty() {
		t.Fatalf("second apply not empty:\n%s", p)
	}
	if after := snapshotStore(st); after != before {
		t.Fatalf("second apply changed storage:\n%s\n---\n%s", before, after)
	}

	// A staged promotion adds the new targets and marks channels in custom.
	if err := f.Promote("agent", "stable", "1.1.0", 10); err != nil {
		t.Fatal(err)
	}
	p, err = Apply(ctx, cfg, f, keys, now.Add(2*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"~ channel agent/stable: 1.0.0 at 100% -> 1.1.0 at 10%", "+ target agent/1.1.0/slipway-agent_1.1.0_linux_amd64.tar.gz", "~ target agent/1.0.0/"} {
		if !strings.Contains(p.String(), want) {
			t.Errorf("plan lacks %q:\n%s", want, p)
		}
	}
	r, err := repo.Open(ctx, st, "p", repo.Options{})
	if err != nil {
		t.Fatal(err)
	}
	tf := r.Targets.Signed.Targets["agent/1.1.0/slipway-agent_1.1.0_linux_amd64.tar.gz"]
	if tf == nil || !strings.Contains(string(*tf.Custom), `"channels":{"stable":{"rollout":10}}`) || len(tf.Hashes["sha512"]) != 64 {
		t.Fatalf("target %+v", tf)
	}
	if old := r.Targets.Signed.Targets["agent/1.0.0/slipway-agent_1.0.0_linux_amd64.tar.gz"]; old == nil || strings.Contains(string(*old.Custom), "channels") {
		t.Fatalf("previous version must stay a target without channel entry: %+v", old)
	}
}

func snapshotStore(st *memstore.Store) string {
	var b strings.Builder
	for _, k := range st.Keys() {
		b.WriteString(k + " " + string(st.Bytes(k)) + "\n")
	}
	return b.String()
}

func TestApplyRefuses(t *testing.T) {
	ctx := t.Context()
	tests := []struct {
		name   string
		tamper func(t *testing.T, pub *updatertest.Publisher)
		want   error
	}{
		{"never published", func(t *testing.T, pub *updatertest.Publisher) {}, catalog.ErrNotPublished},
		{"artifact swapped", func(t *testing.T, pub *updatertest.Publisher) {
			pub.Publish(t, "agent", "2.0.0", updatertest.Agent("2.0.0")...)
			pub.Put(t, "agent", "2.0.0", "slipway-agent_2.0.0_linux_amd64.tar.gz", []byte("evil"))
		}, catalog.ErrMismatch},
		{"minisig swapped", func(t *testing.T, pub *updatertest.Publisher) {
			pub.Publish(t, "agent", "2.0.0", updatertest.Agent("2.0.0")...)
			pub.Publish(t, "agent", "2.0.1", updatertest.Agent("2.0.1")...)
			sig := pub.Store.(*memstore.Store).Bytes("p/releases/agent/2.0.1/slipway-agent_2.0.1_linux_amd64.tar.gz.minisig")
			pub.Put(t, "agent", "2.0.0", "slipway-agent_2.0.0_linux_amd64.tar.gz.minisig", sig)
		}, signing.ErrBadSignature},
		{"signature from another key", func(t *testing.T, pub *updatertest.Publisher) {
			other := updatertest.New(t, pub.Store, pub.Prefix, 2)
			other.Publish(t, "agent", "2.0.0", updatertest.Agent("2.0.0")...)
		}, signing.ErrBadSignature},
		{"garbage record", func(t *testing.T, pub *updatertest.Publisher) {
			pub.Put(t, "agent", "2.0.0", "release.json", []byte(`{"product":"agent","version":"2.0.0","artifacts":[{"name":"../x"}]}`))
		}, catalog.ErrBadRecord},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st, pub, cfg, keys := setup(t)
			tt.tamper(t, pub)
			f := &channel.File{}
			if err := f.Promote("agent", "stable", "2.0.0", 100); err != nil {
				t.Fatal(err)
			}
			if _, err := Apply(ctx, cfg, f, keys, now); !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
			if data := st.Bytes(StateKey("p")); data != nil {
				t.Fatalf("state written despite refusal: %s", data)
			}
		})
	}
}
