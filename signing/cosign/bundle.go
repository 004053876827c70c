package cosign

import (
	"errors"
	"fmt"

	protobundle "github.com/sigstore/protobuf-specs/gen/pb-go/bundle/v1"
	protocommon "github.com/sigstore/protobuf-specs/gen/pb-go/common/v1"
	sgbundle "github.com/sigstore/sigstore-go/pkg/bundle"
)

// BundleMediaType is the media type of the bundles Signer writes (what
// `cosign sign-blob --new-bundle-format` writes).
const BundleMediaType = "application/vnd.dev.sigstore.bundle.v0.3+json"

// maxBundleFile bounds a bundle read from disk. A key-based bundle is about
// 450 bytes; one with Rekor entries and a certificate a few KiB.
const maxBundleFile = 64 << 10

// marshalBundle builds the offline, key-based bundle for a SHA-256 message
// signature: publicKey hint, messageDigest, signature, no tlog entries.
// It is checked by sigstore-go's bundle validation before it is serialized
// with protojson (the serializer cosign uses).
func marshalBundle(hint string, digest, sig []byte) ([]byte, error) {
	pb := &protobundle.Bundle{
		MediaType: BundleMediaType,
		VerificationMaterial: &protobundle.VerificationMaterial{
			Content: &protobundle.VerificationMaterial_PublicKey{
				PublicKey: &protocommon.PublicKeyIdentifier{Hint: hint},
			},
		},
		Content: &protobundle.Bundle_MessageSignature{
			MessageSignature: &protocommon.MessageSignature{
				MessageDigest: &protocommon.HashOutput{
					Algorithm: protocommon.HashAlgorithm_SHA2_256,
					Digest:    digest,
				},
				Signature: sig,
			},
		},
	}
	b, err := sgbundle.NewBundle(pb)
	if err != nil {
		return nil, fmt.Errorf("build sigstore bundle: %w", err)
	}
	return b.MarshalJSON()
}

// parseBundle strictly parses a bundle (protojson rejects unknown fields;
// sigstore-go validates media type and structure) and requires the shape
// Slipway verifies: a SHA-256 message signature with a public key hint.
func parseBundle(data []byte) (*sgbundle.Bundle, error) {
	if len(data) > maxBundleFile {
		return nil, fmt.Errorf("bundle larger than %d bytes", maxBundleFile)
	}
	var b sgbundle.Bundle
	if err := b.UnmarshalJSON(data); err != nil {
		return nil, fmt.Errorf("parse bundle: %w", err)
	}
	pk := b.GetVerificationMaterial().GetPublicKey()
	if pk == nil {
		return nil, errors.New("bundle has no public key hint (certificate bundles are not supported)")
	}
	if pk.GetHint() == "" {
		return nil, errors.New("bundle public key hint is empty")
	}
	ms := b.GetMessageSignature()
	if ms == nil {
		return nil, errors.New("bundle holds no message signature")
	}
	if alg := ms.GetMessageDigest().GetAlgorithm(); alg != protocommon.HashAlgorithm_SHA2_256 {
		return nil, fmt.Errorf("bundle digest algorithm %s, want SHA2_256", alg)
	}
	return &b, nil
}
