package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// The trial run: before the swap, the running (trusted, known good)
// binary starts the new binary as a child with TrialArgs and TrialEnv set,
// and hands over only when the child prints TrialHealthy's line for its
// version and exits 0 within TrialTimeout. The decision to reject the new
// version is taken by the old binary, so whatever the new one does — exit
// non-zero at once, panic in init, fail to exec on this CPU, hang, or run
// without reaching the server — the machine never leaves the previous
// binary, and the rejected version is remembered so it is not installed
// again (a newer version is).

// TrialEnv is set (to the version on trial) in the environment of a trial
// run. A program started with it must run its normal start-up, prove it
// works (the agent: one acknowledged heartbeat), call TrialHealthy and
// exit 0, without touching the update state of the running installation.
const TrialEnv = "SLIPWAY_UPDATE_TRIAL"

// ErrTrial: the new version failed its trial run; nothing was swapped.
var ErrTrial = errors.New("update: new version failed its trial run")

const trialMarker = "slipway-update-trial: healthy "

// TrialVersion returns the version on trial when this process is a trial
// run, "" otherwise.
func TrialVersion() string { return os.Getenv(TrialEnv) }

// TrialHealthy reports, on w (the process's standard output), that the
// trial run of version succeeded.
func TrialHealthy(w io.Writer, version string) error {
	_, err := fmt.Fprintf(w, "%s%s\n", trialMarker, version)
	return err
}

// RejectedError is returned by Install when the new version failed its
// self-check or trial run. The version is recorded (see Rejected) and not
// installed again. It wraps ErrSelfCheck or ErrTrial.
type RejectedError struct {
	Version string
	Err     error
}

func (e *RejectedError) Error() string {
	return fmt.Sprintf("version %s rejected: %v", e.Version, e.Err)
}
func (e *RejectedError) Unwrap() error { return e.Err }

// trial runs bin on trial (see TrialEnv); a nil TrialArgs skips it.
func (c *Client) trial(ctx context.Context, bin, version string) error {
	if len(c.cfg.TrialArgs) == 0 {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, c.cfg.TrialTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, c.cfg.TrialArgs...)
	cmd.Env = append(slices.DeleteFunc(os.Environ(), func(kv string) bool { return strings.HasPrefix(kv, TrialEnv+"=") }),
		TrialEnv+"="+version)
	// A grandchild keeping the pipes open must not hold us past the deadline.
	cmd.WaitDelay = 5 * time.Second
	var stdout strings.Builder
	tail := &tailWriter{n: 2 << 10}
	cmd.Stdout, cmd.Stderr = &limitedWriter{w: &stdout, n: 64 << 10}, tail
	c.cfg.Logger.InfoContext(ctx, "trial run of the new version", "product", c.cfg.Product, "version", version, "timeout", c.cfg.TrialTimeout)
	err := cmd.Run()
	healthy := strings.Contains(stdout.String(), trialMarker+version+"\n")
	switch {
	case ctx.Err() != nil && !healthy:
		return fmt.Errorf("%w: %s did not report healthy within %v (killed): %s", ErrTrial, version, c.cfg.TrialTimeout, tail)
	case err != nil:
		return fmt.Errorf("%w: %s: %w: %s", ErrTrial, version, err, tail)
	case !healthy:
		return fmt.Errorf("%w: %s exited without reporting healthy: %s", ErrTrial, version, tail)
	}
	return nil
}

// vet runs the self-check then the trial run of a new binary; a failure
// is recorded so the version is not installed again.
func (c *Client) vet(ctx context.Context, bin, version string) error {
	err := c.selfCheck(ctx, bin, version)
	if err == nil {
		err = c.trial(ctx, bin, version)
	}
	if err == nil {
		return nil
	}
	if rerr := recordRejected(c.cfg.StateDir, version, err.Error(), c.cfg.Now()); rerr != nil {
		c.cfg.Logger.ErrorContext(ctx, "recording a rejected version", "version", version, "err", rerr)
	}
	return &RejectedError{Version: version, Err: err}
}

// tailWriter keeps the last n bytes written (a crash's panic message is at
// the end of stderr).
type tailWriter struct {
	buf []byte
	n   int
}

func (t *tailWriter) Write(p []byte) (int, error) {
	t.buf = append(t.buf, p...)
	if len(t.buf) > t.n {
		t.buf = t.buf[len(t.buf)-t.n:]
	}
	return len(p), nil
}

func (t *tailWriter) String() string { return strings.TrimSpace(string(t.buf)) }

// Rejection is a version that failed on this machine (self-check, trial
// run, or health check after the swap).
type Rejection struct {
	Version string    `json:"version"`
	Reason  string    `json:"reason"`
	At      time.Time `json:"at"`
}

const (
	rejectedFile = "rejected-versions.json"
	// maxRejected bounds the list (oldest dropped).
	maxRejected = 20
	maxReason   = 1 << 10
)

// Rejected lists the versions that failed on this machine, oldest first.
// Update never installs one of them again; a newer version is installed
// normally.
func Rejected(stateDir string) ([]Rejection, error) {
	data, err := os.ReadFile(filepath.Join(stateDir, rejectedFile))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var rs []Rejection
	if err := json.Unmarshal(data, &rs); err != nil {
		return nil, fmt.Errorf("%s: %w", rejectedFile, err)
	}
	return rs, nil
}

func isRejected(stateDir, version string) bool {
	rs, _ := Rejected(stateDir) // an unreadable list rejects nothing
	return slices.ContainsFunc(rs, func(r Rejection) bool { return r.Version == version })
}

func recordRejected(stateDir, version, reason string, at time.Time) error {
	rs, _ := Rejected(stateDir)
	rs = slices.DeleteFunc(rs, func(r Rejection) bool { return r.Version == version })
	if len(reason) > maxReason {
		reason = reason[:maxReason]
	}
	rs = append(rs, Rejection{Version: version, Reason: reason, At: at.UTC()})
	if len(rs) > maxRejected {
		rs = rs[len(rs)-maxRejected:]
	}
	if err := os.MkdirAll(stateDir, 0o700); err != nil {
		return err
	}
	return writeJSONFile(filepath.Join(stateDir, rejectedFile), rs)
}
