package cosign

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"

	"github.com/sigstore/sigstore/pkg/signature/options"

	"github.com/slipwayhq/slipway/signing"
)

// ErrTlogUnsupported is returned by New when Options.TlogUpload is set:
// uploading to a Rekor transparency log is reserved but not implemented.
var ErrTlogUnsupported = errors.New("cosign: transparency log upload is not implemented; signatures are made offline")

// Options configures a Signer. The zero value signs offline with no logging.
type Options struct {
	// KeyName names the key in error messages (e.g. its file path).
	// Default: "cosign private key".
	KeyName string `json:"keyName,omitempty" yaml:"keyName,omitempty"`
	// TlogUpload would record each signature in a Rekor transparency log
	// (cosign's --tlog-upload). Reserved: not implemented yet, New returns
	// ErrTlogUnsupported when it is true. Default: false (offline, like
	// `cosign sign-blob --tlog-upload=false`).
	TlogUpload bool `json:"tlogUpload,omitempty" yaml:"tlogUpload,omitempty"`
	// Logger receives one debug line per signed file. Default: discard.
	Logger *slog.Logger `json:"-" yaml:"-"`
}

// Signer is the cosign signing backend: for each file it writes
// <f>.cosign.sig (base64 DER ECDSA signature, no newline) and
// <f>.sigstore.json (Sigstore bundle v0.3, key hint, no tlog entry).
type Signer struct {
	key      *PrivateKey
	verifier *Verifier
	log      *slog.Logger
}

var _ signing.Backend = (*Signer)(nil)

// New decrypts privPEM (see LoadPrivateKey) and returns a Signer.
func New(privPEM, password []byte, opts Options) (*Signer, error) {
	if opts.TlogUpload {
		return nil, ErrTlogUnsupported
	}
	key, err := loadPrivateKey(opts.KeyName, privPEM, password)
	if err != nil {
		return nil, err
	}
	return NewFromKey(key, opts)
}

// NewFromKey returns a Signer for an already decrypted key.
func NewFromKey(key *PrivateKey, opts Options) (*Signer, error) {
	if opts.TlogUpload {
		return nil, ErrTlogUnsupported
	}
	v, err := NewVerifier(key.pubPEM)
	if err != nil {
		return nil, err
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Signer{key: key, verifier: v, log: log}, nil
}

// String is the backend name.
func (s *Signer) String() string { return "cosign" }

// PublicKeyPEM returns the signer's public key as cosign.pub PEM.
func (s *Signer) PublicKeyPEM() []byte { return s.key.PublicKeyPEM() }

// Check reports what the backend lacks; cosign signing is pure Go and the
// key was decrypted by New, so nothing can be missing.
func (s *Signer) Check(context.Context) []error { return nil }

// Sign reads the file once, signs its SHA-256 digest and writes
// <path>.cosign.sig and <path>.sigstore.json next to it.
func (s *Signer) Sign(ctx context.Context, path string) ([]string, error) {
	digest, err := hashFile(ctx, path)
	if err != nil {
		return nil, fmt.Errorf("cosign sign %s: %w", path, err)
	}
	sig, err := s.key.sv.SignMessage(nil, options.WithDigest(digest), options.WithContext(ctx))
	if err != nil {
		return nil, fmt.Errorf("cosign sign %s: %w", path, err)
	}
	bundleJSON, err := marshalBundle(s.key.hint, digest, sig)
	if err != nil {
		return nil, fmt.Errorf("cosign sign %s: %w", path, err)
	}
	outputs := []struct {
		path string
		data []byte
	}{
		{path + signing.CosignSigExt, []byte(base64.StdEncoding.EncodeToString(sig))},
		{path + signing.CosignBundleExt, bundleJSON},
	}
	written := make([]string, 0, len(outputs))
	for _, o := range outputs {
		if err := signing.WriteFileAtomic(o.path, o.data, 0o644); err != nil { // signatures are public
			for _, w := range written {
				_ = os.Remove(w)
			}
			return nil, fmt.Errorf("cosign sign %s: %w", path, err)
		}
		written = append(written, o.path)
	}
	s.log.DebugContext(ctx, "cosign signed", "path", path, "sha256", hex.EncodeToString(digest))
	return written, nil
}

// Verify checks the file's .cosign.sig and .sigstore.json against the
// signer's own public key.
func (s *Signer) Verify(ctx context.Context, path string) error {
	return s.verifier.VerifyFile(ctx, path)
}

// hashFile streams the file once through SHA-256, honouring ctx.
func hashFile(ctx context.Context, path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	h := sha256.New()
	buf := make([]byte, 1<<20)
	if _, err := io.CopyBuffer(h, signing.ContextReader(ctx, f), buf); err != nil {
		return nil, err
	}
	return h.Sum(nil), nil
}
