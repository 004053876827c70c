// Package gate runs health-gated progressive rollouts: a channel's plan
// (steps such as 5 → 25 → 100 %, a bake time per step, and gates on the
// health of the machines that took the new version) is evaluated from a
// sample of the fleet; a gate that trips halts the rollout, and a step
// whose gates all held for the bake time advances to the next one.
//
// Evaluate is a pure function of the plan, the previous state, the sample
// and the time, so every server replica given the same inputs decides the
// same, and tests drive it with a controllable clock.
package gate

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/slipwayhq/slipway/updater/rollout"
)

// Plan is a channel's rollout plan (channels.yaml `plan:`).
type Plan struct {
	// Steps are rollout percentages, increasing, the last one the
	// ceiling (usually 100). Required.
	Steps []float64 `yaml:"steps" json:"steps"`
	// Bake is how long every gate must hold at a step before the next
	// one starts. Default: 1h.
	Bake Duration `yaml:"bake,omitempty" json:"bake,omitempty"`
	// Gates trip the halt.
	Gates Gates `yaml:"gates,omitempty" json:"gates,omitzero"`
	// OnHalt is the policy when a gate trips: OnHaltStop (default: the
	// spread stops and a human decides) or OnHaltRollback: the halt also
	// records a request for the signed rollback, which `slipway gate
	// autorollback` performs where the targets key is (a CI job). The
	// server holds no targets key, so it cannot sign a rollback itself.
	OnHalt string `yaml:"onHalt,omitempty" json:"onHalt,omitempty"`
}

// OnHalt policies.
const (
	OnHaltStop     = "halt"
	OnHaltRollback = "rollback"
)

// Gates are the health thresholds. A zero threshold disables its gate.
type Gates struct {
	// MaxFailedRate trips when failed / (upgraded + failed) exceeds it:
	// machines that reported the version failed or rolled back (self-check,
	// trial run, crash loop after the swap). Default: 0.05.
	MaxFailedRate float64 `yaml:"maxFailedRate,omitempty" json:"maxFailedRate,omitempty"`
	// MaxOfflineRate trips when the share of upgraded machines gone
	// silent since upgrading exceeds the share of the other recently
	// active machines that are late too (Sample.Baseline) by more than
	// it: a fleet-wide delay (the server was down, a network outage) does
	// not count against the version. Default: 0.10.
	MaxOfflineRate float64 `yaml:"maxOfflineRate,omitempty" json:"maxOfflineRate,omitempty"`
	// MinSample is how many machines (upgraded + failed) must have
	// reported before any gate is judged. Default: 20.
	MinSample int `yaml:"minSample,omitempty" json:"minSample,omitempty"`
}

// Gate names, as shown in halts.
const (
	GateFailed  = "failed-updates"
	GateOffline = "offline-after-upgrade"
)

// Defaults fills the zero fields.
func (p *Plan) Defaults() {
	if p.Bake == 0 {
		p.Bake = Duration(time.Hour)
	}
	if p.Gates.MaxFailedRate == 0 {
		p.Gates.MaxFailedRate = 0.05
	}
	if p.Gates.MaxOfflineRate == 0 {
		p.Gates.MaxOfflineRate = 0.10
	}
	if p.Gates.MinSample == 0 {
		p.Gates.MinSample = 20
	}
}

// MaxSteps bounds a plan.
const MaxSteps = 20

