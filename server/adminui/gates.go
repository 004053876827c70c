package adminui

import (
	"context"
	"encoding/json"
	"fmt"
	"html/template"
	"strings"

	"github.com/slipwayhq/slipway/server/store"
	"github.com/slipwayhq/slipway/updater/gate"
)

// gateView is what the rollout gates observed for one planned channel.
type gateView struct {
	Product, Channel string
	State            gate.State
	Evaluated        bool    // the server evaluated this version already
	Percent          float64 // allowed now
	Text             string  // "halted by gate … at …: 7 of 40 upgraded machines offline"
	Chart            template.HTML
}

// gateOf reads the gate state of a planned channel from the database
// (nil when the channel has no plan or the store keeps no gate state).
func (u *UI) gateOf(ctx context.Context, c Channel) (*gateView, error) {
	gs, ok := u.st.(store.RolloutGateStore)
	if c.Plan == nil || !ok {
		return nil, nil
	}
	v := &gateView{Product: c.Product, Channel: c.Name, Percent: c.Plan.Steps[0], Text: "not evaluated yet"}
	data, _, err := gs.LoadRolloutGate(ctx, c.Product, c.Name)
	if err != nil {
		return nil, err
	}
	if data != nil {
		if err := json.Unmarshal(data, &v.State); err != nil {
			return nil, fmt.Errorf("rollout gate %s/%s: %w", c.Product, c.Name, err)
		}
	}
	if v.State.Version == c.Version {
		v.Evaluated, v.Percent, v.Text = true, v.State.Percent(*c.Plan), v.State.String()
	} else {
		v.State = gate.State{} // about another version (before a promote or rollback)
	}
	v.Chart = gateChart(*c.Plan, v)
	return v, nil
}

// gateChart draws, server-side, the plan's steps (the current one filled,
// red when halted) and each gate's value against its threshold.
func gateChart(p gate.Plan, v *gateView) template.HTML {
	p.Defaults()
	const w, rowH = 360, 22
	var b strings.Builder
	h := rowH * 3
	fmt.Fprintf(&b, `<svg class="gate-chart" xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" role="img" aria-label="%s">`,
		w, h, w, h, template.HTMLEscapeString(v.Text))
	// Steps: one box per step, as wide as its percentage.
	x := 0.0
	for i, s := range p.Steps {
		bw := (s - x) / 100 * (w - 2)
		fill := "#e5e7eb"
		switch {
		case v.Evaluated && v.State.Halted && i == v.State.Step:
			fill = "#dc2626"
		case v.Evaluated && i <= v.State.Step:
			fill = "#16a34a"
		}
		fmt.Fprintf(&b, `<rect class="step" x="%.1f" y="2" width="%.1f" height="%d" fill="%s" stroke="#fff"><title>step %d: %g%%</title></rect>`,
			1+x/100*(w-2), bw, rowH-6, fill, i+1, s)
		fmt.Fprintf(&b, `<text x="%.1f" y="%d" font-size="11" fill="#111">%g%%</text>`, 4+x/100*(w-2), rowH-8, s)
		x = s
	}
	// Gates: value bar against the threshold line (scale: twice the threshold).
	s := v.State.Sample
	gates := []struct {
		name       string
		value, max float64
		n, of      int
	}{
		{gate.GateFailed, ratio(s.Failed, s.Upgraded+s.Failed), p.Gates.MaxFailedRate, s.Failed, s.Upgraded + s.Failed},
		// The offline gate's threshold rises with the share of the other
		// machines that are as late (gate.Sample.Baseline).
		{gate.GateOffline, ratio(s.Offline, s.Upgraded), p.Gates.MaxOfflineRate + s.Baseline, s.Offline, s.Upgraded},
	}
	for i, g := range gates {
		y := rowH * (i + 1)
		scale := 2 * g.max
		if scale <= 0 {
			scale = 1
		}
		bw := min(g.value/scale, 1) * (w - 2)
		color := "#16a34a"
		if g.value > g.max {
			color = "#dc2626"
		}
		fmt.Fprintf(&b, `<rect class="gate" x="1" y="%d" width="%.1f" height="%d" fill="%s"><title>%s: %d of %d (%.1f%%), threshold %.1f%%</title></rect>`,
			y+2, bw, rowH-8, color, g.name, g.n, g.of, 100*g.value, 100*g.max)
		fmt.Fprintf(&b, `<line x1="%.1f" x2="%.1f" y1="%d" y2="%d" stroke="#111" stroke-dasharray="3,2"/>`, (w-2)/2.0+1, (w-2)/2.0+1, y, y+rowH-4)
		fmt.Fprintf(&b, `<text x="%d" y="%d" font-size="11" fill="#111">%s %d/%d</text>`, w/2+6, y+rowH-9, g.name, g.n, g.of)
	}
	b.WriteString(`</svg>`)
	adoptionChart(&b, v)
	return template.HTML(b.String()) // #nosec: built from numbers and escaped text only
}

