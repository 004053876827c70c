package daemon_test

import (
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/slipwayhq/slipway/agent/agenttest"
	"github.com/slipwayhq/slipway/agent/daemon"
	"github.com/slipwayhq/slipway/agent/enroll"
	"github.com/slipwayhq/slipway/agent/heartbeat"
	"github.com/slipwayhq/slipway/agent/identity"
	"github.com/slipwayhq/slipway/agent/inventory"
	"github.com/slipwayhq/slipway/machineapi"
)

func newDaemon(t *testing.T, dir string) *daemon.Daemon {
	t.Helper()
	return daemon.New(daemon.Config{
		Dir:       dir,
		Version:   "1.2.3",
		Inventory: inventory.Options{Osquery: "off"},
		Heartbeat: heartbeat.Options{MinBackoff: 50 * time.Millisecond, MaxBackoff: 400 * time.Millisecond},
	})
}

// dropConfig writes agent.json the way an installer or MDM would.
func dropConfig(t *testing.T, dir string, cfg enroll.Config) {
	t.Helper()
	b, _ := json.Marshal(cfg)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, enroll.ConfigFileName), b, 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestAgentLifecycle drives the agent against the real server: enroll from
// an MDM-dropped agent.json, heartbeat, token rotated by an admin, token
// revoked, no secret available, server down and back.
func TestAgentLifecycle(t *testing.T) {
	srv := agenttest.Start(t)
	dir := t.TempDir()
	dropConfig(t, dir, enroll.Config{Server: srv.URL, ProvisioningSecret: srv.Secret})
	d := newDaemon(t, dir)
	ctx := t.Context()

	st, err := d.Enroll(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if runtime.GOOS != "windows" {
		fi, err := os.Stat(d.Store().Path())
		if err != nil || fi.Mode().Perm() != 0o600 {
			t.Fatalf("token store mode: %v %v", fi.Mode(), err)
		}
	}
	machineID := st.MachineID
	loop := d.Loop()

	t.Run("heartbeat", func(t *testing.T) {
		wait, err := loop.Beat(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if wait < 50*time.Second || wait > 70*time.Second {
			t.Errorf("next beat in %s; the server asks for 60s ±10%%", wait)
		}
		m := srv.Machine(machineID)
		if m["agentVersion"] != "1.2.3" || srv.HeartbeatCount(machineID) != 1 {
			t.Fatalf("server view: %v", m)
		}
		host, _ := os.Hostname()
		if m["hostname"] != host {
			t.Errorf("hostname %v, want %s", m["hostname"], host)
		}
		saved, _ := d.Store().Load()
		if saved.LastHeartbeatAt.IsZero() {
			t.Error("last heartbeat not recorded in the state file")
		}
	})

	for _, action := range []string{"rotate", "revoke"} {
		t.Run(action+" then re-enroll", func(t *testing.T) {
			before, _ := d.Store().Load()
			if code, body := srv.AdminJSON(http.MethodPost, "/machines/"+machineID+"/token/"+action); code != http.StatusOK {
				t.Fatalf("%s: %d %v", action, code, body)
			}
			n := srv.HeartbeatCount(machineID)
			if _, err := loop.Beat(ctx); err != nil {
				t.Fatalf("beat after %s (should re-enroll): %v", action, err)
			}
			after, _ := d.Store().Load()
			if after.MachineToken == before.MachineToken || after.MachineID != machineID {
				t.Fatalf("re-enrollment: same token=%v, machine %s → %s", after.MachineToken == before.MachineToken, machineID, after.MachineID)
			}
			if _, err := loop.Beat(ctx); err != nil {
				t.Fatal(err)
			}
			if got := srv.HeartbeatCount(machineID); got != n+1 {
				t.Fatalf("heartbeats %d → %d", n, got)
			}
		})
	}

	t.Run("revoked without a secret", func(t *testing.T) {
		dropConfig(t, dir, enroll.Config{Server: srv.URL})
		srv.AdminJSON(http.MethodPost, "/machines/"+machineID+"/token/revoke")
		_, err := loop.Beat(ctx)
		if !errors.Is(err, machineapi.ErrUnauthorized) || !errors.Is(err, enroll.ErrNoSecret) {
			t.Fatalf("want unauthorized + no secret, got %v", err)
		}
		if _, err := d.Store().Load(); err != nil {
			t.Fatalf("state lost: %v", err)
		}
		dropConfig(t, dir, enroll.Config{Server: srv.URL, ProvisioningSecret: srv.Secret})
		if _, err := loop.Beat(ctx); err != nil {
			t.Fatalf("recovery once the MDM drops a secret: %v", err)
		}
	})

	t.Run("server down and back", func(t *testing.T) {
		n := srv.HeartbeatCount(machineID)
		srv.Stop()
		var waits []time.Duration
		for range 4 {
			wait, err := loop.Beat(ctx)
			if !errors.Is(err, machineapi.ErrUnavailable) {
				t.Fatalf("want ErrUnavailable, got %v", err)
			}
			waits = append(waits, wait)
		}
		if waits[3] < waits[0] || waits[3] > 400*time.Millisecond {
			t.Errorf("backoff did not grow within the cap: %v", waits)
		}
		if _, err := d.Store().Load(); err != nil {
			t.Fatalf("state lost while offline: %v", err)
		}
		srv.Restart()
		if _, err := loop.Beat(ctx); err != nil {
			t.Fatal(err)
		}
		if got := srv.HeartbeatCount(machineID); got != n+1 {
			t.Fatalf("after the outage: %d heartbeats, want %d (one latest state, no queue)", got, n+1)
		}
	})
}

// TestReRegisterSameHardware checks that enrolling twice keeps one machine.
func TestReRegisterSameHardware(t *testing.T) {
	srv := agenttest.Start(t)
	dir := t.TempDir()
	d := daemon.New(daemon.Config{Dir: dir, Version: "1.0.0", Inventory: inventory.Options{Osquery: "off"},
		Enroll: enroll.Config{Server: srv.URL, ProvisioningSecret: srv.Secret}})
	a, err := d.Enroll(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	b, err := d.Enroll(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if a.MachineID != b.MachineID || a.MachineToken == b.MachineToken {
		t.Fatalf("re-registration: %s vs %s", a.MachineID, b.MachineID)
	}
	c, _ := machineapi.New(srv.URL, machineapi.Options{})
	if _, err := c.Me(t.Context(), a.MachineToken); !errors.Is(err, machineapi.ErrUnauthorized) {
		t.Fatalf("old token still works: %v", err)
	}
	me, err := c.Me(t.Context(), b.MachineToken)
	if err != nil || me.MachineID != a.MachineID || me.Tenant.ID == "" {
		t.Fatalf("me: %+v %v", me, err)
	}
}

func TestEnrollBadSecret(t *testing.T) {
	srv := agenttest.Start(t)
	d := daemon.New(daemon.Config{Dir: t.TempDir(), Inventory: inventory.Options{Osquery: "off"},
		Enroll: enroll.Config{Server: srv.URL, ProvisioningSecret: "wrong-secret-wrong-secret"}})
	if _, err := d.Enroll(t.Context()); !errors.Is(err, machineapi.ErrUnauthorized) {
		t.Fatalf("want unauthorized, got %v", err)
	}
	if _, err := d.Store().Load(); !errors.Is(err, identity.ErrNotEnrolled) {
		t.Fatalf("a failed enrollment wrote state: %v", err)
	}
}
