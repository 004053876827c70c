// Package heartbeat sends the agent's periodic heartbeat: at the interval the
// server asks for, with jitter, exponential backoff while the server is
// unreachable, and re-enrollment when the token is rejected. Only the latest
// state is kept while offline (no queue).
package heartbeat

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/slipwayhq/slipway/agent/identity"
	"github.com/slipwayhq/slipway/agent/inventory"
	"github.com/slipwayhq/slipway/agent/software"
	"github.com/slipwayhq/slipway/machineapi"
)

// Options tunes a Loop; the zero value is safe.
type Options struct {
	// AgentVersion is sent in every heartbeat.
	AgentVersion string
	// DefaultInterval applies until the server names one. Default: 60 s.
	DefaultInterval time.Duration
	// MinBackoff is the first retry delay after a failure. Default: 5 s.
	MinBackoff time.Duration
	// MaxBackoff caps the retry delay. Default: 5 min.
	MaxBackoff time.Duration
	// InventoryEvery is how often the full inventory rides along. Default: 6 h.
	InventoryEvery time.Duration
	// ClockSkewWarn is the server/agent clock difference that is logged. Default: 2 min.
	ClockSkewWarn time.Duration
	// ClientOptions configure the machine API client.
	ClientOptions machineapi.Options
	// OnSuccess runs after every acknowledged heartbeat (self-update uses
	// it to confirm a new version healthy). Default: none.
	OnSuccess func(ctx context.Context)
	// Rand draws jitter. Default: a randomly seeded source.
	Rand *rand.Rand
	// Now returns the current time. Default: time.Now.
	Now func() time.Time
	// Logger. Default: discard.
	Logger *slog.Logger
	// Software lists the installed software; its hash rides on every
	// heartbeat and the list is uploaded when the server asks for it.
	// Default: none (no software inventory).
	Software func(ctx context.Context) software.List
	// SoftwareEvery is how often the software list is collected again.
	// Default: 1 h.
	SoftwareEvery time.Duration
}

// Collector produces inventory and metrics.
type Collector interface {
	Collect(ctx context.Context) *inventory.Report
}

// Reenroller obtains a fresh token when the current one is rejected; nil
// means no provisioning secret is available.
type Reenroller func(ctx context.Context) (identity.State, error)

// UpdateReporter returns the last self-update outcome (may return nil).
type UpdateReporter func() *identity.UpdateStatus

// Loop is the heartbeat loop.
type Loop struct {
	store    identity.Store
	inv      Collector
	reenroll Reenroller
	updates  UpdateReporter
	opts     Options

	failures     int
	lastInv      time.Time
	lastUpdateAt time.Time
	sw           *software.List
	swAt         time.Time
}

// New returns a heartbeat loop; reenroll and updates may be nil.
func New(store identity.Store, inv Collector, reenroll Reenroller, updates UpdateReporter, opts Options) *Loop {
	if opts.DefaultInterval <= 0 {
		opts.DefaultInterval = time.Minute
	}
	if opts.MinBackoff <= 0 {
		opts.MinBackoff = 5 * time.Second
	}
	if opts.MaxBackoff <= 0 {
		opts.MaxBackoff = 5 * time.Minute
	}
	if opts.InventoryEvery <= 0 {
		opts.InventoryEvery = 6 * time.Hour
	}
	if opts.SoftwareEvery <= 0 {
		opts.SoftwareEvery = time.Hour
	}
	if opts.ClockSkewWarn <= 0 {
		opts.ClockSkewWarn = 2 * time.Minute
	}
	if opts.Rand == nil {
		opts.Rand = rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64()))
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	return &Loop{store: store, inv: inv, reenroll: reenroll, updates: updates, opts: opts}
}

// Run beats until ctx is done. The first beat is delayed by a random fraction
// of the minimum backoff so a fleet restarting together does not beat in
// lock-step. It returns nil when ctx is cancelled.
func (l *Loop) Run(ctx context.Context) error {
	wait := time.Duration(l.opts.Rand.Int64N(int64(l.opts.MinBackoff)))
	timer := time.NewTimer(wait)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-timer.C:
		}
		wait, _ = l.Beat(ctx)
		timer.Reset(wait)
	}
}

