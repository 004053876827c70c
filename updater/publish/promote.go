package publish

import (
	"context"
	"errors"

	"github.com/slipwayhq/slipway/updater/catalog"
	"github.com/slipwayhq/slipway/updater/channel"
)

// CheckRelease refuses a version that was never published (no
// release.json) or whose artifacts do not match their record or carry no
// valid minisign signature.
func CheckRelease(ctx context.Context, cfg Config, product, version string) error {
	rec, err := catalog.Load(ctx, cfg.Store, cfg.Prefix, product, version)
	if err != nil {
		return err
	}
	if cfg.Verifier == nil {
		return errors.New("no signature verifier configured (minisign public key)")
	}
	return catalog.Check(ctx, cfg.Store, cfg.Prefix, rec, cfg.Verifier)
}

// Promote checks the release then points product/channel at it in f.
func Promote(ctx context.Context, cfg Config, f *channel.File, product, channelName, version string, percent float64) error {
	if err := CheckRelease(ctx, cfg, product, version); err != nil {
		return err
	}
	return f.Promote(product, channelName, version, percent)
}

// Rollback restores the channel's previous version in f after checking
// that release still verifies. It returns the version rolled back to.
func Rollback(ctx context.Context, cfg Config, f *channel.File, product, channelName string) (string, error) {
	prev, ok := f.RollbackTarget(product, channelName)
	if !ok {
		if _, err := f.Channel(product, channelName); err != nil {
			return "", err
		}
		return "", channel.ErrNoHistory
	}
	if err := CheckRelease(ctx, cfg, product, prev.Version); err != nil {
		return "", err
	}
	return f.Rollback(product, channelName)
}
