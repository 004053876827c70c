// Package daemon wires the agent's parts together: the token store,
// enrollment, inventory and the heartbeat loop (and the self-update check
// when configured). `slipway-agent run` and the OS service both call Run.
package daemon

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/slipwayhq/slipway/agent/enroll"
	"github.com/slipwayhq/slipway/agent/heartbeat"
	"github.com/slipwayhq/slipway/agent/identity"
	"github.com/slipwayhq/slipway/agent/inventory"
	"github.com/slipwayhq/slipway/agent/selfupdate"
	"github.com/slipwayhq/slipway/agent/software"
	"github.com/slipwayhq/slipway/machineapi"
	"github.com/slipwayhq/slipway/updater/client"
)

// Config is the agent's runtime configuration.
type Config struct {
	// Dir holds machine.json and agent.json. Default: identity.DefaultDir().
	Dir string
	// Enroll overrides agent.json/env for (re-)enrollment (flags).
	Enroll enroll.Config
	// Version is the agent version sent in heartbeats.
	Version string
	// Heartbeat tunes the loop (intervals, backoff).
	Heartbeat heartbeat.Options
	// Inventory tunes collection.
	Inventory inventory.Options
	// ClientOptions configure the machine API client.
	ClientOptions machineapi.Options
	// Updates overrides the self-update status reporter; when set, the
	// daemon does not run self-update itself. Default: self-update from
	// agent.json + <Dir>/update, reported from the token store.
	Updates heartbeat.UpdateReporter
	// Trial is the version on trial when this process is a trial run
	// started by the running agent before a self-update (client.TrialEnv):
	// Run then heartbeats until the first acknowledged heartbeat, writes
	// client.TrialHealthy to TrialOutput and returns nil, leaving the
	// update state alone. Default: "" (a normal run).
	Trial string
	// TrialOutput receives the trial's healthy line (standard output).
	TrialOutput io.Writer
	// Logger. Default: discard.
	Logger *slog.Logger
	// NoSoftware turns the software inventory off (no hash in heartbeats,
	// no uploads). Default: false, software.Collect with its default
	// sources, unless Heartbeat.Software is set.
	NoSoftware bool
}

// Daemon is a configured agent.
type Daemon struct {
	cfg   Config
	store identity.Store
	inv   *inventory.Collector
	enr   *enroll.Enroller
}

// New builds a Daemon.
func New(cfg Config) *Daemon {
	if cfg.Dir == "" {
		cfg.Dir = identity.DefaultDir()
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.ClientOptions.UserAgent == "" {
		cfg.ClientOptions.UserAgent = "slipway-agent/" + cfg.Version
	}
	cfg.Inventory.Logger = cfg.Logger
	if cfg.ClientOptions.Logger == nil {
		cfg.ClientOptions.Logger = cfg.Logger
	}
	store := identity.Store{Dir: cfg.Dir}
	inv := inventory.New(cfg.Inventory)
	return &Daemon{cfg: cfg, store: store, inv: inv, enr: enroll.New(store, inv, enroll.Options{
		AgentVersion: cfg.Version, ClientOptions: cfg.ClientOptions, Logger: cfg.Logger,
	})}
}

// Store returns the token store.
func (d *Daemon) Store() identity.Store { return d.store }

// Inventory returns the collector.
func (d *Daemon) Inventory() *inventory.Collector { return d.inv }

// Enroll registers now with the configured server and secret.
func (d *Daemon) Enroll(ctx context.Context) (identity.State, error) {
	cfg, err := enroll.LoadConfig(d.cfg.Dir, d.cfg.Enroll)
	if err != nil {
		return identity.State{}, err
	}
	return d.enr.Enroll(ctx, cfg)
}

// reenroller returns a Reenroller when a provisioning secret is configured
// (read fresh each time, so an MDM can drop a new agent.json), nil otherwise.
func (d *Daemon) reenroller() heartbeat.Reenroller {
	return func(ctx context.Context) (identity.State, error) {
		cfg, err := enroll.LoadConfig(d.cfg.Dir, d.cfg.Enroll)
		if err != nil {
			return identity.State{}, err
		}
		if cfg.Server == "" {
			if st, lerr := d.store.Load(); lerr == nil || st.Server != "" {
				cfg.Server = st.Server // re-enroll where we were enrolled
			}
		}
		return d.enr.Enroll(ctx, cfg)
	}
}

// Loop returns the heartbeat loop (without self-update).
func (d *Daemon) Loop() *heartbeat.Loop { return d.loop(nil) }

// Run heartbeats until ctx is done. When the machine is not enrolled yet it
// enrolls first if a server and secret are configured, else it waits and
// retries (an MDM may drop agent.json later). Self-update runs beside the
// heartbeat loop when configured; after installing a new version Run returns
// selfupdate.ErrRestart, and when a new version proved unhealthy at start it
// returns an error wrapping client.ErrUnhealthy (the previous binary is back:
// exit so the service manager starts it).
func (d *Daemon) Run(ctx context.Context) error {
	log := d.cfg.Logger
	if d.cfg.Trial != "" {
		return d.trial(ctx)
	}
	if err := selfupdate.Startup(d.cfg.Dir, d.store, time.Now()); err != nil {
		if errors.Is(err, client.ErrUnhealthy) || errors.Is(err, client.ErrRollbackFailed) {
			log.ErrorContext(ctx, "update rolled back; restarting into the previous version", "err", err)
			return err
		}
		log.WarnContext(ctx, "reading the update state", "err", err)
	}
	st, err := d.store.Load()
	switch {
	case err == nil:
		log.InfoContext(ctx, "agent starting", "version", d.cfg.Version, "machine_id", st.MachineID, "server", st.Server, "state", d.store.Path())
	case errors.Is(err, identity.ErrNotEnrolled):
		log.InfoContext(ctx, "agent starting, not enrolled yet", "version", d.cfg.Version, "state", d.store.Path())
	default:
		log.ErrorContext(ctx, "cannot read the token store", "err", err)
	}
	mgr := d.updater(ctx)
	loop := d.loop(mgr)
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return loop.Run(gctx) })
	if mgr != nil {
		g.Go(func() error { return mgr.Run(gctx) })
	}
	err = g.Wait()
	log.InfoContext(context.WithoutCancel(ctx), "agent stopped", "err", err)
	return err
}