// Validate checks the steps and thresholds.
func (p Plan) Validate() error {
	if len(p.Steps) == 0 || len(p.Steps) > MaxSteps {
		return fmt.Errorf("plan: 1..%d steps", MaxSteps)
	}
	for i, s := range p.Steps {
		if err := rollout.ValidatePercent(s); err != nil || s == 0 {
			return fmt.Errorf("plan step %d: %v%% must be above 0 and at most 100 (0.01 steps)", i+1, s)
		}
		if i > 0 && s <= p.Steps[i-1] {
			return errors.New("plan: steps must increase")
		}
	}
	if p.Bake < 0 || time.Duration(p.Bake) > 90*24*time.Hour {
		return errors.New("plan: bake must be between 0 and 90 days")
	}
	for _, r := range []float64{p.Gates.MaxFailedRate, p.Gates.MaxOfflineRate} {
		if math.IsNaN(r) || r < 0 || r > 1 {
			return errors.New("plan: gate rates are between 0 and 1")
		}
	}
	if p.Gates.MinSample < 0 || p.Gates.MinSample > 1_000_000 {
		return errors.New("plan: minSample must be between 0 and 1000000")
	}
	if p.OnHalt != "" && p.OnHalt != OnHaltStop && p.OnHalt != OnHaltRollback {
		return fmt.Errorf("plan: onHalt %q: want %q or %q", p.OnHalt, OnHaltStop, OnHaltRollback)
	}
	return nil
}

// Sample is the health of the machines for the version being rolled out.
type Sample struct {
	// Upgraded machines run the version.
	Upgraded int `json:"upgraded"`
	// Failed machines reported the version failed or rolled back.
	Failed int `json:"failed"`
	// Offline are upgraded machines not seen since they upgraded for
	// longer than the silence threshold (the server: 1.5 heartbeat
	// intervals).
	Offline int `json:"offline"`
	// Baseline is the share of the other machines, among those seen
	// recently (within the server's StaleAfter), that are late by the same
	// threshold: what "offline" looks like for machines that did not take
	// the version. The offline gate compares against it.
	Baseline float64 `json:"baseline,omitempty"`
	// Fleet is every machine that could take the version (for adoption
	// charts); 0 when unknown.
	Fleet int `json:"fleet,omitempty"`
}

// Point is one sample of a rollout's history, for adoption charts.
type Point struct {
	At      time.Time `json:"at"`
	Percent float64   `json:"percent"` // the step in force (0 when halted)
	Sample
}

// History bounds: a point at most every HistoryEvery (and at every
// start, advance and halt), at most MaxHistory points (oldest dropped).
const (
	HistoryEvery = 5 * time.Minute
	MaxHistory   = 96
)

// State is the observed progress of one channel's rollout.
type State struct {
	Version     string    `json:"version"`
	Step        int       `json:"step"` // index into Plan.Steps
	StepStarted time.Time `json:"stepStarted"`
	Halted      bool      `json:"halted,omitempty"`
	HaltedAt    time.Time `json:"haltedAt,omitzero"`
	Gate        string    `json:"gate,omitempty"` // the gate that tripped
	// RollbackRequested: the plan's OnHalt policy asked for a rollback
	// when this halt happened (performed by `slipway gate autorollback`).
	RollbackRequested bool    `json:"rollbackRequested,omitempty"`
	Sample            Sample  `json:"sample"` // the last sample (at the halt, if halted)
	History           []Point `json:"history,omitempty"`
}

// Event is what an evaluation changed.
type Event string

// Events.
const (
	None    Event = ""
	Started Event = "started" // a new version's rollout began at step 1
	Advance Event = "advance" // the next step started
	Halt    Event = "halt"    // a gate tripped
)

// Evaluate advances st by one evaluation at now. A new version restarts
// the plan at its first step; a halted rollout stays halted (a human
// resumes, advances or rolls back); otherwise a tripped gate halts it, and
// a step whose gates held for the bake time gives way to the next.
func Evaluate(p Plan, st State, version string, s Sample, now time.Time) (State, Event) {
	p.Defaults()
	if st.Version != version {
		st = State{Version: version, StepStarted: now, Sample: s}
		return st.record(p, now, true), Started
	}
	if st.Halted {
		return st, None
	}
	st.Sample = s
	if gate := tripped(p.Gates, s); gate != "" {
		st.Halted, st.HaltedAt, st.Gate = true, now, gate
		st.RollbackRequested = p.OnHalt == OnHaltRollback
		return st.record(p, now, true), Halt
	}
	if st.Step < len(p.Steps)-1 && !now.Before(st.StepStarted.Add(time.Duration(p.Bake))) {
		st.Step++
		st.StepStarted = now
		return st.record(p, now, true), Advance
	}
	return st.record(p, now, false), None
}