// Beat runs one heartbeat cycle (collect, send, handle the answer) and
// returns how long to wait before the next one.
func (l *Loop) Beat(ctx context.Context) (time.Duration, error) {
	st, err := l.store.Load()
	if errors.Is(err, identity.ErrNotEnrolled) {
		st, err = l.tryReenroll(ctx, "not enrolled")
	}
	if err != nil {
		return l.backoff(0), err
	}
	resp, err := l.send(ctx, st)
	switch {
	case err == nil:
		return l.succeeded(ctx, st, resp), nil
	case errors.Is(err, machineapi.ErrUnauthorized):
		l.opts.Logger.WarnContext(ctx, "machine token rejected by the server (revoked, rotated or expired)",
			"machine_id", st.MachineID)
		if _, rerr := l.tryReenroll(ctx, "token rejected"); rerr != nil {
			return l.backoff(0), errors.Join(err, rerr)
		}
		l.failures = 0
		return l.opts.MinBackoff / 5, nil // beat again soon with the new token
	default:
		var apiErr *machineapi.Error
		var retryAfter time.Duration
		if errors.As(err, &apiErr) {
			retryAfter = apiErr.RetryAfter
		}
		wait := l.backoff(retryAfter)
		l.opts.Logger.WarnContext(ctx, "heartbeat failed; keeping the latest state and retrying",
			"err", err, "retry_in", wait.Round(time.Second), "failures", l.failures)
		return wait, err
	}
}

func (l *Loop) send(ctx context.Context, st identity.State) (*machineapi.HeartbeatResponse, error) {
	c, err := machineapi.New(st.Server, l.opts.ClientOptions)
	if err != nil {
		return nil, err
	}
	rep := l.inv.Collect(ctx)
	req := machineapi.HeartbeatRequest{Status: "ok", AgentVersion: l.opts.AgentVersion, Metrics: Metrics(rep),
		SoftwareHash: l.softwareHash(ctx)}
	// The full inventory rides along on the first beat, periodically, and when
	// the update status changed; it is re-sent until one beat is acknowledged.
	upd := l.updateStatus()
	if l.lastInv.IsZero() || l.opts.Now().Sub(l.lastInv) >= l.opts.InventoryEvery || (upd != nil && upd.At.After(l.lastUpdateAt)) {
		inv := rep.Map()
		if inv == nil {
			inv = map[string]any{}
		}
		inv["agent"] = agentInfo(l.opts.AgentVersion, upd)
		req.Inventory = inv
	}
	resp, err := c.Heartbeat(ctx, st.MachineToken, req)
	if err != nil {
		return nil, err
	}
	if resp.SoftwareNeeded {
		l.uploadSoftware(ctx, c, st.MachineToken)
	}
	if req.Inventory != nil {
		l.lastInv = l.opts.Now()
		if upd != nil {
			l.lastUpdateAt = upd.At
		}
	}
	return resp, nil
}

func (l *Loop) updateStatus() *identity.UpdateStatus {
	if l.updates == nil {
		return nil
	}
	return l.updates()
}

func agentInfo(version string, upd *identity.UpdateStatus) map[string]any {
	m := map[string]any{"version": version}
	if upd != nil {
		m["update"] = upd
	}
	return m
}

