package minisign

import (
	"crypto/ed25519"
	"fmt"
	"io"
	"strconv"
	"time"

	"golang.org/x/crypto/blake2b"

	"github.com/slipwayhq/slipway/signing"
)

// hashBufLen is the read size for prehashing: large enough that syscalls
// are noise next to BLAKE2b.
const hashBufLen = 1 << 20

// SignOptions shapes the comments of a signature. The zero value gives a
// trusted comment of "timestamp:<now>".
type SignOptions struct {
	// TrustedComment replaces the generated trusted comment entirely.
	TrustedComment string
	// FileName is the artifact's base name, recorded as "file:<name>".
	FileName string
	// Version is the app version, recorded as "version:<v>" (what Tauri's
	// updater compares with the version it was offered).
	Version string
	// UntrustedComment is line 1. Default: DefaultSignatureComment.
	UntrustedComment string
	// Time is the signing time recorded as "timestamp:<unix>". Default: now.
	Time time.Time
}

// trusted builds the Tauri-style comment:
// timestamp:<unix>\tfile:<basename>\tversion:<version>.
func (o SignOptions) trusted() (string, error) {
	if o.TrustedComment != "" {
		return o.TrustedComment, checkTrusted(o.TrustedComment)
	}
	t := o.Time
	if t.IsZero() {
		t = time.Now()
	}
	c := "timestamp:" + strconv.FormatInt(t.Unix(), 10)
	for _, f := range []struct{ name, v string }{{"file", o.FileName}, {"version", o.Version}} {
		if f.v == "" {
			continue
		}
		if err := checkTrusted(f.v); err != nil {
			return "", fmt.Errorf("%s: %w", f.name, err)
		}
		for i := 0; i < len(f.v); i++ {
			if f.v[i] == '\t' {
				return "", fmt.Errorf("%s %q contains a tab", f.name, f.v)
			}
		}
		c += "\t" + f.name + ":" + f.v
	}
	return c, checkTrusted(c)
}

// Prehash returns BLAKE2b-512 of everything r yields, streaming.
func Prehash(r io.Reader) ([]byte, error) {
	h, _ := blake2b.New512(nil)
	buf := make([]byte, hashBufLen)
	if _, err := io.CopyBuffer(h, r, buf); err != nil {
		return nil, fmt.Errorf("hash data: %w", err)
	}
	return h.Sum(nil), nil
}

// Sign makes a prehashed ("ED") signature of data, streaming it once.
func Sign(sk *SecretKey, data io.Reader, opts SignOptions) (*Signature, error) {
	if err := checkSecret(sk); err != nil {
		return nil, err
	}
	if _, err := opts.comments(); err != nil {
		return nil, err
	}
	digest, err := Prehash(data)
	if err != nil {
		return nil, err
	}
	return SignPrehashed(sk, digest, opts)
}

// SignPrehashed signs a BLAKE2b-512 digest computed by the caller (see
// Prehash), for callers that hash a file once for several purposes.
func SignPrehashed(sk *SecretKey, digest []byte, opts SignOptions) (*Signature, error) {
	if err := checkSecret(sk); err != nil {
		return nil, err
	}
	if len(digest) != blake2b.Size {
		return nil, fmt.Errorf("sign: digest is %d bytes, want a %d-byte BLAKE2b-512", len(digest), blake2b.Size)
	}
	s, err := opts.comments()
	if err != nil {
		return nil, err
	}
	s.KeyID = sk.ID
	copy(s.Sig[:], ed25519.Sign(sk.key, digest))
	copy(s.GlobalSig[:], ed25519.Sign(sk.key, s.globalMessage()))
	return s, nil
}

func checkSecret(sk *SecretKey) error {
	if sk == nil || len(sk.key) != ed25519.PrivateKeySize {
		return fmt.Errorf("sign: %w: no usable secret key", signing.ErrBadKey)
	}
	return nil
}

// comments returns an unsigned Signature holding the validated comments.
func (o SignOptions) comments() (*Signature, error) {
	untrusted := o.UntrustedComment
	if untrusted == "" {
		untrusted = DefaultSignatureComment
	}
	if err := checkComment(untrusted, MaxCommentLen); err != nil {
		return nil, fmt.Errorf("untrusted comment: %w", err)
	}
	trusted, err := o.trusted()
	if err != nil {
		return nil, fmt.Errorf("trusted comment: %w", err)
	}
	return &Signature{UntrustedComment: untrusted, TrustedComment: trusted}, nil
}

// globalMessage is what the global signature covers: sig || trusted comment.
func (s *Signature) globalMessage() []byte {
	return append(s.Sig[:len(s.Sig):len(s.Sig)], s.TrustedComment...)
}

// Verify checks sig against data and pk: the key id, the data signature
// (over BLAKE2b-512(data) for "ED", over the raw bytes for legacy "Ed") and
// the global signature over the trusted comment. Errors wrap
// signing.ErrBadSignature.
func Verify(pk *PublicKey, data io.Reader, sig *Signature) error {
	if sig.Legacy {
		b, err := io.ReadAll(io.LimitReader(data, MaxLegacyDataLen+1))
		if err != nil {
			return fmt.Errorf("read data: %w", err)
		}
		if len(b) > MaxLegacyDataLen {
			return ErrLegacyTooLarge
		}
		return verifyMessage(pk, b, sig)
	}
	if err := checkSigner(pk, sig); err != nil {
		return err // before hashing a large file for nothing
	}
	digest, err := Prehash(data)
	if err != nil {
		return err
	}
	return VerifyPrehashed(pk, digest, sig)
}

// VerifyPrehashed checks a prehashed ("ED") signature against a
// BLAKE2b-512 digest computed by the caller.
func VerifyPrehashed(pk *PublicKey, digest []byte, sig *Signature) error {
	if sig.Legacy {
		return fmt.Errorf("%w: legacy signature needs the data, not a digest", ErrUnsupportedAlgorithm)
	}
	return verifyMessage(pk, digest, sig)
}

// checkSigner checks the public key and that it made sig (by key id).
func checkSigner(pk *PublicKey, sig *Signature) error {
	if pk == nil || len(pk.Key) != ed25519.PublicKeySize {
		return fmt.Errorf("verify: %w: no usable public key", signing.ErrBadKey)
	}
	if sig.KeyID != pk.ID {
		return fmt.Errorf("%w: signed by %s, public key is %s", ErrKeyIDMismatch, sig.KeyID, pk.ID)
	}
	return nil
}

// verifyMessage checks the data signature over msg and the global signature.
func verifyMessage(pk *PublicKey, msg []byte, sig *Signature) error {
	if err := checkSigner(pk, sig); err != nil {
		return err
	}
	if !ed25519.Verify(pk.Key, msg, sig.Sig[:]) {
		return fmt.Errorf("%w: data signature does not match", signing.ErrBadSignature)
	}
	if !ed25519.Verify(pk.Key, sig.globalMessage(), sig.GlobalSig[:]) {
		return fmt.Errorf("%w: trusted comment signature does not match", signing.ErrBadSignature)
	}
	return nil
}
