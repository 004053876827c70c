package keyring

import (
	"bytes"
	"context"
	"fmt"

	"github.com/slipwayhq/slipway/signing/minisign"
)

// Verifier checks the detached signatures next to a file with a public key.
type Verifier interface {
	// VerifyFile verifies path's signatures and returns a short
	// description of what was verified (e.g. the trusted comment).
	VerifyFile(ctx context.Context, path string) (string, error)
}

// VerifyOptions tunes NewVerifier. The zero value is safe.
type VerifyOptions struct {
	// Version, for minisign, must equal the signed "version:" (Tauri's
	// rule). Default: not checked.
	Version string
}

// DetectKind tells a cosign public key (PEM) from a minisign one.
func DetectKind(pub []byte) string {
	if bytes.HasPrefix(bytes.TrimSpace(pub), []byte("-----BEGIN")) {
		return KindCosign
	}
	return KindMinisign
}

// NewVerifier returns a verifier for a public key of the given kind
// ("" detects it from the key); one case per backend.
func NewVerifier(kind string, pub []byte, opts VerifyOptions) (Verifier, error) {
	if kind == "" {
		kind = DetectKind(pub)
	}
	switch kind {
	case KindMinisign:
		pk, err := minisign.ParsePublicKey(pub)
		if err != nil {
			return nil, fmt.Errorf("minisign public key: %w", err)
		}
		return minisignVerifier{minisign.NewVerifier(pk, minisign.VerifierOptions{Version: opts.Version})}, nil
	case KindCosign:
		return newCosignVerifier(pub)
	}
	return nil, fmt.Errorf("unknown key kind %q (want one of %v)", kind, Kinds())
}

type minisignVerifier struct{ v *minisign.Verifier }

func (m minisignVerifier) VerifyFile(ctx context.Context, path string) (string, error) {
	sig, err := m.v.VerifyFile(ctx, path)
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("minisign key %s, trusted comment %q", sig.KeyID, sig.TrustedComment), nil
}
