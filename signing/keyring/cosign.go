package keyring

import (
	"errors"
	"fmt"

	"github.com/slipwayhq/slipway/signing"
)

// errCosignUnavailable stands in until signing/cosign is part of the
// build; wiring it is one line in each function below.
var errCosignUnavailable = errors.New("cosign backend not available in this build")

// CosignSigner builds the cosign backend from CosignKey and CosignPassword.
func (c Config) CosignSigner() (signing.Backend, error) {
	if c.CosignKey == "" {
		return nil, fmt.Errorf("cosign: %w (set %s)", ErrNotConfigured, EnvCosignKey)
	}
	return nil, fmt.Errorf("cosign key %s: %w", c.CosignKey, errCosignUnavailable)
}

// generateCosign returns a new cosign key pair (private, public PEM).
func generateCosign(password []byte) (priv, pub []byte, err error) {
	return nil, nil, errCosignUnavailable
}
