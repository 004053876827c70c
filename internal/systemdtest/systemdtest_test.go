package systemdtest

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestBoot boots a container and checks what the tests built on it rely
// on: PID 1 is systemd, files written under Root are seen inside, writes
// never reach the cached root, the host's loopback is shared, and systemd
// restarts a failing unit and counts it in NRestarts.
func TestBoot(t *testing.T) {
	c := Boot(t)
	if comm, _ := os.ReadFile(filepath.Join("/proc", strconv.Itoa(c.PID), "comm")); strings.TrimSpace(string(comm)) != "systemd" {
		t.Fatalf("PID %d is %q, want systemd", c.PID, comm)
	}
	if got := strings.TrimSpace(c.Must("sh", "-c", "echo $$; cat /proc/1/comm")); !strings.HasSuffix(got, "\nsystemd") {
		t.Fatalf("inside the container: %q", got)
	}

	c.WriteFile("/root/hello", []byte("from the host\n"), 0o644)
	if got := c.Must("cat", "/root/hello"); got != "from the host\n" {
		t.Fatalf("cat /root/hello = %q", got)
	}
	c.Must("sh", "-c", "echo inside > /etc/slipway-test-marker")
	image, err := Image(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(image, "etc/slipway-test-marker")); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("a write inside the container reached the cached root: %v", err)
	}
	if _, err := os.Stat(c.Path("/etc/slipway-test-marker")); err != nil {
		t.Fatalf("the container's write is not in its overlay: %v", err)
	}

	// A unit that always fails: systemd restarts it until its start limit.
	c.WriteFile("/etc/systemd/system/flaky.service", []byte(`[Unit]
StartLimitIntervalSec=60
StartLimitBurst=3
[Service]
ExecStart=/bin/sh -c 'echo flaky-run; exit 7'
Restart=on-failure
RestartSec=100ms
`), 0o644)
	c.Must("systemctl", "daemon-reload")
	_, _ = c.Run("systemctl", "start", "flaky.service")
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(c.Journal("flaky.service"), "Start request repeated too quickly") {
		if time.Now().After(deadline) {
			t.Fatalf("flaky.service never hit its start limit:\n%s", c.Journal("flaky.service"))
		}
		time.Sleep(100 * time.Millisecond)
	}
	if st := c.Show("flaky.service", "ActiveState"); st != "failed" {
		t.Errorf("ActiveState = %s, want failed", st)
	}
	// systemd 252 counts the third scheduled restart, which the start
	// limit then refuses: 3 runs, NRestarts 3.
	if n := c.Show("flaky.service", "NRestarts"); n != "3" {
		t.Errorf("NRestarts = %s, want 3", n)
	}
	if n := strings.Count(c.Journal("flaky.service"), "flaky-run"); n != 3 {
		t.Errorf("journal shows %d runs, want 3:\n%s", n, c.Journal("flaky.service"))
	}
}
