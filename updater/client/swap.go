package client

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"
)

// PreviousSuffix names the kept previous binary (or .app bundle).
const PreviousSuffix = ".previous"

// SwapTarget is what gets replaced for an installed binary: the binary
// itself, or on macOS the enclosing .app bundle when the binary lives in
// <X>.app/Contents/MacOS/ (a bundle is replaced as a whole, never file by
// file, so its code signature stays valid).
func SwapTarget(bin string) string {
	dir := filepath.Dir(bin)
	if filepath.Base(dir) == "MacOS" && filepath.Base(filepath.Dir(dir)) == "Contents" {
		if app := filepath.Dir(filepath.Dir(dir)); strings.HasSuffix(app, ".app") {
			return app
		}
	}
	return bin
}

// swap installs newPath at bin and keeps the old binary at
// bin+PreviousSuffix. The order works on every OS:
//
//   - Unix: the old file is hard-linked to .previous, then the new file is
//     renamed over bin: rename(2) is atomic, so bin always exists and a
//     running process keeps its (unlinked) inode.
//   - Windows: a running .exe cannot be overwritten or deleted but can be
//     renamed, so bin is renamed to .previous first, then the new file
//     renamed to bin (MoveFileEx semantics of os.Rename). If the second
//     rename fails the first is undone.
//
// Directories (.app bundles) always take the rename-first path.
func swap(bin, newPath string, renameFirst bool) (string, error) {
	prev := bin + PreviousSuffix
	if err := os.RemoveAll(prev); err != nil {
		return "", fmt.Errorf("remove old %s: %w", prev, err)
	}
	if !renameFirst {
		if err := os.Link(bin, prev); err != nil {
			if err := copyFile(bin, prev); err != nil {
				return "", fmt.Errorf("keep previous binary: %w", err)
			}
		}
		if err := os.Rename(newPath, bin); err != nil {
			os.Remove(prev)
			return "", fmt.Errorf("install new binary: %w", err)
		}
		return prev, nil
	}
	if err := os.Rename(bin, prev); err != nil {
		return "", fmt.Errorf("move running binary aside: %w", err)
	}
	if err := os.Rename(newPath, bin); err != nil {
		if rerr := os.Rename(prev, bin); rerr != nil {
			return "", fmt.Errorf("%w: %w (after install failed: %w)", ErrRollbackFailed, rerr, err)
		}
		return "", fmt.Errorf("install new binary: %w", err)
	}
	return prev, nil
}

func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	st, err := in.Stat()
	if err != nil {
		return err
	}
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, st.Mode().Perm())
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// renameFirst reports whether the swap must move the old file aside
// before moving the new one in (Windows, and directories everywhere).
func renameFirst(target string) bool {
	if runtime.GOOS == "windows" {
		return true
	}
	st, err := os.Stat(target)
	return err == nil && st.IsDir()
}

// Rollback restores bin+PreviousSuffix at bin (bin may be an .app
// bundle). A failure is ErrRollbackFailed: the machine needs attention.
func Rollback(bin string) error {
	prev := bin + PreviousSuffix
	if _, err := os.Stat(prev); err != nil {
		return fmt.Errorf("%w: %w", ErrRollbackFailed, err)
	}
	if renameFirst(bin) {
		failed := bin + ".failed"
		os.RemoveAll(failed)
		if err := os.Rename(bin, failed); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("%w: %w", ErrRollbackFailed, err)
		}
	}
	if err := os.Rename(prev, bin); err != nil {
		return fmt.Errorf("%w: %w", ErrRollbackFailed, err)
	}
	return nil
}

// pending is the health state written after a swap.
type pending struct {
	From     string    `json:"from"`
	To       string    `json:"to"`
	Binary   string    `json:"binary"`
	Deadline time.Time `json:"deadline"`
	// Window is HealthDeadline: the first start moves Deadline to its
	// own time plus Window, so a service manager's restart delay does
	// not eat into the new version's time to confirm.
	Window time.Duration `json:"window,omitempty"`
	// Starts counts Startup calls while pending (crash loops).
	Starts int `json:"starts"`
	// Crashes counts the service manager's reports of the new version
	// exiting abnormally (RecordCrash), which a version that dies before
	// its Startup cannot count itself.
	Crashes int `json:"crashes,omitempty"`
}