// trial heartbeats until one heartbeat is acknowledged, then reports the
// trial healthy. It never touches the pending update state, and has no
// deadline of its own: the agent running the trial kills it when its
// trial time is up.
func (d *Daemon) trial(ctx context.Context) error {
	if d.cfg.Trial != d.cfg.Version {
		return fmt.Errorf("trial run of %s started, but this binary is %s", d.cfg.Trial, d.cfg.Version)
	}
	d.cfg.Logger.InfoContext(ctx, "agent starting on trial", "version", d.cfg.Version, "state", d.store.Path())
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	healthy := false
	opts := d.cfg.Heartbeat
	opts.AgentVersion = d.cfg.Version
	opts.ClientOptions = d.cfg.ClientOptions
	opts.Logger = d.cfg.Logger
	opts.OnSuccess = func(context.Context) { healthy = true; cancel() }
	updates := func() *identity.UpdateStatus { return selfupdate.Status(d.store) }
	if err := heartbeat.New(d.store, d.inv, d.reenroller(), updates, opts).Run(ctx); err != nil {
		return err
	}
	if !healthy {
		return ctx.Err()
	}
	out := d.cfg.TrialOutput
	if out == nil {
		out = io.Discard
	}
	return client.TrialHealthy(out, d.cfg.Version)
}

// updater returns the self-update manager, or nil (logged) when self-update
// is off or not configured.
func (d *Daemon) updater(ctx context.Context) *selfupdate.Manager {
	if d.cfg.Updates != nil {
		return nil // the caller reports update status itself
	}
	cfg, err := enroll.LoadConfig(d.cfg.Dir, d.cfg.Enroll)
	if err == nil {
		var mgr *selfupdate.Manager
		if mgr, err = selfupdate.New(d.cfg.Dir, d.store, cfg, d.cfg.Version, d.cfg.Logger); err == nil {
			return mgr
		}
	}
	d.cfg.Logger.InfoContext(ctx, "self-update off", "reason", err)
	return nil
}

func (d *Daemon) loop(mgr *selfupdate.Manager) *heartbeat.Loop {
	opts := d.cfg.Heartbeat
	opts.AgentVersion = d.cfg.Version
	opts.ClientOptions = d.cfg.ClientOptions
	opts.Logger = d.cfg.Logger
	if opts.Software == nil && !d.cfg.NoSoftware {
		opts.Software = heartbeat.CollectSoftware(software.Options{Logger: d.cfg.Logger})
	}
	updates := d.cfg.Updates
	if updates == nil {
		updates = func() *identity.UpdateStatus { return selfupdate.Status(d.store) }
	}
	if mgr != nil {
		opts.OnSuccess = mgr.Healthy
	}
	return heartbeat.New(d.store, d.inv, d.reenroller(), updates, opts)
}

// ShutdownTimeout bounds how long Stop waits for Run to return.
const ShutdownTimeout = 10 * time.Second
