package main

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/go-chi/chi/v5"
	"golang.org/x/sync/errgroup"

	"github.com/slipwayhq/slipway/agent/agenttest"
	"github.com/slipwayhq/slipway/agent/enroll"
	"github.com/slipwayhq/slipway/server"
	"github.com/slipwayhq/slipway/storage"
	"github.com/slipwayhq/slipway/updater/catalog"
	"github.com/slipwayhq/slipway/updater/channel"
	"github.com/slipwayhq/slipway/updater/endpoint"
	"github.com/slipwayhq/slipway/updater/publish"
	"github.com/slipwayhq/slipway/updater/repo"
	"github.com/slipwayhq/slipway/updater/updatertest"
)

// updateWorld is the real server with the updater routes mounted, over a
// filesystem store holding really signed agent releases and a TUF repo.
type updateWorld struct {
	srv  *agenttest.Server
	st   storage.Store
	pub  *updatertest.Publisher
	keys *repo.Keys
	file *channel.File
	h    *endpoint.Handler
}

func newUpdateWorld(t *testing.T) *updateWorld {
	t.Helper()
	st, err := storage.Open(t.Context(), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	w := &updateWorld{st: st, pub: updatertest.New(t, st, "", 7), file: &channel.File{}}
	if w.keys, err = repo.EnsureKeys(filepath.Join(t.TempDir(), "keys"), 1); err != nil {
		t.Fatal(err)
	}
	return w
}

// release builds slipway-agent at version and publishes it as a tar.gz.
func (w *updateWorld) release(t *testing.T, version string) {
	t.Helper()
	data, err := os.ReadFile(buildAgent(t, version))
	if err != nil {
		t.Fatal(err)
	}
	w.publishBinary(t, version, data)
}

// publishBinary publishes data as slipway-agent at version (a tar.gz).
func (w *updateWorld) publishBinary(t *testing.T, version string, data []byte) {
	t.Helper()
	name := "slipway-agent_" + version + "_" + runtime.GOOS + "_" + runtime.GOARCH + ".tar.gz"
	w.pub.Publish(t, "agent", version, updatertest.File{Name: name, OS: runtime.GOOS, Arch: runtime.GOARCH, Format: "tar.gz", Data: tarGz(t, "slipway-agent", data)})
}

// promote points the stable channel at version and republishes TUF metadata.
func (w *updateWorld) promote(t *testing.T, version string) {
	t.Helper()
	if err := w.file.Promote("agent", "stable", version, 100); err != nil {
		t.Fatal(err)
	}
	cfg := publish.Config{Store: w.st, Verifier: catalog.Minisign{Key: w.pub.PK}}
	if _, err := publish.Apply(t.Context(), cfg, w.file, w.keys, time.Now()); err != nil {
		t.Fatal(err)
	}
	if w.h == nil {
		var err error
		if w.h, err = endpoint.New(t.Context(), w.st, endpoint.Options{}); err != nil {
			t.Fatal(err)
		}
	} else if err := w.h.Reload(t.Context()); err != nil {
		t.Fatal(err)
	}
}

// trust writes what an installer drops: agent.json and update/{root.json,minisign.pub}.
func (w *updateWorld) trust(t *testing.T, dir string) {
	t.Helper()
	w.trustWith(t, dir, enroll.UpdateConfig{Channel: "stable", IntervalSeconds: 1, HealthDeadlineSeconds: 2})
}

func (w *updateWorld) trustWith(t *testing.T, dir string, uc enroll.UpdateConfig) {
	t.Helper()
	rc, _, err := w.st.Get(t.Context(), "tuf/1.root.json")
	if err != nil {
		t.Fatal(err)
	}
	root, _ := io.ReadAll(rc)
	rc.Close()
	if err := os.MkdirAll(filepath.Join(dir, "update"), 0o700); err != nil {
		t.Fatal(err)
	}
	cfg, _ := json.Marshal(enroll.Config{Server: w.srv.URL, ProvisioningSecret: w.srv.Secret, Update: uc})
	for name, data := range map[string][]byte{"agent.json": cfg, "update/root.json": root, "update/minisign.pub": w.pub.PK.Encode()} {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
}

func buildAgent(t *testing.T, version string) string {
	t.Helper()
	return buildAgentFault(t, version, "")
}

// buildAgentFault builds slipway-agent at version with an injected fault
// (see fault.go; "" for none).
func buildAgentFault(t *testing.T, version, fault string) string {
	t.Helper()
	out := filepath.Join(t.TempDir(), "slipway-agent")
	if err := goBuildAgent(version, fault, out); err != nil {
		t.Fatal(err)
	}
	return out
}

func goBuildAgent(version, fault, out string) error {
	cmd := exec.Command("go", "build", "-trimpath", "-ldflags", "-X main.version="+version+" -X main.commit=test -X main.testFault="+fault, "-o", out, ".")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("build %s (fault %q): %v\n%s", version, fault, err, b)
	}
	return nil
}

// buildAgentFaults builds several versions (version → fault) two at a time
// and returns their paths by version.
func buildAgentFaults(t *testing.T, builds map[string]string) map[string]string {
	t.Helper()
	var g errgroup.Group
	g.SetLimit(2)
	out := map[string]string{}
	for version, fault := range builds {
		path := filepath.Join(t.TempDir(), "slipway-agent")
		out[version] = path
		g.Go(func() error { return goBuildAgent(version, fault, path) })
	}
	if err := g.Wait(); err != nil {
		t.Fatal(err)
	}
	return out
}

func tarGz(t *testing.T, name string, data []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o755, Size: int64(len(data)), Typeflag: tar.TypeReg}); err != nil {
		t.Fatal(err)
	}
	_, _ = tw.Write(data)
	_ = tw.Close()
	_ = gz.Close()
	return buf.Bytes()
}

