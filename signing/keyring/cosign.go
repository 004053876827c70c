package keyring

import (
	"context"
	"fmt"

	"github.com/slipwayhq/slipway/signing/cosign"
)

// CosignSigner builds the cosign backend from CosignKey and CosignPassword.
func (c Config) CosignSigner() (*cosign.Signer, error) {
	if c.CosignKey == "" {
		return nil, fmt.Errorf("cosign: %w (set %s)", ErrNotConfigured, EnvCosignKey)
	}
	key, err := cosign.LoadPrivateKeyFile(c.CosignKey, c.CosignPassword)
	if err != nil {
		return nil, fmt.Errorf("%w (password from %s)", err, EnvCosignPassword)
	}
	return cosign.NewFromKey(key, cosign.Options{})
}

// generateCosign returns a new cosign key pair (private, public PEM).
func generateCosign(password []byte) (priv, pub []byte, err error) {
	return cosign.GenerateKeyPair(password)
}

// newCosignVerifier returns a verifier for a cosign public key (PEM).
func newCosignVerifier(pub []byte) (Verifier, error) {
	v, err := cosign.NewVerifier(pub)
	if err != nil {
		return nil, fmt.Errorf("cosign public key: %w", err)
	}
	return cosignVerifier{v}, nil
}

type cosignVerifier struct{ v *cosign.Verifier }

func (c cosignVerifier) VerifyFile(ctx context.Context, path string) (string, error) {
	if err := c.v.VerifyFile(ctx, path); err != nil {
		return "", err
	}
	return "cosign signature and Sigstore bundle", nil
}
