// Package packaging holds the tests of the OS integration files the
// packages install (packaging/linux) and of the server's systemd unit
// (deploy/systemd).
package packaging

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/slipwayhq/slipway/internal/testenv"
)

// TestSystemdUnits checks the units with systemd's own tools, offline in a
// throw-away root holding the units, stand-ins for their binaries and the
// system's targets: `systemd-analyze verify` must print nothing (an unknown
// or misspelt key is only a warning there), and `systemd-analyze security`
// must rate the hardening at most the given exposure.
func TestSystemdUnits(t *testing.T) {
	sa := testenv.Tool(t, "systemd-analyze", "apt-get install systemd")
	tests := []struct {
		unit, src, bin string
		maxExposure    float64
	}{
		// The agent runs as root to read the machine's inventory.
		{"slipway-agent.service", "linux/slipway-agent.service", "/usr/bin/slipway-agent", 4.0},
		{"slipway-agent.path", "linux/slipway-agent.path", "", 0},
		{"slipway-server.service", "../deploy/systemd/slipway-server.service", "/usr/local/bin/slipway", 2.0},
	}
	root := t.TempDir()
	units := filepath.Join(root, "usr/lib/systemd/system")
	if err := os.MkdirAll(units, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, glob := range []string{"/lib/systemd/system/*.target", "/lib/systemd/system/*.slice"} {
		matches, _ := filepath.Glob(glob)
		for _, m := range matches {
			copyFile(t, m, filepath.Join(units, filepath.Base(m)), 0o644)
		}
	}
	for _, tc := range tests {
		copyFile(t, tc.src, filepath.Join(units, tc.unit), 0o644)
		if tc.bin != "" {
			copyFile(t, "/bin/true", filepath.Join(root, tc.bin), 0o755)
		}
	}
	for _, tc := range tests {
		t.Run(tc.unit, func(t *testing.T) {
			out, err := exec.Command(sa, "verify", "--man=no", "--root="+root, tc.unit).CombinedOutput()
			if err != nil || len(out) > 0 {
				t.Errorf("systemd-analyze verify: %v\n%s", err, out)
			}
			if tc.maxExposure == 0 {
				return
			}
			out, err = exec.Command(sa, "security", "--offline=yes", "--no-pager", "--root="+root, tc.unit).CombinedOutput()
			if err != nil {
				t.Fatalf("systemd-analyze security: %v\n%s", err, out)
			}
			m := regexp.MustCompile(`Overall exposure level for \S+: ([0-9.]+)`).FindSubmatch(out)
			if m == nil {
				t.Fatalf("no exposure level in:\n%s", out)
			}
			if level, _ := strconv.ParseFloat(string(m[1]), 64); level > tc.maxExposure {
				t.Errorf("exposure %.1f, want at most %.1f:\n%s", level, tc.maxExposure, out)
			}
		})
	}
}

// TestAgentUnitReadsMDMConfig: the agent's unit takes the server URL and
// provisioning secret from the file an MDM drops, with the variable names
// the agent reads, and the example documents both.
func TestAgentUnitReadsMDMConfig(t *testing.T) {
	unit := readFile(t, "linux/slipway-agent.service")
	example := readFile(t, "linux/agent.env.example")
	for _, want := range []string{"EnvironmentFile=-/etc/slipway/agent.env", "ReadWritePaths=/etc/slipway", "Restart=on-failure"} {
		if !strings.Contains(unit, "\n"+want+"\n") {
			t.Errorf("unit lacks %q", want)
		}
	}
	// agent/enroll.EnvServer and EnvSecret (not imported: this package
	// tests files, and the names are the contract).
	for _, v := range []string{"SLIPWAY_SERVER=", "SLIPWAY_PROVISIONING_SECRET="} {
		if !strings.Contains(example, "\n"+v) {
			t.Errorf("agent.env.example lacks %s", v)
		}
	}
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func copyFile(t *testing.T, src, dst string, mode os.FileMode) {
	t.Helper()
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dst, b, mode); err != nil {
		t.Fatal(err)
	}
}
