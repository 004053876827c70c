package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/slipwayhq/slipway/agent/agenttest"
	"github.com/slipwayhq/slipway/agent/enroll"
	"github.com/slipwayhq/slipway/agent/selfupdate"
	"github.com/slipwayhq/slipway/internal/systemdtest"
	"github.com/slipwayhq/slipway/server"
	"github.com/slipwayhq/slipway/updater/client"
)

// TestSelfUpdateUnderSystemd installs a real agent as a systemd service the
// way docs/operations.md says for a self-updating agent (`slipway-agent
// install`: kardianos/service writes the unit, Restart=always) inside a real
// systemd, and promotes three versions:
//
//   - 1.1.0, good: trial run, swap, exit 3, systemd restarts the service
//     on 1.1.0, which confirms itself healthy (one restart);
//   - 1.2.0, exits at once: rejected by its trial run; the service never
//     stops (no restart at all), 1.1.0 reports 1.2.0 as rolled back;
//   - 1.3.0, passes its trial but crashes at its first request when run as
//     the service, and 1.4.0, passes its trial but exits at once as the
//     service, before its start-up check: systemd restarts each, and after
//     its third crash the unit's update guard (ExecStopPost, run from the
//     previous binary) puts 1.1.0 back; 1.1.0 reports each.
//
// No bad version is installed again (the channel keeps offering 1.4.0),
// and the restart count stops growing: no restart storm.
//
// The unit's RestartSec=120 (kardianos/service's template) is lowered to
// 1 s by a drop-in so the test takes seconds, not 10 minutes; the start
// limits and everything else are the installed unit's.
func TestSelfUpdateUnderSystemd(t *testing.T) {
	if testing.Short() {
		t.Skip("boots a systemd container and builds four agent versions")
	}
	c := systemdtest.Boot(t)
	w := newUpdateWorld(t)
	bins := buildAgentFaults(t, map[string]string{"1.0.0": "", "1.1.0": "", "1.2.0": "exit", "1.3.0": "service-crash", "1.4.0": "service-exit"})
	for _, v := range []string{"1.1.0", "1.2.0", "1.3.0", "1.4.0"} {
		data, err := os.ReadFile(bins[v])
		if err != nil {
			t.Fatal(err)
		}
		w.publishBinary(t, v, data)
	}
	good, err := os.ReadFile(bins["1.0.0"])
	if err != nil {
		t.Fatal(err)
	}
	w.promote(t, "1.1.0")
	w.srv = agenttest.StartWith(t, server.Options{Mount: []func(chi.Router){w.h.Routes}},
		func(c *server.Config) { c.HeartbeatInterval = time.Second })

	// What the install instructions drop: the binary, agent.json and the
	// update trust files in /etc/slipway; then `slipway-agent install`.
	const bin, unit = "/usr/local/bin/slipway-agent", "slipway-agent.service"
	c.WriteFile(bin, good, 0o755)
	if err := os.MkdirAll(c.Path("/etc/slipway"), 0o700); err != nil {
		t.Fatal(err)
	}
	w.trustWith(t, c.Path("/etc/slipway"), enroll.UpdateConfig{Channel: "stable", IntervalSeconds: 1,
		HealthDeadlineSeconds: 60, TrialSeconds: 20})
	c.Must(bin, "install")
	c.WriteFile("/etc/systemd/system/"+unit+".d/test-restart-delay.conf", []byte("[Service]\nRestartSec=1s\n"), 0o644)
	c.Must("systemctl", "daemon-reload")
	c.Must(bin, "start")

	// The agent logs to stderr, which systemd keeps in the journal.
	logs := stringer(func() string {
		out, _ := c.Run("systemctl", "status", "--no-pager", unit)
		return out + "\n--- journal:\n" + c.Journal(unit)
	})
	restarts := func() string { return c.Show(unit, "NRestarts") }
	var id string
	update := func() (string, map[string]any) {
		if id = machineIDIn(c.Path("/etc/slipway")); id == "" {
			return "", nil
		}
		return agentUpdate(w.srv, id)
	}

	eventually(t, "1.1.0 installed by the service and healthy after one restart", func() bool {
		v, u := update()
		return v == "1.1.0" && u["result"] == selfupdate.ResultHealthy && restarts() == "1"
	}, logs)
	pid := c.Show(unit, "MainPID")

	w.promote(t, "1.2.0")
	eventually(t, "1.2.0 (exits at start) rejected by its trial run", func() bool {
		v, u := update()
		return v == "1.1.0" && u["result"] == selfupdate.ResultRolledBack && u["available"] == "1.2.0"
	}, logs)
	if r, p := restarts(), c.Show(unit, "MainPID"); r != "1" || p != pid {
		t.Fatalf("the service restarted for a version rejected on trial: NRestarts %s, MainPID %s (was %s)\n%s", r, p, pid, logs)
	}

	// Each: the hand-over, then MaxStarts crashes (the guard rolls back
	// after the last one, and systemd's restart runs 1.1.0 again).
	for _, bad := range []string{"1.3.0", "1.4.0"} {
		w.promote(t, bad)
		eventually(t, bad+" (crashes as the service) rolled back to 1.1.0", func() bool {
			v, u := update()
			return v == "1.1.0" && u["result"] == selfupdate.ResultRolledBack && u["available"] == bad &&
				c.Show(unit, "ActiveState") == "active"
		}, logs)
	}
	wantRestarts := 1 + 2*(1+client.MaxStarts)
	if v := strings.TrimSpace(c.Must(bin, "version")); !strings.Contains(v, " 1.1.0 ") {
		t.Fatalf("installed binary: %q\n%s", v, logs)
	}
	// Several more update checks (1 s interval) find 1.4.0 still offered
	// and skip it: the restart count stays where it is.
	n := restarts()
	time.Sleep(5 * time.Second)
	if again := restarts(); again != n || n != strconv.Itoa(wantRestarts) {
		t.Fatalf("NRestarts %s then %s, want %d and no more\n%s", n, again, wantRestarts, logs)
	}
	log := c.Journal(unit)
	if k := strings.Count(log, "version 1.2.0 rejected"); k != 1 {
		t.Fatalf("1.2.0 rejected %d times, want once\n%s", k, log)
	}
	for fault, version := range map[string]string{"crash as a service": "1.3.0", "exit at start as a service": "1.4.0"} {
		if k := strings.Count(log, "injected fault: "+fault); k != client.MaxStarts {
			t.Fatalf("%s crashed %d times as the service, want %d\n%s", version, k, client.MaxStarts, log)
		}
	}
	if k := strings.Count(log, "update guard: the new version kept crashing"); k != 2 {
		t.Fatalf("the update guard rolled back %d times, want 2\n%s", k, log)
	}
	for _, line := range strings.Split(log, "\n") {
		if strings.Contains(line, "systemd[1]") && (strings.Contains(line, "Main process exited") || strings.Contains(line, "restart counter")) {
			t.Log(line)
		}
	}
	rejected, err := client.Rejected(selfupdate.StateDir(c.Path("/etc/slipway")))
	if err != nil || len(rejected) != 3 || rejected[0].Version != "1.2.0" || rejected[1].Version != "1.3.0" || rejected[2].Version != "1.4.0" {
		t.Fatalf("rejected versions %+v %v", rejected, err)
	}
}

type stringer func() string

func (s stringer) String() string { return s() }

// machineIDIn reads the enrolled machine's ID from a config directory.
func machineIDIn(dir string) string {
	var st struct{ MachineID string }
	b, _ := os.ReadFile(filepath.Join(dir, "machine.json"))
	_ = json.Unmarshal(b, &st)
	return st.MachineID
}
