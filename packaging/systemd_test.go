package packaging

import (
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/slipwayhq/slipway/agent/agenttest"
	"github.com/slipwayhq/slipway/internal/systemdtest"
	"github.com/slipwayhq/slipway/server"
)

// TestAgentPackageUnderSystemd installs the agent's .deb (built by
// GoReleaser's nfpm from .goreleaser.yaml) into a real systemd running in a
// container, the way an MDM deploys it: dpkg -i, then the environment file
// with the server URL and provisioning secret. The agent must enroll with
// the real server the test runs on the host's 127.0.0.1, be restarted by
// systemd after kill -9, move to the next version on a package upgrade
// (same machine, no re-enrollment), leave self-update to the package
// manager, and go away cleanly on dpkg -r and dpkg --purge.
func TestAgentPackageUnderSystemd(t *testing.T) {
	if testing.Short() {
		t.Skip("boots a systemd container and builds two packages")
	}
	start := time.Now()
	step := func(what string) { t.Logf("%5.1fs %s", time.Since(start).Seconds(), what) }
	c := systemdtest.Boot(t)
	step("container booted")
	debs := map[string]string{"1.0.0": buildAgentDeb(t, "1.0.0"), "1.1.0": buildAgentDeb(t, "1.1.0")}
	for v, deb := range debs {
		b, err := os.ReadFile(deb)
		if err != nil {
			t.Fatal(err)
		}
		c.WriteFile("/root/slipway-agent_"+v+".deb", b, 0o644)
	}
	step("packages built")
	srv := agenttest.Start(t, func(cfg *server.Config) { cfg.HeartbeatInterval = time.Second })
	const unit = "slipway-agent.service"
	failf := func(format string, args ...any) {
		t.Helper()
		t.Fatalf("%s\n--- systemctl status:\n%s\n--- journal:\n%s", fmt.Sprintf(format, args...),
			must(c.Run("systemctl", "status", "--no-pager", unit)), c.Journal(unit))
	}
	waitFor := func(what string, ok func() bool) {
		t.Helper()
		for deadline := time.Now().Add(60 * time.Second); !ok(); time.Sleep(200 * time.Millisecond) {
			if time.Now().After(deadline) {
				failf("timed out waiting for %s", what)
			}
		}
	}

	c.Must("dpkg", "-i", "/root/slipway-agent_1.0.0.deb")
	if got := c.Show(unit, "UnitFileState"); got != "enabled" {
		failf("after dpkg -i the unit is %q, want enabled", got)
	}
	if got := c.Show(unit, "ActiveState"); got != "inactive" {
		failf("the agent runs before it is configured: %s", got)
	}

	step("installed")
	// What an MDM drops; slipway-agent.path starts the service as soon as
	// the file exists, which can be before it has been written: systemd
	// then gives the agent an empty environment. Reproduce that on
	// purpose (an empty file first), then the content: the agent reads
	// agent.env again before each enrollment attempt.
	c.WriteFile("/etc/slipway/agent.env", nil, 0o600)
	waitFor("the path unit to start the agent on the empty file", func() bool { return c.Show(unit, "ActiveState") == "active" })
	c.WriteFile("/etc/slipway/agent.env", []byte("SLIPWAY_SERVER="+srv.URL+"\nSLIPWAY_PROVISIONING_SECRET="+srv.Secret+"\n"), 0o600)
	var id string
	waitFor("the agent to enroll and heartbeat", func() bool {
		id = machineID(c)
		return id != "" && srv.HeartbeatCount(id) > 0
	})
	if v := srv.Machine(id)["agentVersion"]; v != "1.0.0" {
		failf("server sees agent version %v, want 1.0.0", v)
	}
	if j := c.Journal(unit); !strings.Contains(j, "installed by a package") {
		failf("the packaged agent does not say self-update is left to the package manager")
	}

	step("enrolled")
	// kill -9: systemd restarts it (Restart=on-failure), and it heartbeats again.
	pid := c.Show(unit, "MainPID")
	c.Must("sh", "-c", "kill -9 "+pid)
	waitFor("systemd to restart the killed agent", func() bool {
		return c.Show(unit, "NRestarts") == "1" && c.Show(unit, "ActiveState") == "active" && c.Show(unit, "MainPID") != pid
	})
	before := srv.HeartbeatCount(id)
	waitFor("a heartbeat from the restarted agent", func() bool { return srv.HeartbeatCount(id) > before })

	step("restarted after kill -9")
	// Upgrade: the postinst restarts the running service on the new binary.
	c.Must("dpkg", "-i", "/root/slipway-agent_1.1.0.deb")
	waitFor("the upgraded agent to report 1.1.0", func() bool { return srv.Machine(id)["agentVersion"] == "1.1.0" })
	if again := machineID(c); again != id {
		failf("upgrade re-enrolled: machine %s, was %s", again, id)
	}

	step("upgraded")
	// Removal: unit gone, no agent process left, configuration kept.
	c.Must("dpkg", "-r", "slipway-agent")
	if out, _ := c.Run("systemctl", "list-unit-files", "--no-legend", "slipway-agent*"); strings.TrimSpace(out) != "" {
		failf("units left after dpkg -r:\n%s", out)
	}
	if procs := agentProcesses(c); len(procs) > 0 {
		failf("slipway-agent still running after dpkg -r: %v", procs)
	}
	if _, err := os.Stat(c.Path("/etc/slipway/machine.json")); err != nil {
		failf("dpkg -r removed the machine's identity: %v", err)
	}
	c.Must("dpkg", "--purge", "slipway-agent")
	if _, err := os.Stat(c.Path("/etc/slipway")); !os.IsNotExist(err) {
		failf("/etc/slipway left after purge: %v", err)
	}
	if out, _ := c.Run("dpkg-query", "-W", "slipway-agent"); strings.Contains(out, "slipway-agent\t") {
		failf("package still known after purge: %s", out)
	}
}

func must(out string, _ error) string { return out }

// machineID reads the enrolled machine's ID from inside the container.
func machineID(c *systemdtest.Container) string {
	b, err := os.ReadFile(c.Path("/etc/slipway/machine.json"))
	if err != nil {
		return ""
	}
	var st struct {
		MachineID string `json:"machineId"`
	}
	_ = json.Unmarshal(b, &st)
	return st.MachineID
}

// agentProcesses lists the container's processes running slipway-agent, by
// /proc/<pid>/comm inside the container (minbase has no ps).
func agentProcesses(c *systemdtest.Container) []int {
	out, _ := c.Sh(`for p in /proc/[0-9]*; do [ "$(cat $p/comm 2>/dev/null)" = slipway-agent ] && echo ${p#/proc/}; done; true`)
	var pids []int
	for _, f := range strings.Fields(out) {
		if n, err := strconv.Atoi(f); err == nil {
			pids = append(pids, n)
		}
	}
	return pids
}