// record appends the current sample to the history when forced or when
// HistoryEvery passed since the last point. The history is copied, never
// shared with the previous state.
func (st State) record(p Plan, now time.Time, force bool) State {
	if n := len(st.History); !force && n > 0 && now.Sub(st.History[n-1].At) < HistoryEvery {
		return st
	}
	h := append(make([]Point, 0, len(st.History)+1), st.History...)
	h = append(h, Point{At: now, Percent: st.Percent(p), Sample: st.Sample})
	if len(h) > MaxHistory {
		h = h[len(h)-MaxHistory:]
	}
	st.History = h
	return st
}

// LastPoint is when the history last grew (zero without history).
func (st State) LastPoint() time.Time {
	if len(st.History) == 0 {
		return time.Time{}
	}
	return st.History[len(st.History)-1].At
}

func tripped(g Gates, s Sample) string {
	if s.Upgraded+s.Failed < g.MinSample || s.Upgraded+s.Failed == 0 {
		return ""
	}
	if g.MaxFailedRate > 0 && float64(s.Failed)/float64(s.Upgraded+s.Failed) > g.MaxFailedRate {
		return GateFailed
	}
	if g.MaxOfflineRate > 0 && s.Upgraded > 0 && float64(s.Offline)/float64(s.Upgraded)-s.Baseline > g.MaxOfflineRate {
		return GateOffline
	}
	return ""
}

// Percent is the rollout percentage the state allows: the current step's,
// or 0 when halted (nobody new is offered the version).
func (st State) Percent(p Plan) float64 {
	if st.Halted || len(p.Steps) == 0 {
		return 0
	}
	return p.Steps[min(st.Step, len(p.Steps)-1)]
}

// String describes the state for humans, e.g. "halted by gate
// offline-after-upgrade at 2026-03-01T12:00:00Z: 7 of 40 upgraded machines
// offline".
func (st State) String() string {
	if !st.Halted {
		return fmt.Sprintf("%s at step %d since %s", st.Version, st.Step+1, st.StepStarted.UTC().Format(time.RFC3339))
	}
	at := st.HaltedAt.UTC().Format(time.RFC3339)
	s := st.Sample
	var out string
	switch st.Gate {
	case GateOffline:
		others := ""
		if s.Baseline > 0 {
			others = fmt.Sprintf(" (%.1f %% of the other machines late)", 100*s.Baseline)
		}
		out = fmt.Sprintf("halted by gate %s at %s: %d of %d upgraded machines offline%s", st.Gate, at, s.Offline, s.Upgraded, others)
	default:
		out = fmt.Sprintf("halted by gate %s at %s: %d of %d machines failed the update", st.Gate, at, s.Failed, s.Upgraded+s.Failed)
	}
	if st.RollbackRequested {
		out += "; rollback requested by the plan's onHalt policy"
	}
	return out
}

// Duration is a time.Duration written as "1h30m" in YAML and JSON.
type Duration time.Duration

// MarshalText writes the duration as Go syntax.
func (d Duration) MarshalText() ([]byte, error) { return []byte(time.Duration(d).String()), nil }

// UnmarshalText parses Go duration syntax ("30m", "1h").
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	if err != nil {
		return err
	}
	*d = Duration(v)
	return nil
}

// Equal reports whether two plans are the same.
func (p Plan) Equal(o Plan) bool {
	return slices.Equal(p.Steps, o.Steps) && p.Bake == o.Bake && p.Gates == o.Gates && p.OnHalt == o.OnHalt
}
