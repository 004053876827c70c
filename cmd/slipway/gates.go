package main

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/slipwayhq/slipway/server/store"
	"github.com/slipwayhq/slipway/updater/gate"
)

// fleetHealth samples a version's rollout health from the server's
// machines (heartbeats): upgraded = machines whose last heartbeat runs it,
// failed = machines whose last self-update of it failed or was rolled
// back (trial run, self-check, crash loop), offline = upgraded machines not
// seen for silentAfter (1.5 heartbeat intervals: one missed heartbeat), and
// the baseline = the share of the other machines seen within staleAfter
// that are late by the same measure (a fleet-wide delay is not the
// version's fault). Only the agent heartbeats, so other products (desktop,
// Tauri apps) sample nothing: their plans advance on bake time alone.
type fleetHealth struct {
	st                      store.Store
	silentAfter, staleAfter time.Duration
}

// newFleetHealth derives the thresholds from the server's heartbeat
// interval and StaleAfter.
func newFleetHealth(st store.Store, heartbeat, staleAfter time.Duration) fleetHealth {
	silent := heartbeat * 3 / 2
	if staleAfter < silent {
		staleAfter = silent
	}
	return fleetHealth{st: st, silentAfter: silent, staleAfter: staleAfter}
}

func (f fleetHealth) Sample(ctx context.Context, product, version string, now time.Time) (gate.Sample, error) {
	var s gate.Sample
	ss, ok := f.st.(store.StatsStore)
	if product != "agent" || !ok {
		return s, nil
	}
	silentBefore, staleBefore := now.Add(-f.silentAfter), now.Add(-f.staleAfter)
	// Online: seen within silentAfter; Stale: late but seen within staleAfter.
	fs, err := ss.FleetStats(ctx, store.StatsQuery{Versions: true, OnlineAfter: silentBefore, OfflineBefore: staleBefore})
	if err != nil {
		return s, err
	}
	s.Fleet = int(fs.Machines)
	for _, v := range fs.Versions {
		if v.Version == version {
			s.Upgraded, s.Failed = int(v.Machines), int(v.Failed+v.RolledBack)
		}
	}
	// Offline: page through the (few) upgraded machines not seen lately.
	upLate := 0 // of them, those seen within staleAfter (in fs.Stale)
	for after := ""; ; {
		ms, err := f.st.ListMachines(ctx, store.MachineFilter{AgentVersion: version, SeenBefore: silentBefore, After: after, Limit: 500})
		if err != nil {
			return s, err
		}
		s.Offline += len(ms)
		for _, m := range ms {
			if m.LastSeenAt.After(staleBefore) {
				upLate++
			}
		}
		if len(ms) < 500 {
			break
		}
		after = ms[len(ms)-1].ID
	}
	othersLate := int(fs.Stale) - upLate
	othersActive := int(fs.Online) - (s.Upgraded - s.Offline) + othersLate
	if othersActive > 0 && othersLate > 0 {
		s.Baseline = float64(othersLate) / float64(othersActive)
	}
	return s, nil
}

// gateEvery is how often the gates are evaluated: a quarter of the
// heartbeat interval, between 1 s and 1 min, so a version whose machines
// go silent halts within two intervals of its minimum sample (silent after
// 1.5 intervals, seen at the next evaluation).
func gateEvery(heartbeat time.Duration) time.Duration {
	return min(max(heartbeat/4, time.Second), time.Minute)
}

// runGates evaluates the planned rollouts every interval (jittered) until
// ctx ends, recording each decision in the audit log.
func runGates(ctx context.Context, ctrl *gate.Controller, u *updates, every time.Duration, log *slog.Logger, now func() time.Time) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-time.After(every + time.Duration(rand.Int64N(int64(every)/10+1))):
		}
		if err := ctrl.Tick(ctx, u.h.Rollouts(), now()); err != nil {
			log.WarnContext(ctx, "evaluating rollout gates", "err", err)
		}
	}
}

