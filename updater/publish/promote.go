package publish

import (
	"context"
	"errors"

	"github.com/slipwayhq/slipway/signing/minisign"
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
		return errors.New("no signature verifier configured (minisign public key; or name the product's keys in the channels file)")
	}
	return catalog.Check(ctx, cfg.Store, cfg.Prefix, rec, cfg.Verifier)
}

// WithTrust returns cfg verifying each product with the keys f names for
// it (channel.File.TrustedKeys), the others with cfg.Verifier.
func WithTrust(cfg Config, f *channel.File) (Config, error) {
	if len(f.Keys) == 0 {
		return cfg, nil
	}
	bp := catalog.ByProduct{Default: cfg.Verifier, Products: map[string][]*minisign.PublicKey{}}
	for product := range f.Keys {
		keys, err := f.TrustedKeys(product)
		if err != nil {
			return cfg, err
		}
		bp.Products[product] = keys
	}
	cfg.Verifier = bp
	return cfg, nil
}

// Promote checks the release (with the product's trusted keys) then points
// product/channel at it in f.
func Promote(ctx context.Context, cfg Config, f *channel.File, product, channelName, version string, percent float64) error {
	cfg, err := WithTrust(cfg, f)
	if err != nil {
		return err
	}
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
	cfg, err := WithTrust(cfg, f)
	if err != nil {
		return "", err
	}
	if err := CheckRelease(ctx, cfg, product, prev.Version); err != nil {
		return "", err
	}
	return f.Rollback(product, channelName)
}
