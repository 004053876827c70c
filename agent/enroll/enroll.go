package enroll

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/slipwayhq/slipway/agent/identity"
	"github.com/slipwayhq/slipway/agent/inventory"
	"github.com/slipwayhq/slipway/machineapi"
)

// Options tunes an Enroller; the zero value is safe.
type Options struct {
	// AgentVersion is recorded in the state file.
	AgentVersion string
	// Client is the client kind registered (machineapi.ClientAgent or
	// machineapi.ClientDesktop); "" is the agent and is left out of the
	// request.
	Client string
	// HTTPClient is passed to the machine API client. Default: machineapi's.
	ClientOptions machineapi.Options
	// Now returns the current time. Default: time.Now.
	Now func() time.Time
	// Logger for progress lines (never secrets). Default: discard.
	Logger *slog.Logger
}

// Collector is what the enroller needs from the inventory.
type Collector interface {
	Collect(ctx context.Context) *inventory.Report
}

// Enroller registers the machine and stores its token.
type Enroller struct {
	store identity.Store
	inv   Collector
	opts  Options
}

// New returns an Enroller writing to store.
func New(store identity.Store, inv Collector, opts Options) *Enroller {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	return &Enroller{store: store, inv: inv, opts: opts}
}

// Enroll registers with cfg.Server using cfg.ProvisioningSecret and saves the
// new token. It keeps the update status of a previous enrollment.
func (e *Enroller) Enroll(ctx context.Context, cfg Config) (identity.State, error) {
	if err := cfg.Validate(); err != nil {
		return identity.State{}, err
	}
	c, err := machineapi.New(cfg.Server, e.opts.ClientOptions)
	if err != nil {
		return identity.State{}, err
	}
	rep := e.inv.Collect(ctx)
	req := rep.Register(cfg.ProvisioningSecret, e.opts.AgentVersion)
	req.Client = e.opts.Client
	resp, err := c.Register(ctx, req)
	if err != nil {
		return identity.State{}, fmt.Errorf("enroll: %w", err)
	}
	prev, _ := e.store.Load()
	st := identity.State{
		Server:                   c.BaseURL(),
		MachineID:                resp.MachineID,
		MachineToken:             resp.MachineToken,
		ExpiresAt:                resp.ExpiresAt,
		HeartbeatIntervalSeconds: resp.HeartbeatIntervalSeconds,
		EnrolledAt:               e.opts.Now().UTC(),
		AgentVersion:             e.opts.AgentVersion,
		Update:                   prev.Update,
	}
	if err := e.store.Save(st); err != nil {
		return identity.State{}, err
	}
	e.opts.Logger.InfoContext(ctx, "enrolled", "machine_id", st.MachineID, "server", st.Server, "state", e.store.Path())
	return st, nil
}