// auditGate records a gate decision.
func auditGate(st store.Store, log *slog.Logger) func(context.Context, gate.Key, gate.State, gate.Event) {
	actions := map[gate.Event]string{gate.Started: store.AuditRolloutStart, gate.Advance: store.AuditRolloutAdvance, gate.Halt: store.AuditRolloutHalt}
	return func(ctx context.Context, k gate.Key, s gate.State, ev gate.Event) {
		e := store.AuditEntry{At: time.Now().UTC(), ActorID: "server", ActorName: "rollout gates", Action: actions[ev],
			Target: k.Product + "/" + k.Channel, Detail: s.String(), Result: store.AuditOK}
		if err := st.AppendAudit(ctx, e); err != nil {
			log.ErrorContext(ctx, "recording a rollout decision", "err", err)
		}
		if ev == gate.Halt {
			log.WarnContext(ctx, "rollout halted", "product", k.Product, "channel", k.Channel, "version", s.Version, "reason", s.String())
		}
	}
}

// dbGates keeps the gate states in the server's database (compare-and-swap
// per product and channel), so several replicas make one decision.
type dbGates struct{ st store.RolloutGateStore }

var _ gate.Store = dbGates{}

func (d dbGates) Load(ctx context.Context, k gate.Key) (gate.State, int64, error) {
	data, rev, err := d.st.LoadRolloutGate(ctx, k.Product, k.Channel)
	var s gate.State
	if err != nil || data == nil {
		return s, rev, err
	}
	if err := json.Unmarshal(data, &s); err != nil {
		return s, rev, fmt.Errorf("rollout gate %s/%s: %w", k.Product, k.Channel, err)
	}
	return s, rev, nil
}

func (d dbGates) Save(ctx context.Context, k gate.Key, rev int64, s gate.State) (bool, error) {
	data, err := json.Marshal(s)
	if err != nil {
		return false, err
	}
	return d.st.SaveRolloutGate(ctx, k.Product, k.Channel, rev, data, time.Now())
}

// gateStore is the database when it keeps gate states, else memory (one
// replica).
func gateStore(st store.Store) gate.Store {
	if g, ok := st.(store.RolloutGateStore); ok {
		return dbGates{g}
	}
	return &gate.MemStore{}
}

// gateMetrics exports the rollout states to Prometheus:
// slipway_rollout_step_percent (the percentage the plan allows now, 0
// when halted) and slipway_rollout_halted (1 with the gate that tripped).
type gateMetrics struct {
	ctrl         *gate.Controller
	rollouts     func() []gate.Rollout
	step, halted *prometheus.Desc
}

func newGateMetrics(ctrl *gate.Controller, rollouts func() []gate.Rollout) *gateMetrics {
	return &gateMetrics{ctrl: ctrl, rollouts: rollouts,
		step: prometheus.NewDesc("slipway_rollout_step_percent", "Rollout percentage the plan allows now (0 when halted).",
			[]string{"product", "channel", "version"}, nil),
		halted: prometheus.NewDesc("slipway_rollout_halted", "1 when a rollout gate halted the rollout.",
			[]string{"product", "channel", "version", "gate"}, nil),
	}
}

func (g *gateMetrics) Describe(ch chan<- *prometheus.Desc) { ch <- g.step; ch <- g.halted }

func (g *gateMetrics) Collect(ch chan<- prometheus.Metric) {
	plans := map[gate.Key]gate.Plan{}
	for _, r := range g.rollouts() {
		plans[r.Key] = r.Plan
	}
	for k, s := range g.ctrl.States() {
		p, ok := plans[k]
		if !ok {
			continue
		}
		ch <- prometheus.MustNewConstMetric(g.step, prometheus.GaugeValue, s.Percent(p), k.Product, k.Channel, s.Version)
		halted := 0.0
		if s.Halted {
			halted = 1
		}
		ch <- prometheus.MustNewConstMetric(g.halted, prometheus.GaugeValue, halted, k.Product, k.Channel, s.Version, s.Gate)
	}
}
