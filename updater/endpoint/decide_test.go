package endpoint

import (
	"fmt"
	"testing"

	"github.com/slipwayhq/slipway/updater/channel"
	"github.com/slipwayhq/slipway/updater/publish"
	"github.com/slipwayhq/slipway/updater/rollout"
)

// machineOutside finds a machine id outside a rollout of percent % (and
// one inside), so tests do not depend on hash values.
func machines(product, version string, percent float64) (in, out string) {
	for i := 0; in == "" || out == ""; i++ {
		m := fmt.Sprintf("m-%d", i)
		if rollout.In(m, product, version, percent) {
			in = m
		} else {
			out = m
		}
	}
	return in, out
}

func TestDecide(t *testing.T) {
	in, out := machines("agent", "1.2.0", 30)
	base := publish.Channel{Version: "1.2.0", Rollout: 30, Previous: "1.1.0", MinVersion: "1.0.0",
		Pins: channel.Pins{Machines: map[string]string{"pinned": "1.0.5"}, Tenants: map[string]string{"acme": "1.1.5"}}}
	paused := base
	paused.Paused = true
	full := base
	full.Rollout, full.Previous = 100, ""
	tests := []struct {
		name    string
		ch      publish.Channel
		m       Machine
		want    string
		force   bool
		nothing bool
	}{
		{"inside rollout upgrades", base, Machine{ID: in, Current: "1.1.0"}, "1.2.0", false, false},
		{"outside rollout gets previous", base, Machine{ID: out, Current: "1.0.1"}, "1.1.0", false, false},
		{"outside rollout already on previous", base, Machine{ID: out, Current: "1.1.0"}, "", false, true},
		{"no machine id is outside", base, Machine{Current: "1.0.1"}, "1.1.0", false, false},
		{"up to date", base, Machine{ID: in, Current: "1.2.0"}, "", false, true},
		{"newer than channel is not downgraded", full, Machine{ID: in, Current: "2.0.0"}, "", false, true},
		{"below minVersion is forced", base, Machine{ID: out, Current: "0.9.0"}, "1.2.0", true, false},
		{"paused offers nothing", paused, Machine{ID: in, Current: "0.9.0"}, "", false, true},
		{"machine pin downgrades", base, Machine{ID: "pinned", Current: "1.2.0"}, "1.0.5", false, false},
		{"machine pin satisfied", base, Machine{ID: "pinned", Current: "1.0.5"}, "", false, true},
		{"tenant pin", base, Machine{ID: in, Tenant: "acme", Current: "1.2.0"}, "1.1.5", false, false},
		{"fresh install", full, Machine{ID: out}, "1.2.0", false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, ok := Decide(tt.ch, "agent", tt.m)
			if ok == tt.nothing {
				t.Fatalf("ok = %v (%+v)", ok, d)
			}
			if ok && (d.Version != tt.want || d.Force != tt.force) {
				t.Fatalf("got %+v, want %s force=%v", d, tt.want, tt.force)
			}
		})
	}
}
