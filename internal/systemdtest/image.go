package systemdtest

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// readyFile marks a complete cached root (written last, inside the root's
// parent so an interrupted build is never taken for a complete one).
const readyFile = ".complete"

// Image returns the cached container root, building it when the cache is
// empty: debootstrap into a temporary directory next to the cache, then a
// rename. Concurrent callers (test binaries of several packages run in
// parallel) serialise on a lock file; the one that builds it, the others
// wait and reuse it. A cold build downloads about 100 MB from the Debian
// mirror and takes about 4 minutes.
func Image(ctx context.Context) (string, error) {
	dir := CacheDir()
	root := filepath.Join(dir, imageName)
	if ready(dir) {
		return root, nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	lock, err := os.OpenFile(filepath.Join(dir, ".lock"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return "", err
	}
	defer lock.Close()
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		return "", fmt.Errorf("lock %s: %w", lock.Name(), err)
	}
	defer func() { _ = syscall.Flock(int(lock.Fd()), syscall.LOCK_UN) }()
	if ready(dir) { // built by another process while we waited
		return root, nil
	}
	if _, err := exec.LookPath("debootstrap"); err != nil {
		return "", fmt.Errorf("the container root is not cached in %s and debootstrap is missing (scripts/tools.sh apt): %w", dir, err)
	}
	if err := build(ctx, dir, root); err != nil {
		return "", err
	}
	return root, nil
}

func ready(dir string) bool {
	b, err := os.ReadFile(filepath.Join(dir, imageName+readyFile))
	return err == nil && strings.TrimSpace(string(b)) == imageName
}

// build runs debootstrap into a temporary directory and moves it in place.
func build(ctx context.Context, dir, root string) error {
	tmp, err := os.MkdirTemp(dir, imageName+".building-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp) // no-op after the rename
	ctx, cancel := context.WithTimeout(ctx, 30*time.Minute)
	defer cancel()
	start := time.Now()
	cmd := exec.CommandContext(ctx, "debootstrap", "--variant=minbase", "--include=systemd,systemd-sysv,dbus",
		Suite, tmp, Mirror())
	out, err := cmd.CombinedOutput()
	if err != nil {
		tail := string(out)
		if len(tail) > 4000 {
			tail = tail[len(tail)-4000:]
		}
		return fmt.Errorf("debootstrap %s into %s: %w\n%s", Suite, tmp, err, tail)
	}
	if err := prepare(tmp); err != nil {
		return err
	}
	_ = os.RemoveAll(root) // a stale root without its ready marker
	if err := os.Rename(tmp, root); err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "systemdtest: built the %s container root in %s (cached in %s)\n", Suite, time.Since(start).Round(time.Second), root)
	return os.WriteFile(filepath.Join(dir, imageName+readyFile), []byte(imageName+"\n"), 0o644)
}

// prepare trims the fresh root: no downloaded .debs, a fixed hostname and
// no units that only slow the boot of a throw-away container.
func prepare(root string) error {
	debs, _ := filepath.Glob(filepath.Join(root, "var/cache/apt/archives/*.deb"))
	for _, d := range debs {
		if err := os.Remove(d); err != nil {
			return err
		}
	}
	if err := os.WriteFile(filepath.Join(root, "etc/hostname"), []byte("slipway-test\n"), 0o644); err != nil {
		return err
	}
	// Each boot gets its own transient machine ID.
	if err := os.WriteFile(filepath.Join(root, "etc/machine-id"), nil, 0o444); err != nil {
		return err
	}
	for _, unit := range []string{"apt-daily.timer", "apt-daily-upgrade.timer", "e2scrub_all.timer", "fstrim.timer"} {
		link := filepath.Join(root, "etc/systemd/system", unit)
		_ = os.Remove(link)
		if err := os.Symlink("/dev/null", link); err != nil {
			return err
		}
	}
	return nil
}
