package catalog

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

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

// MinisignKeys verifies with whichever of several keys made the signature
// (the keys a product trusts, several while a key change overlaps).
type MinisignKeys struct {
	Product string // for error messages
	Keys    []*minisign.PublicKey
}

var _ Verifier = MinisignKeys{}

// Verify checks minisig with the listed key of the same key id.
func (m MinisignKeys) Verify(ctx context.Context, data io.Reader, minisig []byte) error {
	sig, err := minisign.ParseSignature(minisig)
	if err != nil {
		return err
	}
	ids := make([]string, 0, len(m.Keys))
	for _, k := range m.Keys {
		if k.ID == sig.KeyID {
			return minisign.Verify(k, data, sig)
		}
		ids = append(ids, k.ID.String())
	}
	return fmt.Errorf("%w: signed with key %s; %s trusts %s (keys in the channels file)",
		minisign.ErrKeyIDMismatch, sig.KeyID, m.Product, strings.Join(ids, ", "))
}

// ByProduct picks a product's own trusted keys, else Default.
type ByProduct struct {
	Default  Verifier
	Products map[string][]*minisign.PublicKey
}

// For returns the verifier of product's artifacts.
func (b ByProduct) For(product string) Verifier {
	if keys := b.Products[product]; len(keys) > 0 {
		return MinisignKeys{Product: product, Keys: keys}
	}
	return b.Default
}

// Verify uses Default: Check asks For the product first.
func (b ByProduct) Verify(ctx context.Context, data io.Reader, minisig []byte) error {
	if b.Default == nil {
		return errors.New("catalog: no default release key")
	}
	return b.Default.Verify(ctx, data, minisig)
}

// productVerifier is a Verifier that has a better one for some products.
type productVerifier interface {
	For(product string) Verifier
}