func (l *Loop) succeeded(ctx context.Context, st identity.State, resp *machineapi.HeartbeatResponse) time.Duration {
	if l.failures > 0 {
		l.opts.Logger.InfoContext(ctx, "server reachable again", "machine_id", st.MachineID, "failures", l.failures)
	}
	l.failures = 0
	now := l.opts.Now()
	if !resp.ServerTime.IsZero() {
		if skew := now.Sub(resp.ServerTime); skew > l.opts.ClockSkewWarn || -skew > l.opts.ClockSkewWarn {
			l.opts.Logger.WarnContext(ctx, "clock skew between this machine and the server", "skew", skew.Round(time.Second))
		}
	}
	err := l.store.Update(func(s *identity.State) {
		s.LastHeartbeatAt = now.UTC()
		s.AgentVersion = l.opts.AgentVersion
		if resp.HeartbeatIntervalSeconds > 0 {
			s.HeartbeatIntervalSeconds = resp.HeartbeatIntervalSeconds
		}
		if !resp.ExpiresAt.IsZero() {
			s.ExpiresAt = resp.ExpiresAt
		}
		if resp.MachineToken != "" && s.MachineToken == st.MachineToken {
			s.MachineToken = resp.MachineToken // server-side rotation
		}
	})
	if err != nil {
		l.opts.Logger.ErrorContext(ctx, "saving heartbeat state", "err", err)
	}
	if l.opts.OnSuccess != nil {
		l.opts.OnSuccess(ctx)
	}
	interval := l.opts.DefaultInterval
	if resp.HeartbeatIntervalSeconds > 0 {
		interval = time.Duration(resp.HeartbeatIntervalSeconds) * time.Second
	}
	return Jitter(l.opts.Rand, interval)
}

func (l *Loop) tryReenroll(ctx context.Context, why string) (identity.State, error) {
	if l.reenroll == nil {
		l.opts.Logger.ErrorContext(ctx, "cannot re-enroll: no provisioning secret; run 'slipway-agent enroll'", "reason", why)
		return identity.State{}, fmt.Errorf("%s: %w", why, identity.ErrNotEnrolled)
	}
	l.opts.Logger.InfoContext(ctx, "re-enrolling with the provisioning secret", "reason", why)
	st, err := l.reenroll(ctx)
	if err != nil {
		l.opts.Logger.ErrorContext(ctx, "re-enrollment failed", "err", err)
		return identity.State{}, err
	}
	l.lastInv = time.Time{} // a new registration gets the full inventory
	return st, nil
}

// backoff returns the next retry delay: exponential from MinBackoff to
// MaxBackoff with equal jitter, or the server's Retry-After when longer.
func (l *Loop) backoff(retryAfter time.Duration) time.Duration {
	d := Backoff(l.opts.Rand, l.failures, l.opts.MinBackoff, l.opts.MaxBackoff)
	l.failures++
	return max(d, retryAfter)
}

// Backoff is min(max, base·2^n) with equal jitter: half fixed, half random.
func Backoff(r *rand.Rand, n int, base, maxDelay time.Duration) time.Duration {
	d := base
	for i := 0; i < n && d < maxDelay; i++ {
		d *= 2
	}
	d = min(d, maxDelay)
	return d/2 + time.Duration(r.Int64N(int64(d/2)+1))
}

// Jitter spreads an interval by ±10 %.
func Jitter(r *rand.Rand, d time.Duration) time.Duration {
	spread := int64(d / 10)
	if spread <= 0 {
		return d
	}
	return d - time.Duration(spread) + time.Duration(r.Int64N(2*spread+1))
}

// Metrics extracts the heartbeat metrics from a report: "cpu" (load average
// as a percentage of the logical cores), "memory" and "disk" (percent used,
// disk = the system volume) and "uptime" (seconds), plus raw figures.
func Metrics(r *inventory.Report) map[string]any {
	m := map[string]any{"uptime": r.UptimeSeconds}
	if r.Memory.TotalBytes > 0 {
		m["memoryTotalBytes"] = r.Memory.TotalBytes
		m["memory"] = round1(100 * float64(r.Memory.TotalBytes-r.Memory.AvailableBytes) / float64(r.Memory.TotalBytes))
	}
	for _, d := range r.Disks {
		if (d.Mountpoint == "/" || strings.EqualFold(d.Mountpoint, `C:`)) && d.TotalBytes > 0 {
			m["disk"] = round1(100 * float64(d.TotalBytes-d.FreeBytes) / float64(d.TotalBytes))
			m["diskFreeBytes"] = d.FreeBytes
		}
	}
	if r.Load != nil {
		m["load1"] = round1(r.Load.Load1)
		if r.CPU.LogicalCores > 0 {
			m["cpu"] = round1(min(100, 100*r.Load.Load1/float64(r.CPU.LogicalCores)))
		}
	}
	return m
}

func round1(f float64) float64 { return float64(int64(f*10+0.5)) / 10 }
