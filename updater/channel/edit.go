package channel

import (
	"fmt"
	"maps"
	"slices"

	"github.com/slipwayhq/slipway/updater/rollout"
	"github.com/slipwayhq/slipway/updater/semver"
)

// Validate checks names, versions, percentages and pins. It does not look
// at storage; see Check for that.
func (f *File) Validate() error {
	if err := f.validateKeys(); err != nil {
		return err
	}
	seen := map[string]bool{}
	for _, p := range f.Products {
		if !nameRE.MatchString(p.Name) || seen[p.Name] {
			return fmt.Errorf("%w: product name %q invalid or repeated", ErrInvalid, p.Name)
		}
		seen[p.Name] = true
		chans := map[string]bool{}
		for _, c := range p.Channels {
			if !nameRE.MatchString(c.Name) || chans[c.Name] {
				return fmt.Errorf("%w: channel name %s/%q invalid or repeated", ErrInvalid, p.Name, c.Name)
			}
			chans[c.Name] = true
			if err := c.validate(); err != nil {
				return fmt.Errorf("%w: %s/%s: %w", ErrInvalid, p.Name, c.Name, err)
			}
		}
		if err := p.validateRevoked(); err != nil {
			return fmt.Errorf("%w: %s: %w", ErrInvalid, p.Name, err)
		}
	}
	return nil
}

// Revoked returns every version some channel of the product revoked,
// sorted: none of them may be served by any channel of the product.
func (p *Product) Revoked() []string {
	var vs []string
	for _, c := range p.Channels {
		vs = append(vs, c.Revoked...)
	}
	slices.Sort(vs)
	return slices.Compact(vs)
}

// validateRevoked refuses a channel version or pin that a channel of the
// same product revoked.
func (p *Product) validateRevoked() error {
	revoked := p.Revoked()
	for _, c := range p.Channels {
		if slices.Contains(revoked, c.Version) {
			return fmt.Errorf("%s serves %s: %w", c.Name, c.Version, ErrRevoked)
		}
		for _, m := range []map[string]string{c.Pins.Tenants, c.Pins.Machines} {
			for id, v := range m {
				if slices.Contains(revoked, v) {
					return fmt.Errorf("%s pins %s to %s: %w", c.Name, id, v, ErrRevoked)
				}
			}
		}
	}
	return nil
}

func (c *Channel) validate() error {
	v, err := semver.Parse(c.Version)
	if err != nil {
		return fmt.Errorf("version: %w", err)
	}
	if err := rollout.ValidatePercent(c.Rollout); err != nil {
		return err
	}
	if c.MinVersion != "" {
		mv, err := semver.Parse(c.MinVersion)
		if err != nil {
			return fmt.Errorf("minVersion: %w", err)
		}
		if semver.Compare(mv, v) > 0 {
			return fmt.Errorf("minVersion %s is above version %s", c.MinVersion, c.Version)
		}
	}
	for kind, pins := range map[string]map[string]string{"tenant": c.Pins.Tenants, "machine": c.Pins.Machines} {
		for id, pv := range pins {
			if id == "" || len(id) > 256 {
				return fmt.Errorf("%s pin: id must be 1..256 bytes", kind)
			}
			if _, err := semver.Parse(pv); err != nil {
				return fmt.Errorf("%s pin %q: %w", kind, id, err)
			}
		}
	}
	if len(c.History) > MaxHistory {
		return fmt.Errorf("history longer than %d entries", MaxHistory)
	}
	for _, h := range c.History {
		if _, err := semver.Parse(h.Version); err != nil {
			return fmt.Errorf("history: %w", err)
		}
		if err := rollout.ValidatePercent(h.Rollout); err != nil {
			return fmt.Errorf("history: %w", err)
		}
	}
	if len(c.Revoked) > MaxRevoked {
		return fmt.Errorf("more than %d revoked versions", MaxRevoked)
	}
	if c.Plan != nil {
		if err := c.Plan.Validate(); err != nil {
			return err
		}
	}
	for _, r := range c.Revoked {
		if _, err := semver.Parse(r); err != nil {
			return fmt.Errorf("revoked: %w", err)
		}
	}
	return nil
}

// MaxRevoked bounds a channel's revoked list (it rides in every TUF
// target the channel serves).
const MaxRevoked = 50

// Versions returns every version the channel may serve: the current one,
// the previous one (served outside a partial rollout) and pinned ones.
func (c *Channel) Versions() []string {
	vs := []string{c.Version}
	if p := c.Previous(); p != "" {
		vs = append(vs, p)
	}
	for _, m := range []map[string]string{c.Pins.Tenants, c.Pins.Machines} {
		for _, v := range m {
			vs = append(vs, v)
		}
	}
	slices.SortFunc(vs, func(a, b string) int {
		return semver.Compare(semver.MustParse(a), semver.MustParse(b))
	})
	return slices.Compact(vs)
}

// Previous is the version machines outside a partial rollout are offered
// (the channel's previous version), or "" when the rollout is complete,
// there is no history or the previous version was revoked.
func (c *Channel) Previous() string {
	if rollout.Threshold(c.Rollout) >= rollout.Buckets || len(c.History) == 0 {
		return ""
	}
	if slices.Contains(c.Revoked, c.History[0].Version) {
		return ""
	}
	return c.History[0].Version
}

