package release

import (
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/slipwayhq/slipway/internal/testenv"
)

// TestDebInstallUpgradeRemove installs the agent .deb with the real dpkg
// into a throw-away root, upgrades it to a later version, removes it and
// purges it, checking the files and the maintainer scripts' effects at each
// step. dpkg runs the scripts without chroot (--force-script-chrootless,
// DPKG_ROOT set), which the scripts honour. The systemd side (enable,
// restart) needs a real systemd and is not exercised here.
func TestDebInstallUpgradeRemove(t *testing.T) {
	sharedBuild(t)
	testenv.Tool(t, "dpkg", "apt-get install dpkg")
	testenv.Tool(t, "dpkg-deb", "apt-get install dpkg")
	if os.Geteuid() != 0 {
		testenv.Missing(t, "dpkg --root needs root to set file owners")
	}
	var deb string
	for _, a := range distPackages(t)["deb"] {
		if a.Extra.ID == "agent" && a.Goarch == runtime.GOARCH {
			deb = filepath.Join(shared.dist, a.Name)
		}
	}
	if deb == "" {
		t.Fatalf("no agent .deb for %s", runtime.GOARCH)
	}
	root := t.TempDir()
	for _, d := range []string{"var/lib/dpkg/info", "var/lib/dpkg/updates", "var/lib/dpkg/triggers"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(root, "var/lib/dpkg/status"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	dpkg := func(args ...string) {
		t.Helper()
		cmd := exec.Command("dpkg", append([]string{"--root=" + root, "--force-script-chrootless", "--force-not-root", "--log=/dev/null"}, args...)...)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("dpkg %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	at := func(p string) string { return filepath.Join(root, p) }

	t.Run("install", func(t *testing.T) {
		dpkg("-i", deb)
		out, err := exec.Command(at("usr/bin/slipway-agent"), "version").Output()
		if err != nil || !strings.Contains(string(out), shared.report.Version) {
			t.Fatalf("installed agent version: %q %v", out, err)
		}
		unit, err := os.ReadFile(at("usr/lib/systemd/system/slipway-agent.service"))
		if err != nil {
			t.Fatal(err)
		}
		for _, want := range []string{"ExecStart=/usr/bin/slipway-agent run", "Restart=on-failure", "ProtectSystem=strict",
			"NoNewPrivileges=yes", "ReadWritePaths=/etc/slipway", "EnvironmentFile=-/etc/slipway/agent.env"} {
			if !strings.Contains(string(unit), want+"\n") {
				t.Errorf("unit lacks %q", want)
			}
		}
		if st, err := os.Stat(at("etc/slipway")); err != nil || st.Mode().Perm() != 0o700 {
			t.Fatalf("/etc/slipway: %v %v", st, err)
		}
		// What an MDM drops: kept across upgrade and removal.
		if err := os.WriteFile(at("etc/slipway/agent.env"), []byte("SLIPWAY_SERVER=https://slipway.example\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("upgrade", func(t *testing.T) {
		next := rebuildDeb(t, deb, strings.Replace(shared.report.Version, "-", "~", 1), "9.9.9")
		dpkg("-i", next)
		status := readStatus(t, root)
		if !strings.Contains(status, "Version: 9.9.9\n") || !strings.Contains(status, "Status: install ok installed\n") {
			t.Fatalf("status after upgrade:\n%s", status)
		}
		if st, err := os.Stat(at("etc/slipway/agent.env")); err != nil || st.Mode().Perm() != 0o600 {
			t.Fatalf("agent.env after upgrade (postinst makes it 0600): %v %v", st, err)
		}
	})
	t.Run("remove keeps the configuration", func(t *testing.T) {
		dpkg("-r", "slipway-agent")
		for _, gone := range []string{"usr/bin/slipway-agent", "usr/lib/systemd/system/slipway-agent.service", "usr/lib/slipway/agent.package-managed"} {
			if _, err := os.Stat(at(gone)); !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("%s still there after dpkg -r: %v", gone, err)
			}
		}
		if _, err := os.Stat(at("etc/slipway/agent.env")); err != nil {
			t.Errorf("agent.env removed by dpkg -r: %v", err)
		}
	})
	t.Run("reinstall and purge", func(t *testing.T) {
		dpkg("-i", deb)
		if _, err := os.Stat(at("etc/slipway/.package-removed")); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("removal marker left after reinstall: %v", err)
		}
		dpkg("-P", "slipway-agent")
		if _, err := os.Stat(at("etc/slipway")); !errors.Is(err, fs.ErrNotExist) {
			entries, _ := os.ReadDir(at("etc/slipway"))
			t.Errorf("/etc/slipway left after purge: %v %v", err, entries)
		}
		if status := readStatus(t, root); strings.Contains(status, "Package: slipway-agent\n") {
			t.Errorf("package still known after purge:\n%s", status)
		}
	})
}

// rebuildDeb unpacks a .deb with dpkg-deb -R, sets its version and packs it
// again: a later version of the same package, to upgrade to.
func rebuildDeb(t *testing.T, deb, from, to string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "pkg")
	cmdOut(t, "dpkg-deb", "-R", deb, dir)
	control := filepath.Join(dir, "DEBIAN", "control")
	b, err := os.ReadFile(control)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), "Version: "+from+"\n") {
		t.Fatalf("control has no Version %s:\n%s", from, b)
	}
	if err := os.WriteFile(control, []byte(strings.Replace(string(b), "Version: "+from+"\n", "Version: "+to+"\n", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(filepath.Dir(dir), "next.deb")
	cmdOut(t, "dpkg-deb", "--root-owner-group", "-Zgzip", "-z1", "-b", dir, out)
	return out
}

func readStatus(t *testing.T, root string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(root, "var/lib/dpkg/status"))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
