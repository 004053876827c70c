package main

import (
	"bytes"
	"context"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/slipwayhq/slipway/internal/testenv"
)

// startServerCmd runs `slipway server` in-process until the test ends and
// returns its base URL and output.
func startServerCmd(t *testing.T, args ...string) (string, *testenv.SyncBuffer) {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	cmd := newServerCmd()
	out := &testenv.SyncBuffer{}
	cmd.SetOut(out)
	cmd.SetErr(out)
	cmd.SetArgs(append([]string{"--addr", "127.0.0.1:0"}, args...))
	done := make(chan error, 1)
	go func() { done <- cmd.ExecuteContext(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("server command: %v", err)
		}
	})
	re := regexp.MustCompile(`listening on (http://\S+)`)
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if m := re.FindStringSubmatch(out.String()); m != nil {
			return m[1], out
		}
	}
	t.Fatalf("server did not start:\n%s", out)
	return "", nil
}

func TestServerCommandWritesSecretFilesAndPrintsOnlyPaths(t *testing.T) {
	t.Setenv("MACHINE_PROVISIONING_SECRET", "")
	data := filepath.Join(t.TempDir(), "data")
	url, out := startServerCmd(t, "--data", data)
	for _, name := range []string{"admin-token", "provisioning-secret"} {
		path := filepath.Join(data, name)
		st, err := os.Stat(path)
		if err != nil || st.Mode().Perm() != 0o600 {
			t.Fatalf("%s: %v %v", name, st.Mode(), err)
		}
		value, _ := os.ReadFile(path)
		if !strings.Contains(out.String(), path) {
			t.Errorf("output does not name %s:\n%s", path, out)
		}
		if strings.Contains(out.String(), strings.TrimSpace(string(value))) {
			t.Errorf("output contains the value of %s", name)
		}
	}
	res, err := http.Get(url + "/readyz")
	if err != nil || res.StatusCode != http.StatusOK {
		t.Fatalf("readyz: %v %v", res, err)
	}
	res.Body.Close()
}

func TestServerCommandEnvSecret(t *testing.T) {
	const secret = "my-own-provisioning-secret-123"
	t.Setenv("MACHINE_PROVISIONING_SECRET", secret)
	t.Setenv("MACHINE_TOKEN_TTL_MS", "3600000")
	data := filepath.Join(t.TempDir(), "data")
	url, out := startServerCmd(t, "--data", data)
	if _, err := os.Stat(filepath.Join(data, "provisioning-secret")); !os.IsNotExist(err) {
		t.Fatalf("provisioning-secret written although MACHINE_PROVISIONING_SECRET is set: %v", err)
	}
	body := `{"provisioningSecret": "` + secret + `", "hostname": "h", "os": {"name": "linux"}}`
	res, err := http.Post(url+"/api/machines/register", "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var b bytes.Buffer
	_, _ = b.ReadFrom(res.Body)
	if res.StatusCode != http.StatusCreated {
		t.Fatalf("register with the env secret: %d %s", res.StatusCode, b.String())
	}
	// One hour TTL from MACHINE_TOKEN_TTL_MS.
	m := regexp.MustCompile(`"expiresAt": "([^"]+)"`).FindStringSubmatch(b.String())
	exp, err := time.Parse(time.RFC3339Nano, m[1])
	if err != nil || time.Until(exp) > time.Hour || time.Until(exp) < 50*time.Minute {
		t.Fatalf("expiresAt %v (%v)", exp, err)
	}
	if strings.Contains(out.String(), secret) {
		t.Fatal("the env secret was printed")
	}
}

func TestServerCommandRejectsBadEnv(t *testing.T) {
	t.Setenv("MACHINE_TOKEN_TTL_MS", "soon")
	cmd := newServerCmd()
	cmd.SetArgs([]string{"--addr", "127.0.0.1:0", "--data", t.TempDir()})
	cmd.SetOut(&bytes.Buffer{})
	if err := cmd.ExecuteContext(t.Context()); err == nil || !strings.Contains(err.Error(), "MACHINE_TOKEN_TTL_MS") {
		t.Fatalf("err = %v", err)
	}
}

// TestServerStartsWithReleaseStoreDown: `slipway server` used to refuse
// to start while the release store was unreachable (endpoint.New failed
// in Reload), taking the machine and admin APIs down with it. Now it
// serves them, answers 503 + Retry-After on update routes, and says why.
func TestServerStartsWithReleaseStoreDown(t *testing.T) {
	t.Setenv("MACHINE_PROVISIONING_SECRET", "")
	t.Setenv("AWS_ACCESS_KEY_ID", "test")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "test-secret")
	// Nothing listens on port 1 of the loopback address.
	t.Setenv("SLIPWAY_STORE", "s3://releases?endpoint=127.0.0.1:1&path-style=true&insecure=true")
	url, out := startServerCmd(t, "--data", filepath.Join(t.TempDir(), "data"))
	res, err := http.Get(url + "/readyz")
	if err != nil || res.StatusCode != http.StatusOK {
		t.Fatalf("readyz with the release store down: %v %v", res, err)
	}
	res.Body.Close()
	res, err = http.Get(url + "/v1/updates/agent/stable?os=linux&arch=amd64&current=1.0.0")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusServiceUnavailable || res.Header.Get("Retry-After") == "" {
		t.Fatalf("update check with the release store down: %d Retry-After %q", res.StatusCode, res.Header.Get("Retry-After"))
	}
	for _, want := range []string{"release store unreachable", "no TUF online key"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("log does not say %q:\n%s", want, out)
		}
	}
}