// adoptionChart draws the share of the fleet on the version over time
// (solid) against the step in force (dashed), with the halt marked.
func adoptionChart(b *strings.Builder, v *gateView) {
	h := v.State.History
	if len(h) < 2 {
		return
	}
	const w, ht = 360.0, 90.0
	t0, t1 := h[0].At, h[len(h)-1].At
	span := t1.Sub(t0).Seconds()
	x := func(p gate.Point) float64 { return 1 + (w-2)*p.At.Sub(t0).Seconds()/span }
	y := func(pct float64) float64 { return ht - 1 - (ht-2)*min(max(pct, 0), 100)/100 }
	fmt.Fprintf(b, `<svg class="adoption-chart" xmlns="http://www.w3.org/2000/svg" width="%g" height="%g" viewBox="0 0 %g %g" role="img" aria-label="adoption of %s over time">`,
		w, ht, w, ht, template.HTMLEscapeString(v.State.Version))
	fmt.Fprintf(b, `<rect x="0.5" y="0.5" width="%g" height="%g" fill="none" stroke="#d1d5db"/>`, w-1, ht-1)
	var steps, adopt strings.Builder
	for i, p := range h {
		if i > 0 { // steps change only at points: draw a staircase
			fmt.Fprintf(&steps, "%.1f,%.1f ", x(p), y(h[i-1].Percent))
		}
		fmt.Fprintf(&steps, "%.1f,%.1f ", x(p), y(p.Percent))
		if p.Fleet > 0 {
			fmt.Fprintf(&adopt, "%.1f,%.1f ", x(p), y(100*float64(p.Upgraded)/float64(p.Fleet)))
		}
	}
	fmt.Fprintf(b, `<polyline class="steps" points="%s" fill="none" stroke="#6b7280" stroke-dasharray="4,3"><title>step in force</title></polyline>`, strings.TrimSpace(steps.String()))
	if adopt.Len() > 0 {
		fmt.Fprintf(b, `<polyline class="adoption" points="%s" fill="none" stroke="#2563eb" stroke-width="2"><title>machines on %s</title></polyline>`,
			strings.TrimSpace(adopt.String()), template.HTMLEscapeString(v.State.Version))
	}
	if v.State.Halted && !v.State.HaltedAt.Before(t0) {
		hx := x(gate.Point{At: v.State.HaltedAt})
		fmt.Fprintf(b, `<line class="halt" x1="%.1f" x2="%.1f" y1="1" y2="%g" stroke="#dc2626" stroke-width="2"><title>%s</title></line>`,
			hx, hx, ht-1, template.HTMLEscapeString(v.Text))
	}
	b.WriteString(`</svg>`)
}

func ratio(n, of int) float64 {
	if of == 0 {
		return 0
	}
	return float64(n) / float64(of)
}
