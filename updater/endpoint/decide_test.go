package endpoint

import (
	"fmt"
	"slices"
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
	// 1.3.0 was rolled back: the channel serves 1.2.0 again at 30 %.
	rolledBack := base
	rolledBack.Revoked = []string{"1.3.0", "1.4.0"}
	revokedPrev := full
	revokedPrev.Version, revokedPrev.Rollout, revokedPrev.Previous, revokedPrev.Revoked = "1.5.0", 10, "1.4.0", []string{"1.4.0"}
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
		{"revoked version rolls back inside rollout", rolledBack, Machine{ID: in, Current: "1.3.0"}, "1.2.0", false, false},
		{"revoked version rolls back outside rollout", rolledBack, Machine{ID: out, Current: "1.4.0"}, "1.2.0", false, false},
		{"machine already on the rollback target stays", rolledBack, Machine{ID: out, Current: "1.2.0"}, "", false, true},
		{"revoked previous never offered", revokedPrev, Machine{ID: out, Current: "1.0.0"}, "", false, true},
		{"pin wins over revocation", rolledBack, Machine{ID: "pinned", Current: "1.3.0"}, "1.0.5", false, false},
		{"paused channel does not roll back", func() publish.Channel { c := rolledBack; c.Paused = true; return c }(), Machine{ID: in, Current: "1.3.0"}, "", false, true},
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
			if wantRB := ok && len(tt.ch.Revoked) > 0 && slices.Contains(tt.ch.Revoked, tt.m.Current) && !d.Pinned; d.Rollback != wantRB {
				t.Fatalf("got %+v, want %s force=%v", d, tt.want, tt.force)
			}
		})
	}
}