// runUntilExit runs the installed agent (as a service manager would) until
// it exits by itself, and returns its exit code and log.
func runUntilExit(t *testing.T, bin, dir string) (int, string) {
	t.Helper()
	p := start(t, []string{"SLIPWAY_CONFIG_DIR=" + dir}, bin, "run")
	done := make(chan error, 1)
	go func() { done <- p.cmd.Wait() }()
	select {
	case err := <-done:
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return ee.ExitCode(), p.out.String()
		}
		return 0, p.out.String()
	case <-time.After(90 * time.Second):
		t.Fatalf("agent did not exit\n%s", p.out)
		return 0, ""
	}
}

func installedVersion(t *testing.T, bin string) string {
	t.Helper()
	out, err := exec.Command(bin, "version").Output()
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(out))
}

// agentUpdate returns inventory.agent.update as the server stored it.
func agentUpdate(srv *agenttest.Server, id string) (version string, update map[string]any) {
	m := srv.Machine(id)
	inv, _ := m["inventory"].(map[string]any)
	agent, _ := inv["agent"].(map[string]any)
	update, _ = agent["update"].(map[string]any)
	v, _ := m["agentVersion"].(string)
	return v, update
}

// TestSelfUpdateAppliedAndRolledBack runs real agent binaries against the
// real server with the updater mounted: 1.0.0 installs 1.1.0 and restarts,
// 1.1.0 reports healthy; then 1.2.0 is installed but never heartbeats (the
// server is down), so its next start rolls it back to 1.1.0, which reports
// the rollback in its heartbeat.
func TestSelfUpdateAppliedAndRolledBack(t *testing.T) {
	if testing.Short() || runtime.GOOS == "windows" {
		t.Skip("builds three agent versions")
	}
	w := newUpdateWorld(t)
	w.release(t, "1.1.0")
	w.release(t, "1.2.0")
	w.promote(t, "1.1.0")
	w.srv = agenttest.StartWith(t, server.Options{Mount: []func(chi.Router){w.h.Routes}},
		func(c *server.Config) { c.HeartbeatInterval = time.Second })
	dir := t.TempDir()
	w.trust(t, dir)
	bin := filepath.Join(t.TempDir(), "bin", "slipway-agent")
	if err := os.MkdirAll(filepath.Dir(bin), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(buildAgent(t, "1.0.0"), bin); err != nil {
		t.Fatal(err)
	}

	// 1.0.0 enrolls, finds 1.1.0, installs it and exits for a restart.
	code, logs := runUntilExit(t, bin, dir)
	if code != 3 || !strings.Contains(installedVersion(t, bin), "1.1.0") {
		t.Fatalf("exit %d, installed %q\n%s", code, installedVersion(t, bin), logs)
	}
	machineID := func() string { // enrollment may happen after the first update
		var st struct{ MachineID string }
		b, _ := os.ReadFile(filepath.Join(dir, "machine.json"))
		_ = json.Unmarshal(b, &st)
		return st.MachineID
	}

	// 1.1.0 starts, heartbeats, confirms itself healthy and reports it.
	p := start(t, []string{"SLIPWAY_CONFIG_DIR=" + dir}, bin, "run")
	eventually(t, "1.1.0 reported healthy", func() bool {
		if machineID() == "" {
			return false
		}
		v, u := agentUpdate(w.srv, machineID())
		return v == "1.1.0" && u["result"] == "healthy" && u["installed"] == "1.1.0"
	}, p.out)

	// 1.2.0 is promoted; 1.1.0 installs it and exits.
	w.promote(t, "1.2.0")
	done := make(chan error, 1)
	go func() { done <- p.cmd.Wait() }()
	select {
	case <-done:
	case <-time.After(90 * time.Second):
		t.Fatalf("1.1.0 did not install 1.2.0\n%s", p.out)
	}
	if !strings.Contains(installedVersion(t, bin), "1.2.0") {
		t.Fatalf("installed %q\n%s", installedVersion(t, bin), p.out)
	}

	// The server goes down: 1.2.0 cannot heartbeat, so it never confirms.
	// The operator rolls the channel back meanwhile.
	w.srv.Stop()
	p = start(t, []string{"SLIPWAY_CONFIG_DIR=" + dir}, bin, "run")
	time.Sleep(3 * time.Second) // past the 2 s health deadline
	p.stop(t)
	code, logs = runUntilExit(t, bin, dir)
	if code != 3 || !strings.Contains(installedVersion(t, bin), "1.1.0") {
		t.Fatalf("rollback: exit %d, installed %q\n%s", code, installedVersion(t, bin), logs)
	}
	w.promote(t, "1.1.0")
	w.srv.Restart()

	// 1.1.0 is back and reports the rollback of 1.2.0.
	p = start(t, []string{"SLIPWAY_CONFIG_DIR=" + dir}, bin, "run")
	eventually(t, "rollback reported", func() bool {
		v, u := agentUpdate(w.srv, machineID())
		return v == "1.1.0" && u["result"] == "rolled-back" && u["available"] == "1.2.0"
	}, p.out)
	p.stop(t)
}