// Promote points product/channel at version with the given rollout,
// creating the product and channel if needed. The previous state goes to
// the channel's history. Promoting the version already served only
// changes the rollout.
func (f *File) Promote(product, channel, version string, percent float64) error {
	if _, err := semver.Parse(version); err != nil {
		return err
	}
	if err := rollout.ValidatePercent(percent); err != nil {
		return err
	}
	p := f.Product(product)
	if p != nil && slices.Contains(p.Revoked(), version) {
		return fmt.Errorf("%s %s: %w; remove it from the revoked list to serve it again", product, version, ErrRevoked)
	}
	if p == nil {
		p = &Product{Name: product}
		f.Products = append(f.Products, p)
	}
	c, err := f.Channel(product, channel)
	if err != nil {
		c = &Channel{Name: channel}
		p.Channels = append(p.Channels, c)
	}
	if c.Version != "" && c.Version != version {
		c.History = append([]State{{Version: c.Version, Rollout: c.Rollout}}, c.History...)
		if len(c.History) > MaxHistory {
			c.History = c.History[:MaxHistory]
		}
	}
	c.Version, c.Rollout, c.Paused = version, percent, false
	return f.Validate()
}

// SetRollout changes the rollout percentage of a channel.
func (f *File) SetRollout(product, channel string, percent float64) error {
	c, err := f.Channel(product, channel)
	if err != nil {
		return err
	}
	if err := rollout.ValidatePercent(percent); err != nil {
		return err
	}
	c.Rollout = percent
	return nil
}

// SetPaused pauses or resumes a channel.
func (f *File) SetPaused(product, channel string, paused bool) error {
	c, err := f.Channel(product, channel)
	if err != nil {
		return err
	}
	c.Paused = paused
	return nil
}

// Rollback revokes the channel's version and restores the newest earlier
// state (version and rollout) whose version is not revoked, and unpauses
// the channel. Machines that took the revoked version are then offered
// the restored one (a signed downgrade). The revocation is product-wide:
// every other channel serving the version is rolled back the same way and
// pins to it are dropped; if one of them has nothing to go back to, the
// file is left unchanged. It returns the version rolled back to.
func (f *File) Rollback(product, channel string) (string, error) {
	c, err := f.Channel(product, channel)
	if err != nil {
		return "", err
	}
	bad := c.Version
	targets := map[*Channel]State{}
	for _, o := range f.Product(product).Channels {
		if o.Version != bad {
			continue
		}
		prev, ok := f.RollbackTarget(product, o.Name)
		if !ok {
			return "", fmt.Errorf("%s/%s: %w", product, o.Name, ErrNoHistory)
		}
		targets[o] = prev
	}
	for o, prev := range targets {
		o.restore(prev)
	}
	if !slices.Contains(c.Revoked, bad) {
		c.Revoked = append(c.Revoked, bad)
		if len(c.Revoked) > MaxRevoked {
			c.Revoked = c.Revoked[len(c.Revoked)-MaxRevoked:]
		}
	}
	for _, o := range f.Product(product).Channels {
		for _, m := range []map[string]string{o.Pins.Tenants, o.Pins.Machines} {
			maps.DeleteFunc(m, func(_, v string) bool { return v == bad })
		}
	}
	return c.Version, nil
}

// restore makes prev (an entry of the history) the channel's state,
// dropping it and the newer history entries.
func (c *Channel) restore(prev State) {
	for c.History[0] != prev {
		c.History = c.History[1:]
	}
	c.History = c.History[1:]
	c.Version, c.Rollout, c.Paused = prev.Version, prev.Rollout, false
	if c.MinVersion != "" && semver.Less(c.Version, c.MinVersion) {
		c.MinVersion = ""
	}
}

// RollbackTarget is the state Rollback would restore: the newest history
// entry whose version no channel of the product revoked and that differs
// from the current version.
func (f *File) RollbackTarget(product, channel string) (State, bool) {
	c, err := f.Channel(product, channel)
	if err != nil {
		return State{}, false
	}
	revoked := f.Product(product).Revoked()
	for _, h := range c.History {
		if h.Version != c.Version && !slices.Contains(revoked, h.Version) {
			return h, true
		}
	}
	return State{}, false
}

// Pin holds a tenant ("tenant") or machine ("machine") on version; an
// empty version removes the pin.
func (f *File) Pin(product, channel, kind, id, version string) error {
	c, err := f.Channel(product, channel)
	if err != nil {
		return err
	}
	var m *map[string]string
	switch kind {
	case "tenant":
		m = &c.Pins.Tenants
	case "machine":
		m = &c.Pins.Machines
	default:
		return fmt.Errorf("pin kind %q: want tenant or machine", kind)
	}
	if version == "" {
		delete(*m, id)
		return nil
	}
	if slices.Contains(f.Product(product).Revoked(), version) {
		return fmt.Errorf("pin %s to %s: %w", id, version, ErrRevoked)
	}
	if *m == nil {
		*m = map[string]string{}
	}
	(*m)[id] = version
	return f.Validate()
}