const (
	pendingFile = "pending-update.json"
	failureFile = "last-update-failure.json"
	// MaxStarts is how many starts a new version gets to confirm health.
	MaxStarts = 3
)

func writePending(stateDir string, p pending) error {
	return writeJSONFile(filepath.Join(stateDir, pendingFile), p)
}

func writeJSONFile(path string, v any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// Failure is a rolled-back update, for the next heartbeat.
type Failure struct {
	From   string    `json:"from"`
	To     string    `json:"to"`
	Reason string    `json:"reason"`
	At     time.Time `json:"at"`
}

// Startup must be the first thing an updated program does. While an
// update is pending, it counts starts; once the health deadline has
// passed or the new version has started MaxStarts times without calling
// ConfirmHealthy, it restores the previous binary and returns an error
// wrapping ErrUnhealthy (the caller exits so its supervisor starts the
// restored binary). It returns nil when nothing is pending.
func Startup(stateDir string, now time.Time) error {
	p, ok, err := readPending(stateDir)
	if !ok || err != nil {
		return err
	}
	if p.Starts == 0 && p.Window > 0 {
		p.Deadline = now.Add(p.Window)
	}
	p.Starts++
	if now.Before(p.Deadline) && p.Starts <= MaxStarts {
		return writePending(stateDir, p)
	}
	reason := fmt.Sprintf("version %s did not report healthy by %s (%d starts)", p.To, p.Deadline.Format(time.RFC3339), p.Starts)
	if err := rollbackPending(stateDir, p, reason, now); err != nil {
		return err
	}
	return fmt.Errorf("%w: %s", ErrUnhealthy, reason)
}

// RecordCrash is the service manager's half of the post-swap check: run by
// the previous, known-good binary after the service exited abnormally
// (the agent's systemd unit: ExecStopPost with the kept .previous binary),
// it counts the crash of a pending update and, at the MaxStarts-th,
// restores the previous binary — also when the new version dies before
// its own Startup could count anything (flag parsing, init, exec). It
// reports whether it rolled back; nothing pending is (false, nil).
func RecordCrash(stateDir string, now time.Time) (bool, error) {
	p, ok, err := readPending(stateDir)
	if !ok || err != nil {
		return false, err
	}
	p.Crashes++
	if p.Crashes < MaxStarts {
		return false, writePending(stateDir, p)
	}
	reason := fmt.Sprintf("version %s exited abnormally %d times under the service manager", p.To, p.Crashes)
	return true, rollbackPending(stateDir, p, reason, now)
}

// readPending reads the pending update; ok is false when there is none.
// Unreadable state is removed and reported.
func readPending(stateDir string) (p pending, ok bool, err error) {
	path := filepath.Join(stateDir, pendingFile)
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return p, false, nil
	}
	if err != nil {
		return p, false, err
	}
	if err := json.Unmarshal(data, &p); err != nil {
		os.Remove(path)
		return p, false, fmt.Errorf("pending update state: %w", err)
	}
	return p, true, nil
}

// rollbackPending restores the previous binary of a pending update and
// records the version as rejected and as the last failure.
func rollbackPending(stateDir string, p pending, reason string, now time.Time) error {
	if err := Rollback(p.Binary); err != nil {
		return err
	}
	os.Remove(filepath.Join(stateDir, pendingFile))
	if err := recordRejected(stateDir, p.To, reason, now); err != nil {
		return err
	}
	return writeJSONFile(filepath.Join(stateDir, failureFile), Failure{From: p.From, To: p.To, Reason: reason, At: now})
}

// ConfirmHealthy marks the running version healthy: the pending update
// is committed and the previous binary stays for manual rollback.
func ConfirmHealthy(stateDir string) error {
	err := os.Remove(filepath.Join(stateDir, pendingFile))
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	return err
}

// LastFailure returns (and clears) the last rolled-back update, for the
// next heartbeat; nil when there is none.
func LastFailure(stateDir string) (*Failure, error) {
	path := filepath.Join(stateDir, failureFile)
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var f Failure
	if err := json.Unmarshal(data, &f); err != nil {
		return nil, err
	}
	return &f, os.Remove(path)
}
