// Package systemdtest boots a real systemd in a container for tests that
// must see what systemd does with a unit: restarts, exit codes, package
// maintainer scripts that call systemctl, the journal.
//
// The container is a Debian bookworm root built once with
// `debootstrap --variant=minbase --include=systemd,systemd-sysv,dbus` and
// cached under $SLIPWAY_CACHE (default $HOME/.cache/slipway)/systemd; each
// test boots its own overlay of it (its writes land in the test's temporary
// directory, never in the cache) with
// `systemd-nspawn --boot --register=no --keep-unit --console=read-only`,
// and runs commands inside with `nsenter -t <container PID 1> -a`.
// The container shares the host's network: a server the test starts on
// 127.0.0.1 is reachable from inside.
//
// Tools: systemd-nspawn (Debian's systemd-container), debootstrap (only to
// build the cache), nsenter and mount (util-linux), root. scripts/tools.sh
// installs them. Missing, the tests skip locally and fail when CI=true.
package systemdtest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/slipwayhq/slipway/internal/testenv"
)

// Suite is the Debian release of the container.
const Suite = "bookworm"

// imageName names the cached root; change its version when the way the
// root is built changes, so stale caches are not used.
const imageName = Suite + "-minbase-v1"

// Mirror is the Debian mirror debootstrap uses (env SLIPWAY_DEBIAN_MIRROR).
func Mirror() string {
	if m := os.Getenv("SLIPWAY_DEBIAN_MIRROR"); m != "" {
		return m
	}
	return "http://deb.debian.org/debian"
}

// CacheDir is where the root is cached.
func CacheDir() string { return filepath.Join(filepath.Dir(testenv.CacheBin()), "systemd") }

// Container is a booted systemd container.
type Container struct {
	// Root is the container's root directory seen from the host: files
	// written under it appear in the container (outside /tmp and /run,
	// which are fresh tmpfs inside).
	Root string
	// PID is the host PID of the container's PID 1 (systemd).
	PID int

	t       testing.TB
	nspawn  *exec.Cmd
	exited  chan struct{}
	console *testenv.SyncBuffer
}

// requireTools skips (locally) or fails (CI) when a tool or root is missing.
func requireTools(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		testenv.Missing(t, "systemd containers need root")
	}
	testenv.Tool(t, "systemd-nspawn", "scripts/tools.sh apt (Debian's systemd-container)")
	testenv.Tool(t, "nsenter", "apt-get install util-linux")
	testenv.Tool(t, "mount", "apt-get install mount")
}

// Boot starts a fresh container from the cached root (building the cache
// first when it is empty) and waits until its systemd is up. The container
// is powered off and its overlay removed when the test ends.
func Boot(t testing.TB) *Container {
	t.Helper()
	requireTools(t)
	image, err := Image(t.Context())
	if err != nil {
		t.Fatalf("systemd container image: %v", err)
	}
	dir := t.TempDir()
	c := &Container{Root: filepath.Join(dir, "root"), t: t, exited: make(chan struct{}), console: &testenv.SyncBuffer{}}
	if err := overlay(image, dir); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unmount(t, c.Root) })
	name := "slipway-" + strconv.Itoa(os.Getpid()) + "-" + strconv.FormatInt(time.Now().UnixNano()%1e6, 10)
	c.nspawn = exec.Command("systemd-nspawn", "-D", c.Root, "-M", name, "--boot", "--register=no",
		"--keep-unit", "--console=read-only")
	c.nspawn.Stdout, c.nspawn.Stderr = c.console, c.console
	if err := c.nspawn.Start(); err != nil {
		t.Fatalf("systemd-nspawn: %v", err)
	}
	go func() { _ = c.nspawn.Wait(); close(c.exited) }()
	t.Cleanup(c.stop)
	if err := c.waitPID1(30 * time.Second); err != nil {
		t.Fatalf("%v\nconsole:\n%s", err, c.console)
	}
	if err := c.waitRunning(60 * time.Second); err != nil {
		t.Fatalf("%v\nconsole:\n%s", err, c.console)
	}
	return c
}

// overlay mounts image (read-only lower layer) with an upper layer in dir
// at dir/root: the cache stays untouched and each test has its own root.
func overlay(image, dir string) error {
	for _, d := range []string{"upper", "work", "root"} {
		if err := os.Mkdir(filepath.Join(dir, d), 0o755); err != nil {
			return err
		}
	}
	opts := "lowerdir=" + image + ",upperdir=" + filepath.Join(dir, "upper") + ",workdir=" + filepath.Join(dir, "work")
	if out, err := exec.Command("mount", "-t", "overlay", "overlay", "-o", opts, filepath.Join(dir, "root")).CombinedOutput(); err != nil {
		return fmt.Errorf("overlay mount of the container root: %v: %s", err, out)
	}
	return nil
}

