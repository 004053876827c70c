package release

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sort"

	"github.com/slipwayhq/slipway/signing"
	"github.com/slipwayhq/slipway/signing/keyring"
)

// keysStep loads the artifact signers: Options.Signers, or the keyring's
// (dev keys under <data>/keys for a snapshot, keys from the environment for
// a real release).
type keysStep struct{}

func (keysStep) Name() string { return "keys" }

func (keysStep) Run(ctx context.Context, r *run) error {
	if r.done {
		return errAlreadyPublished
	}
	if r.dist == nil && !r.external {
		return skip("nothing to sign")
	}
	if r.signers == nil {
		// Decrypting the keys (scrypt) is CPU-bound: it takes a core
		// while the installers are built side by side.
		done, err := r.cpu(ctx)
		if err != nil {
			return err
		}
		s, err := defaultSigners(r.opts, r.report.Version)
		done()
		if err != nil {
			return err
		}
		r.signers = s
	}
	if len(r.signers) == 0 {
		return errors.New("no artifact signers configured")
	}
	kinds, err := signatureKinds(r.signers)
	if err != nil {
		return err
	}
	r.kinds = kinds
	for _, s := range r.signers {
		if problems := s.Check(ctx); len(problems) > 0 {
			return fmt.Errorf("%s signer not ready: %w", s, errors.Join(problems...))
		}
	}
	return nil
}

// signatureKinds lists the signature kinds the signers write, sorted.
func signatureKinds(signers []signing.Backend) ([]string, error) {
	var kinds []string
	for _, s := range signers {
		ks, ok := backendKinds[s.String()]
		if !ok {
			return nil, fmt.Errorf("%s cannot sign release artifacts (want cosign or minisign)", s)
		}
		kinds = append(kinds, ks...)
	}
	sort.Strings(kinds)
	return kinds, nil
}

// defaultSigners loads the keyring's artifact signers: dev keys generated
// (once) under <DataDir>/keys for a snapshot, else keys from the
// environment (SLIPWAY_COSIGN_KEY, SLIPWAY_MINISIGN_KEY / TAURI_SIGNING_PRIVATE_KEY...).
// Minisign signatures carry version:<version> in their trusted comment, as
// current Tauri updaters require (SignedVersionMismatch/MissingSignedVersion).
func defaultSigners(o Options, version string) ([]signing.Backend, error) {
	cfg := keyring.FromEnv()
	if o.Snapshot {
		var err error
		if cfg, err = keyring.EnsureDevKeys(filepath.Join(o.DataDir, "keys")); err != nil {
			return nil, fmt.Errorf("dev keys: %w", err)
		}
	}
	cfg.Version = version
	return cfg.ArtifactSigners()
}
