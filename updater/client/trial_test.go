package client

import (
	"bytes"
	"errors"
	"os"
	"testing"
	"time"
)

// trialScript is a fake agent: `version` prints the version; run on trial
// (TrialEnv set) it does body.
func trialScript(version, body string) []byte {
	return []byte("#!/bin/sh\nif [ -z \"$" + TrialEnv + "\" ]; then echo slipway-agent " + version + "; exit 0; fi\n" + body + "\n")
}

const healthyBody = `echo "slipway-update-trial: healthy $` + TrialEnv + `"`

func TestTrialRun(t *testing.T) {
	tests := []struct {
		name, body string
		ok         bool
	}{
		{"healthy", healthyBody, true},
		{"exits non-zero at once", "exit 1", false},
		{"exits 0 without confirming", "exit 0", false},
		{"confirms another version", `echo "slipway-update-trial: healthy 9.9.9"`, false},
		{"confirms then fails", healthyBody + "\nexit 2", false},
		{"hangs", "exec sleep 60", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := newWorld(t)
			w.pub.Publish(t, "agent", "1.3.0", agentRelease(t, "1.3.0", trialScript("1.3.0", tt.body))...)
			w.promote(t, "agent", "1.3.0")
			w.cfg.TrialArgs, w.cfg.TrialTimeout = []string{"run"}, 2*time.Second
			res, err := w.client(t).Update(t.Context())
			if tt.ok {
				if err != nil || res == nil || res.To != "1.3.0" {
					t.Fatalf("healthy trial: %+v %v", res, err)
				}
				return
			}
			var rej *RejectedError
			if !errors.Is(err, ErrTrial) || !errors.As(err, &rej) || rej.Version != "1.3.0" {
				t.Fatalf("err = %v, want a rejection of 1.3.0 by ErrTrial", err)
			}
			w.intact(t)
			// Never tried again...
			if res, err := w.client(t).Update(t.Context()); res != nil || err != nil {
				t.Fatalf("second update: %+v %v", res, err)
			}
			w.intact(t)
			// ...until a newer version is offered.
			w.pub.Publish(t, "agent", "1.4.0", agentRelease(t, "1.4.0", trialScript("1.4.0", healthyBody))...)
			w.promote(t, "agent", "1.4.0")
			if res, err := w.client(t).Update(t.Context()); err != nil || res == nil || res.To != "1.4.0" {
				t.Fatalf("newer version: %+v %v", res, err)
			}
		})
	}
}

// TestRollbackAfterSwapRemembersVersion: a version rolled back by Startup
// (unhealthy after the swap) is not installed again.
func TestRollbackAfterSwapRemembersVersion(t *testing.T) {
	w := newWorld(t)
	if _, err := w.client(t).Update(t.Context()); err != nil {
		t.Fatal(err)
	}
	var err error
	for i := 0; err == nil && i <= MaxStarts; i++ { // a crash loop
		err = Startup(w.cfg.StateDir, w.cfg.Now())
	}
	if !errors.Is(err, ErrUnhealthy) {
		t.Fatalf("err = %v, want ErrUnhealthy", err)
	}
	rs, err := Rejected(w.cfg.StateDir)
	if err != nil || len(rs) != 1 || rs[0].Version != "1.1.0" {
		t.Fatalf("rejected %+v %v", rs, err)
	}
	if res, err := w.client(t).Update(t.Context()); res != nil || err != nil {
		t.Fatalf("reinstalled: %+v %v", res, err)
	}
	if data, _ := os.ReadFile(w.bin); !bytes.Equal(data, script("1.0.0")) {
		t.Fatalf("installed %q", data)
	}
}

func TestRejectedListBounded(t *testing.T) {
	dir := t.TempDir()
	for i := range maxRejected + 5 {
		if err := recordRejected(dir, "1.0."+itoa(i), string(bytes.Repeat([]byte("x"), 4<<10)), start); err != nil {
			t.Fatal(err)
		}
	}
	rs, err := Rejected(dir)
	if err != nil || len(rs) != maxRejected || rs[0].Version != "1.0.5" || len(rs[0].Reason) != maxReason {
		t.Fatalf("%d entries, first %+v, %v", len(rs), rs[0].Version, err)
	}
	if err := os.WriteFile(dir+"/"+rejectedFile, []byte("{garbage"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Rejected(dir); err == nil {
		t.Fatal("garbage list accepted")
	}
	if isRejected(dir, "1.0.7") {
		t.Fatal("an unreadable list must reject nothing")
	}
}

// TestHealthDeadlineCountsFromFirstStart: a service manager that restarts
// the agent two minutes after the hand-over (systemd RestartSec=120) must
// not make a healthy version miss a two-minute deadline.
func TestHealthDeadlineCountsFromFirstStart(t *testing.T) {
	w := newWorld(t)
	w.cfg.HealthDeadline = 2 * time.Minute
	if _, err := w.client(t).Update(t.Context()); err != nil {
		t.Fatal(err)
	}
	first := w.cfg.Now().Add(2 * time.Minute)
	if err := Startup(w.cfg.StateDir, first); err != nil {
		t.Fatalf("first start after the restart delay: %v", err)
	}
	if err := Startup(w.cfg.StateDir, first.Add(time.Minute)); err != nil {
		t.Fatalf("second start inside the window: %v", err)
	}
	if err := Startup(w.cfg.StateDir, first.Add(3*time.Minute)); !errors.Is(err, ErrUnhealthy) {
		t.Fatalf("past the window: %v", err)
	}
}

// TestRecordCrashRollsBackWithoutStartup: a new version that dies before
// its own Startup (so it never counts a start) is rolled back by the
// service manager's crash reports (RecordCrash, run by the previous
// binary) at the MaxStarts-th crash, reported, and not installed again.
func TestRecordCrashRollsBackWithoutStartup(t *testing.T) {
	w := newWorld(t)
	if rolled, err := RecordCrash(w.cfg.StateDir, w.cfg.Now()); rolled || err != nil {
		t.Fatalf("nothing pending: %v %v", rolled, err)
	}
	if _, err := w.client(t).Update(t.Context()); err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= MaxStarts; i++ {
		rolled, err := RecordCrash(w.cfg.StateDir, w.cfg.Now())
		if err != nil || rolled != (i == MaxStarts) {
			t.Fatalf("crash %d: rolled back %v, %v", i, rolled, err)
		}
	}
	if data, _ := os.ReadFile(w.bin); !bytes.Equal(data, script("1.0.0")) {
		t.Fatalf("not rolled back: %q", data)
	}
	if err := Startup(w.cfg.StateDir, w.cfg.Now()); err != nil {
		t.Fatalf("the restored binary's start: %v", err)
	}
	if f, err := LastFailure(w.cfg.StateDir); err != nil || f == nil || f.To != "1.1.0" {
		t.Fatalf("failure report %+v %v", f, err)
	}
	if res, err := w.client(t).Update(t.Context()); res != nil || err != nil {
		t.Fatalf("reinstalled: %+v %v", res, err)
	}
}
