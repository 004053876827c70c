package server_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/slipwayhq/slipway/internal/testenv"
	"github.com/slipwayhq/slipway/server"
)

// TestDocsCurlExamples runs the curl examples of docs/server.md, as written,
// against server.Run (the code behind `slipway server`).
func TestDocsCurlExamples(t *testing.T) {
	curl := testenv.Tool(t, "curl", "apt-get install curl")
	bash := testenv.Tool(t, "bash", "apt-get install bash")
	doc, err := os.ReadFile("../docs/server.md")
	if err != nil {
		t.Fatal(err)
	}
	section := string(doc)
	section = section[strings.Index(section, "<!-- curl-examples:start -->"):strings.Index(section, "<!-- curl-examples:end -->")]
	var script strings.Builder
	for _, m := range regexp.MustCompile("(?s)```sh\n(.*?)```").FindAllStringSubmatch(section, -1) {
		script.WriteString(m[1])
	}
	if !strings.Contains(script.String(), "/api/admin/machines") {
		t.Fatal("curl examples not found in docs/server.md")
	}

	dir := t.TempDir()
	ctx, cancel := context.WithCancel(t.Context())
	ready := make(chan server.Info, 1)
	done := make(chan error, 1)
	go func() {
		done <- server.Run(ctx, server.Config{Addr: "127.0.0.1:0", DataDir: filepath.Join(dir, "data"),
			PortalURL: "https://portal.example.com/"}, server.RunOptions{Ready: func(i server.Info) { ready <- i }})
	}()
	var info server.Info
	select {
	case info = <-ready:
	case err := <-done:
		t.Fatal(err)
	case <-time.After(30 * time.Second):
		t.Fatal("server did not start")
	}
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	}()
	for _, f := range []string{info.Bootstrap.AdminTokenFile, info.Bootstrap.ProvisioningSecretFile} {
		if st, err := os.Stat(f); err != nil || st.Mode().Perm() != 0o600 {
			t.Fatalf("%s: %v %v", f, st.Mode(), err)
		}
	}
	s := strings.Replace(script.String(), "SLIPWAY=http://127.0.0.1:8080", "SLIPWAY="+info.URL, 1)
	cmd := exec.CommandContext(ctx, bash, "-euo", "pipefail", "-c", s)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "PATH="+filepath.Dir(curl)+":"+os.Getenv("PATH"))
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("examples failed: %v\n%s", err, out)
	}
	for _, want := range []string{`"machineToken": "swm_`, `"heartbeatIntervalSeconds"`, `"keys"`, `"name": "laptop-42"`,
		"HTTP/1.1 302", "Location: https://portal.example.com/", "Set-Cookie: slipway_session=",
		`"matchedBy": "serial"`, `"matchedBy": "created"`, `"hostname": "laptop-42"`,
		`"revoked": 1`, `"action": "revoke-token"`, `"softwareNeeded":true`, `"stored": 2`,
		`"version": "115.12.0esr-1~deb12u1"`, `"total": 1`, `"name": "curl"`} {
		if !strings.Contains(string(out), want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}
