package main

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/slipwayhq/slipway/internal/testenv"
)

// buildBinaries builds slipway-agent and the slipway server CLI once.
func buildBinaries(t *testing.T) (agent, slipway string) {
	t.Helper()
	dir := t.TempDir()
	agent, slipway = filepath.Join(dir, "slipway-agent"), filepath.Join(dir, "slipway")
	for out, pkg := range map[string]string{agent: "./agent", slipway: "./cmd/slipway"} {
		cmd := exec.Command("go", "build", "-ldflags", "-X main.version=1.0.0 -X main.commit=test", "-o", out, pkg)
		cmd.Dir = ".."
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if b, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("build %s: %v\n%s", pkg, err, b)
		}
	}
	return agent, slipway
}

// proc is a running child process with captured output.
type proc struct {
	cmd *exec.Cmd
	out *testenv.SyncBuffer
}

func start(t *testing.T, env []string, bin string, args ...string) *proc {
	t.Helper()
	p := &proc{cmd: exec.Command(bin, args...), out: &testenv.SyncBuffer{}}
	p.cmd.Env = append(os.Environ(), env...)
	p.cmd.Stdout, p.cmd.Stderr = p.out, p.out
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.cmd.Process.Kill(); _, _ = p.cmd.Process.Wait() })
	return p
}

// stop sends SIGTERM and waits for a clean exit.
func (p *proc) stop(t *testing.T) {
	t.Helper()
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan error, 1)
	go func() { done <- p.cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("%s exited with %v\n%s", filepath.Base(p.cmd.Path), err, p.out)
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("%s did not stop\n%s", filepath.Base(p.cmd.Path), p.out)
	}
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

func admin(t *testing.T, base, token, method, path string) map[string]any {
	t.Helper()
	req, _ := http.NewRequest(method, base+"/api/admin"+path, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var m map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&m)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("%s %s: %d %v", method, path, resp.StatusCode, m)
	}
	return m
}

func heartbeats(t *testing.T, base, token, id string) int {
	hbs, _ := admin(t, base, token, http.MethodGet, "/machines/"+id)["recentHeartbeats"].([]any)
	n := 0
	for _, h := range hbs {
		if m, _ := h.(map[string]any); m["status"] == "ok" {
			n++
		}
	}
	return n
}

// eventually polls cond (generous deadline: the machine is shared).
func eventually(t *testing.T, what string, cond func() bool, logs fmt.Stringer) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s\nagent log:\n%s", what, logs)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// TestBinaryAgainstServerBinary runs the built slipway-agent against the
// built `slipway server`: enroll, heartbeats, server down and back, token
// revoked by an admin → automatic re-enrollment, clean stop.
func TestBinaryAgainstServerBinary(t *testing.T) {
	if testing.Short() || runtime.GOOS == "windows" {
		t.Skip("builds two binaries and runs them for a while")
	}
	agentBin, slipwayBin := buildBinaries(t)
	addr, data, cfgDir := freeAddr(t), t.TempDir(), t.TempDir()
	base := "http://" + addr
	serverEnv := []string{"SLIPWAY_HEARTBEAT_INTERVAL=1s"}
	srv := start(t, serverEnv, slipwayBin, "server", "--addr", addr, "--data", data)
	eventually(t, "server ready", func() bool {
		resp, err := http.Get(base + "/healthz")
		if err == nil {
			resp.Body.Close()
		}
		return err == nil && resp.StatusCode == 200
	}, srv.out)
	read := func(name string) string {
		b, err := os.ReadFile(filepath.Join(data, name))
		if err != nil {
			t.Fatal(err)
		}
		return strings.TrimSpace(string(b))
	}
	secret, adminToken := read("provisioning-secret"), read("admin-token")
	agentEnv := []string{"SLIPWAY_CONFIG_DIR=" + cfgDir}

	enroll := exec.Command(agentBin, "enroll", "--server", base)
	enroll.Env = append(os.Environ(), append(agentEnv, "SLIPWAY_PROVISIONING_SECRET="+secret)...)
	out, err := enroll.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "enrolled as machine") {
		t.Fatalf("enroll: %v\n%s", err, out)
	}
	if strings.Contains(string(out), secret) {
		t.Fatal("enroll printed the provisioning secret")
	}
	var st struct{ MachineID, MachineToken string }
	b, _ := os.ReadFile(filepath.Join(cfgDir, "machine.json"))
	if err := json.Unmarshal(b, &st); err != nil || st.MachineID == "" {
		t.Fatalf("machine.json: %v %s", err, b)
	}

	agent := start(t, append(agentEnv, "SLIPWAY_PROVISIONING_SECRET="+secret), agentBin, "run")
	eventually(t, "two heartbeats", func() bool { return heartbeats(t, base, adminToken, st.MachineID) >= 2 }, agent.out)
	if v := admin(t, base, adminToken, http.MethodGet, "/machines/"+st.MachineID)["agentVersion"]; v != "1.0.0" {
		t.Errorf("agentVersion %v", v)
	}

	srv.stop(t)
	eventually(t, "the agent to notice the outage", func() bool {
		return strings.Contains(agent.out.String(), "heartbeat failed")
	}, agent.out)
	srv = start(t, serverEnv, slipwayBin, "server", "--addr", addr, "--data", data)
	n := 0
	eventually(t, "heartbeats after the restart", func() bool {
		resp, err := http.Get(base + "/healthz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		n = heartbeats(t, base, adminToken, st.MachineID)
		return strings.Contains(agent.out.String(), "server reachable again")
	}, agent.out)

	admin(t, base, adminToken, http.MethodPost, "/machines/"+st.MachineID+"/token/revoke")
	eventually(t, "re-enrollment and new heartbeats", func() bool {
		return strings.Contains(agent.out.String(), "re-enrolling") && heartbeats(t, base, adminToken, st.MachineID) > n
	}, agent.out)
	b, _ = os.ReadFile(filepath.Join(cfgDir, "machine.json"))
	var st2 struct{ MachineID, MachineToken string }
	_ = json.Unmarshal(b, &st2)
	if st2.MachineID != st.MachineID || st2.MachineToken == st.MachineToken {
		t.Fatalf("after re-enrollment: machine %s → %s, token changed=%v", st.MachineID, st2.MachineID, st2.MachineToken != st.MachineToken)
	}
	logs := agent.out.String()
	for _, s := range []string{secret, st.MachineToken, st2.MachineToken} {
		if strings.Contains(logs, s) {
			t.Fatal("a secret or token appeared in the agent log")
		}
	}
	agent.stop(t)
	srv.stop(t)
}
