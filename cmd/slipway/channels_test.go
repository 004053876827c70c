package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/slipwayhq/slipway/storage/fs"
	"github.com/slipwayhq/slipway/updater/updatertest"
)

func TestChannelCommands(t *testing.T) {
	data := t.TempDir()
	st, err := fs.New(filepath.Join(data, "artifacts"), fs.Options{})
	if err != nil {
		t.Fatal(err)
	}
	pub := updatertest.New(t, st, "", 1)
	pub.Publish(t, "agent", "1.0.0", updatertest.Agent("1.0.0")...)
	pub.Publish(t, "agent", "1.1.0", updatertest.Agent("1.1.0")...)
	if err := os.MkdirAll(filepath.Join(data, "keys"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(data, "keys", "minisign.pub"), pub.PK.Encode(), 0o644); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "channels.yaml")
	oldSK, newPK := filepath.Join(data, "old.key"), filepath.Join(data, "new.pub")
	next := updatertest.New(t, st, "", 2)
	if err := os.WriteFile(oldSK, pub.SK.Encode(), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(newPK, next.PK.Encode(), 0o644); err != nil {
		t.Fatal(err)
	}
	common := []string{"--data", data, "--channels", file}
	steps := []struct {
		args []string
		want string
		fail bool
	}{
		{[]string{"promote", "agent", "9.9.9", "--to", "stable"}, "release not published", true},
		{[]string{"promote", "agent", "1.0.0", "--to", "stable"}, "agent/stable -> 1.0.0 at 100%", false},
		{[]string{"tuf", "init"}, `"_type":"root"`, false},
		{[]string{"plan"}, "+ channel agent/stable: 1.0.0 at 100%", false},
		{[]string{"plan", "--detailed-exitcode"}, "exit status 2", true}, // changes pending
		{[]string{"apply"}, "Applied.", false},
		{[]string{"apply"}, "No changes", false},
		{[]string{"promote", "agent", "1.1.0", "--to", "stable", "--rollout", "10"}, "1.1.0 at 10%", false},
		{[]string{"rollout", "agent", "stable", "25"}, "rollout 25%", false},
		{[]string{"rollout", "agent", "stable", "250"}, "between 0 and 100", true},
		{[]string{"pause", "agent", "stable"}, "paused", false},
		{[]string{"resume", "agent", "stable"}, "resumed", false},
		{[]string{"pin", "agent", "stable", "1.0.0", "--machine", "m-1"}, "pinned", false},
		{[]string{"plan"}, "~ channel agent/stable: 1.0.0 at 100% -> 1.1.0 at 25% 1 pins", false},
		{[]string{"apply"}, "+ target agent/1.1.0/", false},
		{[]string{"rollback", "agent", "stable"}, "rolled back to 1.0.0", false},
		{[]string{"rollback", "agent", "stable"}, "no earlier version", true},
		{[]string{"tuf", "rotate", "targets"}, "root is now version 2", false},
		{[]string{"tuf", "status"}, "targets    4", false},
		{[]string{"tuf", "status", "--check"}, "RE-SIGNED BY", false},
		{[]string{"tuf", "refresh"}, "Nothing expires within 60 days.", false},
		{[]string{"tuf", "refresh", "--within", "400"}, "Re-signed root, targets, snapshot, timestamp.", false},
		{[]string{"tuf", "status", "--json"}, `"version": 3`, false},
		{[]string{"tuf", "refresh", "--within", "0"}, "want 1..3650", true},
		{[]string{"release-key", "endorse", "agent", "--old-key", newPK, "--new-pub", newPK}, "secret key", true},
		{[]string{"release-key", "endorse", "agent", "--old-key", oldSK, "--new-pub", newPK}, "endorsed by " + pub.PK.ID.String(), false},
		{[]string{"apply"}, "Applied.", false},
		{[]string{"release-key", "retire", "agent", "nothex"}, "16 hex digits", true},
		{[]string{"release-key", "retire", "agent", pub.PK.ID.String()}, "retired", false},
		{[]string{"release-key", "retire", "agent", next.PK.ID.String()}, "no key left", true},
		{[]string{"apply"}, "Applied.", false},
		{[]string{"plan"}, "No changes", false},
		{[]string{"plan", "--detailed-exitcode"}, "No changes", false}, // in sync: exit 0
		{[]string{"apply", "--detailed-exitcode"}, "unknown flag", true},
	}
	for _, s := range steps {
		out, err := runSlipway(t, append(s.args, common...)...)
		if (err != nil) != s.fail {
			t.Fatalf("slipway %s: err = %v\n%s", strings.Join(s.args, " "), err, out)
		}
		got := out
		if err != nil {
			got += err.Error()
		}
		if !strings.Contains(got, s.want) {
			t.Fatalf("slipway %s: want %q in\n%s", strings.Join(s.args, " "), s.want, got)
		}
	}
	text, _ := os.ReadFile(file)
	if !strings.Contains(string(text), "version: 1.0.0") || !strings.Contains(string(text), "m-1: 1.0.0") {
		t.Fatalf("channels file:\n%s", text)
	}
}
