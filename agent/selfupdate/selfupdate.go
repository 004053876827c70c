// Package selfupdate keeps slipway-agent up to date through the updater
// client (updater/client): it checks the channel periodically, installs a
// verified new binary and asks the service manager for a restart, confirms
// the new version healthy after its first acknowledged heartbeat, and
// records the outcome (installed, failed, rolled back) in the token store so
// heartbeats and the desktop client report it.
package selfupdate

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"sync"
	"time"

	"github.com/slipwayhq/slipway/agent/enroll"
	"github.com/slipwayhq/slipway/agent/identity"
	"github.com/slipwayhq/slipway/signing/minisign"
	"github.com/slipwayhq/slipway/updater/client"
)

// Files the installer drops in <config dir>/update/.
const (
	RootFile     = "root.json"
	MinisignFile = "minisign.pub"
	maxTrustFile = 64 << 10
)

// Results recorded in identity.UpdateStatus.Result.
const (
	ResultInstalled  = "installed"   // swapped; restarting into the new version
	ResultHealthy    = "healthy"     // the new version heartbeat successfully
	ResultFailed     = "failed"      // check/download/verify failed; nothing changed
	ResultRolledBack = "rolled-back" // the new version failed (self-check, trial run or health check); the previous one runs
	ResultCurrent    = "current"     // a check succeeded with nothing to install (clears "failed")
)

// Default bounds of a self-update (agent.json "update" overrides them).
const (
	DefaultTrial          = 2 * time.Minute
	DefaultHealthDeadline = 2 * time.Minute
)

// ErrDisabled: self-update is off or not configured (no trust material).
var ErrDisabled = errors.New("self-update disabled")

// ErrRestart: a new version was installed; the process should exit so the
// service manager starts it.
var ErrRestart = errors.New("new version installed; restart required")

// Manager runs self-update for the agent.
type Manager struct {
	store    identity.Store
	cfg      client.Config
	interval time.Duration
	log      *slog.Logger
	once     sync.Once
}

// StateDir is where the updater client keeps its TUF cache, staging files
// and health state.
func StateDir(dir string) string { return filepath.Join(dir, "update", "state") }

// New configures the agent's self-update from agent.json's "update" section
// and the trust files in <dir>/update. It returns ErrDisabled (wrapped, with
// the reason) when updates are off or not installable.
func New(dir string, store identity.Store, ec enroll.Config, version string, log *slog.Logger) (*Manager, error) {
	return NewFor(Options{Product: "agent", TrustDir: dir, StateDir: StateDir(dir), Store: store,
		Config: ec, Version: version, Logger: log, TrialArgs: []string{"run"}})
}

// Options configure a Manager for one product.
type Options struct {
	// Product is "agent" or "desktop".
	Product string
	// TrustDir holds update/root.json and update/minisign.pub.
	TrustDir string
	// StateDir is the updater client's state directory.
	StateDir string
	// Store receives the update outcome (identity.State.Update).
	Store identity.Store
	// Config is agent.json (server and "update" section).
	Config enroll.Config
	// Version is the running version.
	Version string
	// TrialArgs run a new version on trial before the swap (the agent:
	// ["run"]); see client.TrialEnv. Default: no trial run.
	TrialArgs []string
	// Logger. Default: discard.
	Logger *slog.Logger
}

func seconds(n int, def time.Duration) time.Duration {
	if n <= 0 {
		return def
	}
	return time.Duration(n) * time.Second
}

// PackageMarkerDir holds "<product>.package-managed", installed by the
// Linux packages (packaging/linux): when the marker exists the package
// manager owns the binary, so self-update stays off and new versions come
// by upgrading the package. A variable for tests.
var PackageMarkerDir = "/usr/lib/slipway"

// PackageManaged reports whether product was installed by a Linux package.
func PackageManaged(product string) bool {
	if runtime.GOOS != "linux" {
		return false
	}
	_, err := os.Stat(filepath.Join(PackageMarkerDir, product+".package-managed"))
	return err == nil
}

// NewFor configures self-update for any product.
func NewFor(o Options) (*Manager, error) {
	uc := o.Config.Update
	if uc.Disabled {
		return nil, fmt.Errorf("%w: disabled in %s", ErrDisabled, enroll.ConfigFileName)
	}
	if PackageManaged(o.Product) {
		return nil, fmt.Errorf("%w: installed by a package (%s): the package manager updates it", ErrDisabled,
			filepath.Join(PackageMarkerDir, o.Product+".package-managed"))
	}
	root, err := readTrust(filepath.Join(o.TrustDir, "update", RootFile))
	if err != nil {
		return nil, err
	}
	keyText, err := readTrust(filepath.Join(o.TrustDir, "update", MinisignFile))
	if err != nil {
		return nil, err
	}
	pk, err := minisign.ParsePublicKey(keyText)
	if err != nil {
		return nil, fmt.Errorf("self-update: %s: %w", MinisignFile, err)
	}
	server := firstNonEmpty(uc.Server, o.Config.Server)
	if server == "" {
		if st, err := o.Store.Load(); err == nil {
			server = st.Server
		}
	}
	log := o.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	cfg := client.Config{
		Product: o.Product, Channel: firstNonEmpty(uc.Channel, "stable"), ServerURL: server,
		TrustedRoot: root, MinisignKey: pk, StateDir: o.StateDir, CurrentVersion: o.Version,
		HealthDeadline: seconds(uc.HealthDeadlineSeconds, DefaultHealthDeadline), Logger: log,
		TrialArgs: o.TrialArgs, TrialTimeout: seconds(uc.TrialSeconds, DefaultTrial),
	}
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrDisabled, err)
	}
	interval := time.Duration(uc.IntervalSeconds) * time.Second
	if interval <= 0 {
		interval = 6 * time.Hour
	}
	return &Manager{store: o.Store, cfg: cfg, interval: interval, log: log}, nil
}

