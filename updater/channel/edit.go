package channel

import (
	"fmt"
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
	return nil
}

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
// (the channel's previous version), or "" when the rollout is complete or
// there is no history.
func (c *Channel) Previous() string {
	if rollout.Threshold(c.Rollout) >= rollout.Buckets || len(c.History) == 0 {
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

// Rollback restores the channel's previous state (version and rollout)
// from its history and unpauses it. It returns the version rolled back to.
func (f *File) Rollback(product, channel string) (string, error) {
	c, err := f.Channel(product, channel)
	if err != nil {
		return "", err
	}
	if len(c.History) == 0 {
		return "", fmt.Errorf("%s/%s: %w", product, channel, ErrNoHistory)
	}
	prev := c.History[0]
	c.History = c.History[1:]
	c.Version, c.Rollout, c.Paused = prev.Version, prev.Rollout, false
	if c.MinVersion != "" && semver.Less(c.Version, c.MinVersion) {
		c.MinVersion = ""
	}
	return c.Version, nil
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
	if *m == nil {
		*m = map[string]string{}
	}
	(*m)[id] = version
	return f.Validate()
}
