package endpoint

import (
	"slices"

	"github.com/slipwayhq/slipway/updater/publish"
	"github.com/slipwayhq/slipway/updater/rollout"
	"github.com/slipwayhq/slipway/updater/semver"
)

// Machine is who asks for an update.
type Machine struct {
	ID      string // machine id (rollout bucket, machine pins)
	Tenant  string // tenant id (tenant pins); optional
	Current string // installed version; "" for none
}

// Decision is the version a machine should run, if it should change.
type Decision struct {
	Version string
	// Force is set when the machine runs below the channel's minVersion.
	Force bool
	// Pinned is set when a pin chose the version (may be a downgrade).
	Pinned bool
	// Rollback is set when the machine runs a revoked version and is
	// offered the channel version below it (`slipway rollback`).
	Rollback bool
}

// Decide applies the channel policy, in order: paused channels offer
// nothing; a machine pin, then a tenant pin, fixes the version; a machine
// below minVersion is forced to the channel version; a machine inside the
// rollout (deterministic bucket of machine id + product + version) gets
// the channel version, one outside it the previous version. A machine on
// a revoked version is offered the channel version, whatever the rollout
// and even when it is older (the rollback). Only upgrades are offered
// otherwise, except to honour a pin, and a revoked version never is. ok is
// false when nothing is to do.
func Decide(c publish.Channel, product string, m Machine) (d Decision, ok bool) {
	if c.Paused {
		return d, false
	}
	if pin := pinFor(c, m); pin != "" {
		return Decision{Version: pin, Pinned: true}, pin != m.Current
	}
	cur, haveCur := parse(m.Current)
	if haveCur && len(c.Revoked) > 0 && slices.Contains(c.Revoked, m.Current) {
		return Decision{Version: c.Version, Rollback: !less(cur, c.Version)}, c.Version != m.Current
	}
	if c.MinVersion != "" && haveCur && less(cur, c.MinVersion) {
		return Decision{Version: c.Version, Force: true}, true
	}
	want := c.Version
	if !rollout.In(m.ID, product, c.Version, c.Rollout) {
		want = c.Previous
	}
	if want == "" || slices.Contains(c.Revoked, want) {
		return d, false
	}
	if haveCur && !less(cur, want) {
		return d, false
	}
	return Decision{Version: want}, true
}

func pinFor(c publish.Channel, m Machine) string {
	if m.ID != "" {
		if v, ok := c.Pins.Machines[m.ID]; ok {
			return v
		}
	}
	if m.Tenant != "" {
		if v, ok := c.Pins.Tenants[m.Tenant]; ok {
			return v
		}
	}
	return ""
}

func parse(s string) (semver.Version, bool) {
	if s == "" {
		return semver.Version{}, false
	}
	v, err := semver.Parse(s)
	return v, err == nil
}

func less(a semver.Version, b string) bool {
	vb, err := semver.Parse(b)
	return err == nil && semver.Compare(a, vb) < 0
}