func readTrust(path string) ([]byte, error) {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("%w: %s not installed", ErrDisabled, path)
	}
	if err != nil {
		return nil, fmt.Errorf("self-update: %w", err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxTrustFile+1))
	if err != nil {
		return nil, fmt.Errorf("self-update: %w", err)
	}
	if len(b) > maxTrustFile {
		return nil, fmt.Errorf("self-update: %s over %d bytes", path, maxTrustFile)
	}
	return b, nil
}

// Startup must run first when the agent starts: while an update is pending
// it counts starts, and rolls back an update that never became healthy
// (returning an error wrapping client.ErrUnhealthy: exit, so the service
// manager starts the restored binary). It also records a rollback done by a
// previous start in the token store. Safe to call when updates are off.
func Startup(dir string, store identity.Store, now time.Time) error {
	return StartupState(StateDir(dir), store, now)
}

// StartupState is Startup for an explicit updater state directory.
func StartupState(state string, store identity.Store, now time.Time) error {
	if err := client.Startup(state, now); err != nil {
		return err
	}
	f, err := client.LastFailure(state)
	if err != nil || f == nil {
		return err
	}
	return record(store, identity.UpdateStatus{Available: f.To, Installed: f.From, Result: ResultRolledBack, Error: f.Reason, At: now.UTC()})
}

// Healthy is called after each acknowledged heartbeat; the first call
// confirms the running version, so a pending update is committed.
func (m *Manager) Healthy(ctx context.Context) {
	m.once.Do(func() {
		if err := client.ConfirmHealthy(m.cfg.StateDir); err != nil {
			m.log.ErrorContext(ctx, "confirming the running version healthy", "err", err)
			return
		}
		st, err := m.store.Load()
		if err == nil && st.Update != nil && st.Update.Result == ResultInstalled && st.Update.Installed == m.cfg.CurrentVersion {
			_ = record(m.store, identity.UpdateStatus{Installed: m.cfg.CurrentVersion, Result: ResultHealthy, At: time.Now().UTC()})
			m.log.InfoContext(ctx, "update confirmed healthy", "version", m.cfg.CurrentVersion)
		}
	})
}

// Run checks for updates until ctx ends. It returns ErrRestart after
// installing a new version, nil when ctx ends.
func (m *Manager) Run(ctx context.Context) error {
	// Wait for enrollment: the machine id selects the rollout bucket, and
	// a trial run of a new version must find the machine enrolled (two
	// processes enrolling at once would register it twice).
	for {
		st, err := m.store.Load()
		if err == nil {
			m.cfg.MachineID = st.MachineID
			break
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(time.Second):
		}
	}
	c, err := client.New(m.cfg)
	if err != nil {
		return err
	}
	res, err := c.Run(ctx, m.interval, m.report)
	if res == nil {
		if ctx.Err() != nil {
			return nil
		}
		return err
	}
	m.log.InfoContext(ctx, "update installed; restarting", "from", res.From, "to", res.To)
	if err := record(m.store, identity.UpdateStatus{Installed: res.To, Result: ResultInstalled, At: time.Now().UTC()}); err != nil {
		m.log.ErrorContext(ctx, "recording the update", "err", err)
	}
	return ErrRestart
}

// report records the outcome of one update check: a rejected version as
// rolled back (the version that failed is "available"), another error as
// failed, and a good check with nothing to install clears a "failed"
// status (a rolled-back one stays: it names a version that failed here).
func (m *Manager) report(err error) {
	now := time.Now().UTC()
	var rej *client.RejectedError
	switch {
	case errors.As(err, &rej):
		_ = record(m.store, identity.UpdateStatus{Available: rej.Version, Installed: m.cfg.CurrentVersion,
			Result: ResultRolledBack, Error: err.Error(), At: now})
	case err != nil:
		_ = record(m.store, identity.UpdateStatus{Installed: m.cfg.CurrentVersion, Result: ResultFailed, Error: err.Error(), At: now})
	default:
		if st := Status(m.store); st != nil && st.Result == ResultFailed {
			_ = record(m.store, identity.UpdateStatus{Installed: m.cfg.CurrentVersion, Result: ResultCurrent, At: now})
		}
	}
}

// Status returns the last recorded update outcome.
func Status(store identity.Store) *identity.UpdateStatus {
	st, _ := store.Load() // an outcome may be recorded before enrollment
	return st.Update
}

func record(store identity.Store, u identity.UpdateStatus) error {
	return store.Update(func(s *identity.State) { s.Update = &u })
}

func firstNonEmpty(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}

// ServiceCrashed reports whether the service manager's account of the
// agent's exit (systemd's $SERVICE_RESULT, $EXIT_CODE and $EXIT_STATUS in
// ExecStopPost) is a crash: anything but a clean stop or the agent's own
// restart request (exit status restart, after an update or a rollback).
func ServiceCrashed(result, code, status string, restart int) bool {
	if result == "" || result == "success" {
		return false
	}
	return code != "exited" || status != strconv.Itoa(restart)
}

// Guard is run by the previous, known-good binary after the service
// exited (see client.RecordCrash): a crash of a pending update is counted
// and, at the limit, the previous binary restored. It reports whether it
// rolled back.
func Guard(dir, result, code, status string, restart int, now time.Time) (bool, error) {
	if !ServiceCrashed(result, code, status, restart) {
		return false, nil
	}
	return client.RecordCrash(StateDir(dir), now)
}
