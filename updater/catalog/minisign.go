package catalog

import (
	"context"
	"io"

	"github.com/slipwayhq/slipway/signing/minisign"
)

// Minisign verifies artifacts with one minisign public key (the release
// signing key; what Tauri apps embed as pubkey).
type Minisign struct {
	Key *minisign.PublicKey
}

var _ Verifier = Minisign{}

// Verify checks minisig (the .minisig text) over data.
func (m Minisign) Verify(ctx context.Context, data io.Reader, minisig []byte) error {
	sig, err := minisign.ParseSignature(minisig)
	if err != nil {
		return err
	}
	return minisign.Verify(m.Key, data, sig)
}

// SignedVersion returns the "version:" of a .minisig's trusted comment.
func SignedVersion(minisig []byte) (string, bool) {
	sig, err := minisign.ParseSignature(minisig)
	if err != nil {
		return "", false
	}
	return sig.Field("version")
}
