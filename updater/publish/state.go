// Package publish turns the channels file into what storage serves: the
// published channel state (<prefix>/channels/state.json) and the TUF
// targets. Plan shows the difference; Apply makes storage match and is
// idempotent (a second Apply writes nothing).
package publish

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/slipwayhq/slipway/updater/gate"

	"github.com/slipwayhq/slipway/updater/channel"
)

// MaxStateSize bounds state.json. Default: 4 MiB.
const MaxStateSize = 4 << 20

// StateKey is the storage key of the published channel state.
func StateKey(prefix string) string {
	if prefix == "" {
		return "channels/state.json"
	}
	return prefix + "/channels/state.json"
}

// State is the published form of the channels file: what the update
// endpoints serve. History is reduced to the previous version.
type State struct {
	Products map[string]map[string]Channel `json:"products"`
}

// Channel is one published channel.
type Channel struct {
	Version    string       `json:"version"`
	Rollout    float64      `json:"rollout"`
	Paused     bool         `json:"paused,omitempty"`
	MinVersion string       `json:"minVersion,omitempty"`
	Notes      string       `json:"notes,omitempty"`
	Pins       channel.Pins `json:"pins,omitzero"`
	// Previous is offered to machines outside a partial rollout.
	Previous string `json:"previous,omitempty"`
	// Revoked are the versions any channel of the product rolled back:
	// never offered; machines running one are offered Version instead.
	Revoked []string `json:"revoked,omitempty"`
	// Plan is the progressive rollout plan; the server's gate controller
	// limits Rollout to the current step (0 when halted).
	Plan *gate.Plan `json:"plan,omitempty"`
}

// StateOf converts the channels file to its published form.
func StateOf(f *channel.File) State {
	s := State{Products: map[string]map[string]Channel{}}
	for _, p := range f.Products {
		m := map[string]Channel{}
		revoked := p.Revoked()
		for _, c := range p.Channels {
			prev := c.Previous()
			if slices.Contains(revoked, prev) {
				prev = ""
			}
			m[c.Name] = Channel{Version: c.Version, Rollout: c.Rollout, Paused: c.Paused,
				MinVersion: c.MinVersion, Notes: c.Notes, Pins: c.Pins, Previous: prev, Revoked: revoked, Plan: c.Plan}
		}
		s.Products[p.Name] = m
	}
	return s
}

// Marshal encodes the state deterministically (sorted keys, indented).
func (s State) Marshal() ([]byte, error) {
	data, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(data, '\n'), nil
}

// ParseState decodes a state.json strictly.
func ParseState(data []byte) (State, error) {
	var s State
	if len(data) > MaxStateSize {
		return s, fmt.Errorf("state.json: larger than %d bytes", MaxStateSize)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&s); err != nil {
		return s, fmt.Errorf("state.json: %w", err)
	}
	if s.Products == nil {
		s.Products = map[string]map[string]Channel{}
	}
	return s, nil
}

// Versions lists, per product, every version some channel may serve.
func (s State) Versions() map[string][]string {
	out := map[string][]string{}
	for prod, chans := range s.Products {
		var vs []string
		for _, c := range chans {
			vs = append(vs, c.Version)
			if c.Previous != "" {
				vs = append(vs, c.Previous)
			}
			for _, m := range []map[string]string{c.Pins.Tenants, c.Pins.Machines} {
				for _, v := range m {
					vs = append(vs, v)
				}
			}
		}
		slices.Sort(vs)
		out[prod] = slices.Compact(vs)
	}
	return out
}

// diffChannels describes, line by line, how the published state differs
// from the wanted one.
func diffChannels(have, want State) []string {
	var out []string
	for _, prod := range sortedKeys(union(have.Products, want.Products)) {
		h, w := have.Products[prod], want.Products[prod]
		for _, ch := range sortedKeys(union(h, w)) {
			hc, hok := h[ch]
			wc, wok := w[ch]
			switch {
			case !hok:
				out = append(out, fmt.Sprintf("+ channel %s/%s: %s", prod, ch, describe(wc)))
			case !wok:
				out = append(out, fmt.Sprintf("- channel %s/%s: %s", prod, ch, describe(hc)))
			default:
				a, _ := json.Marshal(hc)
				b, _ := json.Marshal(wc)
				if !bytes.Equal(a, b) {
					out = append(out, fmt.Sprintf("~ channel %s/%s: %s -> %s", prod, ch, describe(hc), describe(wc)))
				}
			}
		}
	}
	return out
}

func describe(c Channel) string {
	s := fmt.Sprintf("%s at %g%%", c.Version, c.Rollout)
	if c.Paused {
		s += " (paused)"
	}
	if c.MinVersion != "" {
		s += " min " + c.MinVersion
	}
	if n := len(c.Pins.Tenants) + len(c.Pins.Machines); n > 0 {
		s += fmt.Sprintf(" %d pins", n)
	}
	if c.Notes != "" {
		s += " notes"
	}
	if len(c.Revoked) > 0 {
		s += " revoked " + strings.Join(c.Revoked, ",")
	}
	if c.Plan != nil {
		s += fmt.Sprintf(" plan %v bake %s", c.Plan.Steps, time.Duration(c.Plan.Bake))
	}
	return s
}

func union[V any](a, b map[string]V) map[string]bool {
	m := map[string]bool{}
	for k := range a {
		m[k] = true
	}
	for k := range b {
		m[k] = true
	}
	return m
}

func sortedKeys(m map[string]bool) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
