package cosign

import (
	"bytes"
	"context"
	"crypto"
	"crypto/subtle"
	"encoding/asn1"
	"encoding/base64"
	"errors"
	"fmt"
	"math/big"
	"time"

	"github.com/sigstore/sigstore-go/pkg/root"
	"github.com/sigstore/sigstore-go/pkg/verify"
	"github.com/sigstore/sigstore/pkg/signature"
	"github.com/sigstore/sigstore/pkg/signature/options"

	"github.com/slipwayhq/slipway/signing"
)

// maxSigFile bounds a .cosign.sig file: base64 of a P-256 DER signature is
// at most 96 bytes.
const maxSigFile = 1 << 10

// Verifier checks cosign signatures and bundles against one public key.
type Verifier struct {
	sv     signature.Verifier
	hint   string
	bundle *verify.Verifier
}

// NewVerifier returns a Verifier for a cosign.pub PEM (ECDSA P-256).
func NewVerifier(pubPEM []byte) (*Verifier, error) {
	pub, err := ParsePublicKey(pubPEM)
	if err != nil {
		return nil, err
	}
	sv, err := signature.LoadVerifier(pub, crypto.SHA256)
	if err != nil {
		return nil, fmt.Errorf("cosign public key: %w: %w", signing.ErrBadKey, err)
	}
	hint, err := keyHint(pub)
	if err != nil {
		return nil, fmt.Errorf("cosign public key: %w: %w", signing.ErrBadKey, err)
	}
	v := &Verifier{sv: sv, hint: hint}
	// A key has no validity window (cosign uses the same zero times), and a
	// bundle made offline has no timestamp to check.
	key := root.NewExpiringKey(sv, time.Time{}, time.Time{})
	trusted := root.NewTrustedPublicKeyMaterial(func(h string) (root.TimeConstrainedVerifier, error) {
		if subtle.ConstantTimeCompare([]byte(h), []byte(v.hint)) != 1 {
			return nil, fmt.Errorf("bundle key hint %q does not match the public key (%s)", h, v.hint)
		}
		return key, nil
	})
	v.bundle, err = verify.NewVerifier(trusted, verify.WithNoObserverTimestamps())
	if err != nil {
		return nil, fmt.Errorf("cosign verifier: %w", err)
	}
	return v, nil
}

// VerifyFile hashes the file once and checks both <path>.cosign.sig and
// <path>.sigstore.json. Verification failures wrap signing.ErrBadSignature.
func (v *Verifier) VerifyFile(ctx context.Context, path string) error {
	digest, err := hashFile(ctx, path)
	if err != nil {
		return fmt.Errorf("cosign verify %s: %w", path, err)
	}
	files := []struct {
		ext   string
		limit int64
		check func(digest, data []byte) error
	}{
		{signing.CosignSigExt, maxSigFile, v.VerifySignature},
		{signing.CosignBundleExt, maxBundleFile, v.VerifyBundle},
	}
	for _, f := range files {
		data, err := signing.ReadFileLimited(path+f.ext, f.limit)
		if errors.Is(err, signing.ErrTooLarge) {
			return fmt.Errorf("cosign verify %s: %w: %w", path+f.ext, signing.ErrBadSignature, err)
		}
		if err != nil {
			return fmt.Errorf("cosign verify %s: %w", path, err)
		}
		if err := f.check(digest, data); err != nil {
			return fmt.Errorf("cosign verify %s: %w", path+f.ext, err)
		}
	}
	return nil
}

// VerifySignature checks a .cosign.sig (standard base64 of an ASN.1 DER
// ECDSA signature, as `cosign sign-blob --output-signature` writes it; one
// trailing newline, as printed to stdout, is tolerated) over a SHA-256
// digest. Errors wrap signing.ErrBadSignature.
func (v *Verifier) VerifySignature(digest, sigB64 []byte) error {
	sig, err := decodeSignature(sigB64)
	if err != nil {
		return fmt.Errorf("%w: %w", signing.ErrBadSignature, err)
	}
	if err := v.sv.VerifySignature(bytes.NewReader(sig), nil, options.WithDigest(digest)); err != nil {
		return fmt.Errorf("%w: %w", signing.ErrBadSignature, err)
	}
	return nil
}

// VerifyBundle checks a Sigstore bundle (v0.1–v0.3 media types, key hint,
// SHA-256 message signature) over a SHA-256 digest with sigstore-go's
// verifier: the digest must match, the hint must name this key and the
// signature must verify. Errors wrap signing.ErrBadSignature.
func (v *Verifier) VerifyBundle(digest, bundleJSON []byte) error {
	b, err := parseBundle(bundleJSON)
	if err != nil {
		return fmt.Errorf("%w: %w", signing.ErrBadSignature, err)
	}
	if err := checkDER(b.GetMessageSignature().GetSignature()); err != nil {
		return fmt.Errorf("%w: bundle: %w", signing.ErrBadSignature, err)
	}
	policy := verify.NewPolicy(verify.WithArtifactDigest("sha256", digest), verify.WithKey())
	if _, err := v.bundle.Verify(b, policy); err != nil {
		return fmt.Errorf("%w: %w", signing.ErrBadSignature, err)
	}
	return nil
}

// decodeSignature strictly decodes base64 and requires exactly one DER
// ECDSA-Sig-Value (the library verifier would also take raw r||s).
func decodeSignature(sigB64 []byte) ([]byte, error) {
	if len(sigB64) > maxSigFile {
		return nil, fmt.Errorf("signature larger than %d bytes", maxSigFile)
	}
	sigB64 = bytes.TrimSuffix(sigB64, []byte("\n"))
	if bytes.ContainsAny(sigB64, "\r\n") { // the base64 decoder would skip them
		return nil, errors.New("signature has embedded line breaks")
	}
	sig, err := base64.StdEncoding.Strict().DecodeString(string(sigB64))
	if err != nil {
		return nil, fmt.Errorf("signature is not base64: %w", err)
	}
	return sig, checkDER(sig)
}

// checkDER requires exactly one ASN.1 DER ECDSA-Sig-Value.
func checkDER(sig []byte) error {
	var rs struct{ R, S *big.Int }
	rest, err := asn1.Unmarshal(sig, &rs)
	if err != nil || len(rest) != 0 || rs.R.Sign() <= 0 || rs.S.Sign() <= 0 {
		return errors.New("signature is not a DER ECDSA signature")
	}
	return nil
}
