package endpoint

import (
	"github.com/slipwayhq/slipway/updater/gate"
	"github.com/slipwayhq/slipway/updater/publish"
)

// Limiter caps a planned channel's rollout (updater/gate.Controller).
type Limiter interface {
	Limit(k gate.Key, version string, p gate.Plan) float64
}

// limit applies the channel's rollout plan: the rollout is the lower of
// the file's percentage and the step the gates allow. Without a
// controller a planned channel stays at its first step.
func (h *Handler) limit(product, name string, ch publish.Channel) publish.Channel {
	if ch.Plan == nil || len(ch.Plan.Steps) == 0 {
		return ch
	}
	pct := ch.Plan.Steps[0]
	if h.opts.Rollouts != nil {
		pct = h.opts.Rollouts.Limit(gate.Key{Product: product, Channel: name}, ch.Version, *ch.Plan)
	}
	// Machines outside the step are offered the previous version when
	// the channel has one, else keep what they run.
	ch.Rollout = min(ch.Rollout, pct)
	return ch
}

// Rollouts lists the published channels that carry a plan, for the gate
// controller's evaluations.
func (h *Handler) Rollouts() []gate.Rollout {
	var rs []gate.Rollout
	for prod, chans := range h.snap.Load().state.Products {
		for name, ch := range chans {
			if ch.Plan != nil {
				rs = append(rs, gate.Rollout{Key: gate.Key{Product: prod, Channel: name}, Version: ch.Version, Plan: *ch.Plan})
			}
		}
	}
	return rs
}
