package main

import (
	"encoding/binary"
	"encoding/json"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/slipwayhq/slipway/agent/agenttest"
	"github.com/slipwayhq/slipway/agent/enroll"
	"github.com/slipwayhq/slipway/agent/selfupdate"
	"github.com/slipwayhq/slipway/server"
	"github.com/slipwayhq/slipway/updater/client"
)

// trialSeconds bounds each trial run in TestSelfUpdateRejectsBadVersions.
const trialSeconds = 5

// TestSelfUpdateRejectsBadVersions runs a real agent 1.0.0 against the real
// server and promotes, one after the other, releases that fail in each way
// a bad release can: exit at once, panic in init, not executable on this
// CPU, hang without confirming, run but never reach the server. Each time
// the running 1.0.0 rejects the version before any swap (self-check or
// trial run, decided by 1.0.0's code), keeps running, reports the failed
// version in its heartbeat and never tries that version again.
func TestSelfUpdateRejectsBadVersions(t *testing.T) {
	if testing.Short() || runtime.GOOS == "windows" {
		t.Skip("builds five agent variants")
	}
	good := buildAgent(t, "1.0.0")
	goodData, err := os.ReadFile(good)
	if err != nil {
		t.Fatal(err)
	}
	w := newUpdateWorld(t)
	bad := []struct{ version, fault string }{
		{"1.1.0", "exit"},
		{"1.2.0", "init-panic"},
		{"1.3.0", "hang"},
		{"1.4.0", "offline"},
	}
	for _, b := range bad {
		data, err := os.ReadFile(buildAgentFault(t, b.version, b.fault))
		if err != nil {
			t.Fatal(err)
		}
		w.publishBinary(t, b.version, data)
	}
	if runtime.GOOS == "linux" {
		bad = append(bad, struct{ version, fault string }{"1.5.0", "wrong-cpu"})
		w.publishBinary(t, "1.5.0", foreignELF(t, goodData))
	}
	w.promote(t, bad[0].version)
	w.srv = agenttest.StartWith(t, server.Options{Mount: []func(chi.Router){w.h.Routes}},
		func(c *server.Config) { c.HeartbeatInterval = time.Second })
	dir := t.TempDir()
	w.trustWith(t, dir, enroll.UpdateConfig{Channel: "stable", IntervalSeconds: 1, HealthDeadlineSeconds: 2, TrialSeconds: trialSeconds})
	bin := filepath.Join(t.TempDir(), "bin", "slipway-agent")
	if err := os.MkdirAll(filepath.Dir(bin), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bin, goodData, 0o755); err != nil {
		t.Fatal(err)
	}
	machineID := func() string {
		var st struct{ MachineID string }
		b, _ := os.ReadFile(filepath.Join(dir, "machine.json"))
		_ = json.Unmarshal(b, &st)
		return st.MachineID
	}

	p := start(t, []string{"SLIPWAY_CONFIG_DIR=" + dir}, bin, "run")
	for i, b := range bad {
		if i > 0 {
			w.promote(t, b.version)
		}
		eventually(t, b.fault+" version "+b.version+" rejected and reported", func() bool {
			if machineID() == "" {
				return false
			}
			v, u := agentUpdate(w.srv, machineID())
			return v == "1.0.0" && u["result"] == selfupdate.ResultRolledBack && u["available"] == b.version
		}, p.out)
		if p.cmd.ProcessState != nil {
			t.Fatalf("the running agent exited\n%s", p.out)
		}
		if v := installedVersion(t, bin); !strings.Contains(v, "1.0.0") {
			t.Fatalf("after %s: installed %q\n%s", b.fault, v, p.out)
		}
	}
	// Several more checks find the last bad version offered, and skip it.
	time.Sleep(3 * time.Second)
	p.stop(t)
	logs := p.out.String()
	for _, b := range bad {
		if n := strings.Count(logs, "version "+b.version+" rejected"); n != 1 {
			t.Fatalf("%s rejected %d times, want once\n%s", b.version, n, logs)
		}
	}
	rejected, err := client.Rejected(selfupdate.StateDir(dir))
	if err != nil || len(rejected) != len(bad) {
		t.Fatalf("rejected %+v %v", rejected, err)
	}
	for i, r := range rejected {
		if r.Version != bad[i].version || r.Reason == "" {
			t.Fatalf("rejection %d: %+v, want %s", i, r, bad[i].version)
		}
	}
	if _, err := os.Stat(bin + client.PreviousSuffix); err == nil {
		t.Fatal("a swap happened")
	}
}

// foreignELF returns the ELF binary with its machine field set to a CPU
// this host cannot run (SPARC V9): exec fails with "exec format error".
func foreignELF(t *testing.T, elf []byte) []byte {
	t.Helper()
	if len(elf) < 20 || string(elf[:4]) != "\x7fELF" {
		t.Fatal("not an ELF binary")
	}
	out := append([]byte(nil), elf...)
	binary.LittleEndian.PutUint16(out[18:], 43) // EM_SPARCV9
	return out
}
