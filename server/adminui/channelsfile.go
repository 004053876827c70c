package adminui

import (
	"context"
	"net/url"
	"sync"
	"time"

	"github.com/slipwayhq/slipway/updater/channel"
	"github.com/slipwayhq/slipway/updater/publish"
	"github.com/slipwayhq/slipway/updater/repo"
)

// ChannelsFile implements Rollouts on the updater's channels file: each
// change edits the file and applies it (publish.Apply), which re-signs the
// TUF metadata and rewrites the published channel state, exactly as
// `slipway pause ...` followed by `slipway apply` would.
type ChannelsFile struct {
	Path    string
	Publish publish.Config
	Keys    *repo.Keys // needs the targets and online keys to apply
	Now     func() time.Time

	mu sync.Mutex
}

var _ Rollouts = (*ChannelsFile)(nil)

// Channels lists every channel of the file.
func (c *ChannelsFile) Channels(ctx context.Context) ([]Channel, error) {
	f, err := channel.Load(c.Path)
	if err != nil {
		return nil, err
	}
	var out []Channel
	for _, p := range f.Products {
		for _, ch := range p.Channels {
			target, _ := f.RollbackTarget(p.Name, ch.Name)
			out = append(out, Channel{Product: p.Name, Name: ch.Name, Version: ch.Version, Rollout: ch.Rollout,
				Paused: ch.Paused, Previous: ch.Previous(), RollbackTo: target.Version, Revoked: p.Revoked(), Plan: ch.Plan})
		}
	}
	return out, nil
}

// SetPaused pauses or resumes a channel and applies the file.
func (c *ChannelsFile) SetPaused(ctx context.Context, product, name string, paused bool) error {
	return c.edit(ctx, func(f *channel.File) error { return f.SetPaused(product, name, paused) })
}

// Rollback restores the channel's previous version and applies the file.
func (c *ChannelsFile) Rollback(ctx context.Context, product, name string) (string, error) {
	var v string
	err := c.edit(ctx, func(f *channel.File) (err error) {
		v, err = publish.Rollback(ctx, c.Publish, f, product, name)
		return err
	})
	return v, err
}

func (c *ChannelsFile) edit(ctx context.Context, change func(*channel.File) error) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	f, err := channel.Load(c.Path)
	if err != nil {
		return err
	}
	if err := change(f); err != nil {
		return err
	}
	now := time.Now
	if c.Now != nil {
		now = c.Now
	}
	// Publish first: if applying fails, the file still says what is served.
	if _, err := publish.Apply(ctx, c.Publish, f, c.Keys, now()); err != nil {
		return err
	}
	return f.Save(c.Path)
}

func urlQueryEscape(s string) string { return url.QueryEscape(s) }
