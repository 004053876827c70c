package minisign

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/slipwayhq/slipway/signing"
)

// Options configures a Signer. The zero value is safe.
type Options struct {
	// Version is the app version written as "version:<v>" into every
	// trusted comment, and required by Verify when set. Default: none.
	Version string
	// UntrustedComment overrides line 1. Default: DefaultSignatureComment.
	UntrustedComment string
	// Now is the clock for the timestamp. Default: time.Now.
	Now func() time.Time
	// Logger receives one line per signed file. Default: discard.
	Logger *slog.Logger
}

// Signer is the minisign signing.Backend: for each file it writes
// <file>.minisig and the Tauri form <file>.sig.
type Signer struct {
	sk   *SecretKey
	opts Options
}

var _ signing.Backend = (*Signer)(nil)

// New returns a Signer for a decrypted secret key.
func New(sk *SecretKey, opts Options) (*Signer, error) {
	if sk == nil || sk.key == nil {
		return nil, fmt.Errorf("minisign: %w: no secret key", signing.ErrBadKey)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	return &Signer{sk: sk, opts: opts}, nil
}

// String is the backend name.
func (s *Signer) String() string { return "minisign" }

// PublicKey returns the public half of the signing key.
func (s *Signer) PublicKey() *PublicKey { return s.sk.Public() }

// Check reports nothing: minisign signing is pure Go and needs no tool.
func (s *Signer) Check(context.Context) []error { return nil }

// Sign streams the file once and writes <path>.minisig and <path>.sig.
func (s *Signer) Sign(ctx context.Context, path string) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("minisign: %w", err)
	}
	defer f.Close()
	digest, err := prehashFile(ctx, f)
	if err != nil {
		return nil, fmt.Errorf("minisign: sign %s: %w", path, err)
	}
	sig, err := SignPrehashed(s.sk, digest, SignOptions{
		FileName:         filepath.Base(path),
		Version:          s.opts.Version,
		UntrustedComment: s.opts.UntrustedComment,
		Time:             s.opts.Now(),
	})
	if err != nil {
		return nil, fmt.Errorf("minisign: sign %s: %w", path, err)
	}
	minisig, tauri := path+signing.MinisigExt, path+signing.TauriSigExt
	if err := signing.WriteFileAtomic(minisig, sig.Encode(), 0o644); err != nil {
		return nil, fmt.Errorf("minisign: %w", err)
	}
	if err := signing.WriteFileAtomic(tauri, []byte(sig.Tauri()), 0o644); err != nil {
		return nil, fmt.Errorf("minisign: %w", err)
	}
	s.opts.Logger.InfoContext(ctx, "signed", "backend", "minisign", "file", filepath.Base(path), "key_id", s.sk.ID.String())
	return []string{minisig, tauri}, nil
}

// Verify checks the signatures next to path with the signer's public key.
func (s *Signer) Verify(ctx context.Context, path string) error {
	_, err := NewVerifier(s.sk.Public(), VerifierOptions{Version: s.opts.Version}).VerifyFile(ctx, path)
	return err
}

// VerifierOptions configures a Verifier. The zero value is safe.
type VerifierOptions struct {
	// Version, when set, must equal the signed "version:" (Tauri's rule,
	// with requireSignedVersion). Default: not checked.
	Version string
}

// Verifier checks minisign/Tauri signatures next to files with a public key.
type Verifier struct {
	pk   *PublicKey
	opts VerifierOptions
}

// NewVerifier returns a Verifier for pk.
func NewVerifier(pk *PublicKey, opts VerifierOptions) *Verifier {
	return &Verifier{pk: pk, opts: opts}
}

// VerifyFile verifies <path>.minisig and <path>.sig, whichever exist (at
// least one must), and returns the verified signature. When both exist
// they must hold the same signature.
func (v *Verifier) VerifyFile(ctx context.Context, path string) (*Signature, error) {
	var sigs []*Signature
	minisig, err := signing.ReadFileLimited(path+signing.MinisigExt, int64(MaxSignatureLen))
	switch {
	case err == nil:
		s, err := ParseSignature(minisig)
		if err != nil {
			return nil, fmt.Errorf("%s%s: %w", path, signing.MinisigExt, err)
		}
		sigs = append(sigs, s)
	case !errors.Is(err, fs.ErrNotExist):
		return nil, err
	}
	tauri, err := signing.ReadFileLimited(path+signing.TauriSigExt, int64(MaxTauriSignatureLen))
	switch {
	case err == nil:
		s, err := ParseTauriSignature(string(tauri))
		if err != nil {
			return nil, fmt.Errorf("%s%s: %w", path, signing.TauriSigExt, err)
		}
		if len(sigs) == 1 && !bytes.Equal(sigs[0].Encode(), s.Encode()) {
			return nil, fmt.Errorf("%w: %s%s and %s differ", signing.ErrBadSignature, path, signing.TauriSigExt, signing.MinisigExt)
		}
		sigs = append(sigs, s)
	case !errors.Is(err, fs.ErrNotExist):
		return nil, err
	}
	if len(sigs) == 0 {
		return nil, fmt.Errorf("%s: no %s or %s signature: %w", path, signing.MinisigExt, signing.TauriSigExt, fs.ErrNotExist)
	}
	if err := v.verifyData(ctx, path, sigs[0]); err != nil {
		return nil, err
	}
	return sigs[0], nil
}

func (v *Verifier) verifyData(ctx context.Context, path string, sig *Signature) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	if sig.Legacy {
		err = Verify(v.pk, signing.ContextReader(ctx, f), sig)
	} else if err = checkSigner(v.pk, sig); err == nil {
		var digest []byte
		if digest, err = prehashFile(ctx, f); err == nil {
			err = VerifyPrehashed(v.pk, digest, sig)
		}
	}
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	if v.opts.Version != "" {
		if err := CheckSignedVersion(sig, v.opts.Version, true); err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
	}
	return nil
}