func unmount(t testing.TB, root string) {
	if out, err := exec.Command("umount", root).CombinedOutput(); err != nil {
		// Still busy (a process the container left): detach it so the
		// temporary directory can go; the kernel frees it when unused.
		if out2, err2 := exec.Command("umount", "-l", root).CombinedOutput(); err2 != nil {
			t.Errorf("umount %s: %v %s; %v %s", root, err, out, err2, out2)
		}
	}
}

// waitPID1 finds the container's PID 1: the child of systemd-nspawn named
// systemd.
func (c *Container) waitPID1(limit time.Duration) error {
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) {
		select {
		case <-c.exited:
			return errors.New("systemd-nspawn exited before the container booted")
		default:
		}
		if pid := childNamed(c.nspawn.Process.Pid, "systemd"); pid > 0 {
			c.PID = pid
			return nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("no systemd child of systemd-nspawn (pid %d) after %s", c.nspawn.Process.Pid, limit)
}

// childNamed returns the PID of a child of parent whose command is name.
func childNamed(parent int, name string) int {
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		// pid (comm) state ppid ...: comm may hold spaces, so split at the last ')'.
		s := string(b)
		open, end := strings.IndexByte(s, '('), strings.LastIndexByte(s, ')')
		if open < 0 || end < open {
			continue
		}
		f := strings.Fields(s[end+1:])
		if len(f) < 2 || s[open+1:end] != name {
			continue
		}
		if ppid, _ := strconv.Atoi(f[1]); ppid == parent {
			return pid
		}
	}
	return 0
}

// waitRunning waits until `systemctl is-system-running` says running or
// degraded (a unit that failed in the minimal root is not our concern).
func (c *Container) waitRunning(limit time.Duration) error {
	deadline := time.Now().Add(limit)
	var state string
	for time.Now().Before(deadline) {
		out, _ := c.Run("systemctl", "is-system-running")
		state = strings.TrimSpace(out)
		if state == "running" || state == "degraded" {
			return nil
		}
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("container systemd not up after %s: is-system-running = %q", limit, state)
}

// Run runs a command inside the container (all its namespaces) and returns
// its combined output. It gives up after two minutes.
func (c *Container) Run(args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "nsenter", append([]string{"-t", strconv.Itoa(c.PID), "-a"}, args...)...)
	cmd.Env = []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "LANG=C.UTF-8", "HOME=/root",
		"SYSTEMD_PAGER=", "SYSTEMD_COLORS=0"}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	if err != nil {
		err = fmt.Errorf("in container: %s: %w", strings.Join(args, " "), err)
	}
	return out.String(), err
}

// Must runs a command inside the container and fails the test if it fails.
func (c *Container) Must(args ...string) string {
	c.t.Helper()
	out, err := c.Run(args...)
	if err != nil {
		c.t.Fatalf("%v\n%s", err, out)
	}
	return out
}

// Sh runs a shell script inside the container (minbase has no /bin/kill:
// `sh -c 'kill -9 …'` uses the shell's builtin).
func (c *Container) Sh(script string) (string, error) { return c.Run("sh", "-c", script) }

// WriteFile writes a file into the container at path (absolute, inside),
// creating its directory.
func (c *Container) WriteFile(path string, data []byte, mode os.FileMode) {
	c.t.Helper()
	p := c.Path(path)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		c.t.Fatal(err)
	}
	if err := os.WriteFile(p, data, mode); err != nil {
		c.t.Fatal(err)
	}
}

// Path is the host path of a path inside the container.
func (c *Container) Path(path string) string { return filepath.Join(c.Root, filepath.Clean("/"+path)) }

// Show returns one property of a unit (`systemctl show -p NAME --value`).
func (c *Container) Show(unit, prop string) string {
	c.t.Helper()
	return strings.TrimSpace(c.Must("systemctl", "show", "-p", prop, "--value", unit))
}

// Journal returns a unit's journal for this boot (for failure messages).
func (c *Container) Journal(unit string) string {
	out, _ := c.Run("journalctl", "-b", "--no-pager", "-o", "short-monotonic", "-u", unit)
	return out
}

// Console is what the container printed on its console so far.
func (c *Container) Console() string { return c.console.String() }

// stop powers the container off and waits for systemd-nspawn; if it does
// not stop in time, it kills the container's PID 1 and nspawn (only these
// two PIDs, which this package started).
func (c *Container) stop() {
	if c.PID > 0 {
		_, _ = c.Run("systemctl", "poweroff")
	}
	select {
	case <-c.exited:
		return
	case <-time.After(30 * time.Second):
	}
	c.t.Logf("container did not power off in 30 s; killing it")
	if c.PID > 0 {
		_ = syscall.Kill(c.PID, syscall.SIGKILL)
	}
	_ = c.nspawn.Process.Kill()
	select {
	case <-c.exited:
	case <-time.After(10 * time.Second):
		c.t.Errorf("systemd-nspawn (pid %d) did not exit", c.nspawn.Process.Pid)
	}
}
