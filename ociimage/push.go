package ociimage

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// Cosign's image signature format: a "simple signing" payload in a layer of
// an image tagged sha256-<digest>.sig next to the signed image, with the
// base64 signature of the payload in the layer's annotation.
const (
	simpleSigningMediaType = "application/vnd.dev.cosign.simplesigning.v1+json"
	signatureAnnotation    = "dev.cosignproject.cosign/signature"
)

// Pushed is where an image index went.
type Pushed struct {
	// Tag is the version tag (repo:<version>).
	Tag name.Tag
	// Digest is the immutable reference (repo@sha256:...).
	Digest name.Digest
}

// Insecure names registries reached over plain HTTP (a test registry on
// 127.0.0.1): pass it in the name options of Push.
var Insecure = name.Insecure

// Push writes the index to repo under tags and returns its digest reference.
// nameOpts parse the references (Insecure for plain HTTP); opts carry the
// registry's authentication and transport.
func Push(ctx context.Context, idx v1.ImageIndex, repo string, tags []string, nameOpts []name.Option, opts ...remote.Option) (*Pushed, error) {
	if len(tags) == 0 {
		return nil, fmt.Errorf("ociimage: no tag to push %s under", repo)
	}
	opts = append(opts, remote.WithContext(ctx))
	var first name.Tag
	for i, t := range tags {
		tag, err := name.NewTag(repo+":"+t, append([]name.Option{name.StrictValidation}, nameOpts...)...)
		if err != nil {
			return nil, fmt.Errorf("ociimage: tag %q: %w", t, err)
		}
		if err := remote.WriteIndex(tag, idx, opts...); err != nil {
			return nil, fmt.Errorf("ociimage: push %s: %w", tag, err)
		}
		if i == 0 {
			first = tag
		}
	}
	h, err := idx.Digest()
	if err != nil {
		return nil, err
	}
	dig, err := name.NewDigest(first.Context().Name()+"@"+h.String(), nameOpts...)
	if err != nil {
		return nil, err
	}
	return &Pushed{Tag: first, Digest: dig}, nil
}

// BlobSigner signs bytes with the release cosign key (cosign.Signer).
type BlobSigner interface {
	SignBlob(ctx context.Context, data []byte) ([]byte, error)
}

// Sign writes a cosign signature of the image at ref, verifiable with
// `cosign verify --key cosign.pub <ref>` (no transparency log: the release
// key signs offline, like every other Slipway signature).
func Sign(ctx context.Context, ref name.Digest, s BlobSigner, opts ...remote.Option) error {
	payload, err := json.Marshal(map[string]any{
		"critical": map[string]any{
			"identity": map[string]string{"docker-reference": ref.Context().Name()},
			"image":    map[string]string{"docker-manifest-digest": ref.DigestStr()},
			"type":     "cosign container image signature",
		},
		"optional": nil,
	})
	if err != nil {
		return err
	}
	sig, err := s.SignBlob(ctx, payload)
	if err != nil {
		return fmt.Errorf("ociimage: sign %s: %w", ref, err)
	}
	img, err := mutate.Append(mutate.MediaType(empty.Image, types.OCIManifestSchema1), mutate.Addendum{
		Layer:       static.NewLayer(payload, simpleSigningMediaType),
		Annotations: map[string]string{signatureAnnotation: base64.StdEncoding.EncodeToString(sig)},
	})
	if err != nil {
		return err
	}
	img = mutate.ConfigMediaType(img, types.OCIConfigJSON)
	tag := ref.Context().Tag(strings.Replace(ref.DigestStr(), ":", "-", 1) + ".sig")
	if err := remote.Write(tag, img, append(opts, remote.WithContext(ctx))...); err != nil {
		return fmt.Errorf("ociimage: push signature %s: %w", tag, err)
	}
	return nil
}
