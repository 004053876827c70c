// Package minisign implements minisign keys and signatures in pure Go: the
// format Tauri's updater verifies (prehashed "ED" signatures whose trusted
// comment carries the app version) and that Debian's `minisign` CLI reads.
//
// Wire formats follow shared/interop/SPEC.md §2: secret keys may be
// password-protected with scrypt exactly as libsodium's
// crypto_pwhash_scryptsalsa208sha256 derives them, and always carry the
// BLAKE2b-256 checksum that Tauri's signer (rust-minisign) insists on.
// Every parser is strict and size-limited; verification checks both the data
// signature and the global signature over the trusted comment.
package minisign

import (
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"

	"github.com/slipwayhq/slipway/signing"
)

// Algorithm and format identifiers (two bytes each in the binary blobs).
const (
	algLegacy    = "Ed"       // signature over the raw file bytes
	algPrehashed = "ED"       // signature over BLAKE2b-512(file)
	kdfScrypt    = "Sc"       // scrypt-encrypted secret key
	kdfNone      = "\x00\x00" // unencrypted secret key (minisign -W)
	chkBlake2b   = "B2"       // BLAKE2b-256 checksum of the secret key
)

// Prefixes of the comment lines.
const (
	untrustedPrefix = "untrusted comment: "
	trustedPrefix   = "trusted comment: "
)

// Size limits for everything this package parses.
const (
	// MaxCommentLen bounds an untrusted comment (C minisign: < 1024 bytes).
	MaxCommentLen = 1023
	// MaxTrustedCommentLen bounds a trusted comment (C minisign: < 8192 bytes).
	MaxTrustedCommentLen = 8191
	// MaxSignatureLen bounds a .minisig file: both comments, their
	// prefixes, the two base64 lines and four newlines.
	MaxSignatureLen = len(untrustedPrefix) + MaxCommentLen + len(trustedPrefix) + MaxTrustedCommentLen + 100 + 88 + 4
	// MaxTauriSignatureLen bounds a Tauri .sig (base64 of a .minisig).
	MaxTauriSignatureLen = (MaxSignatureLen + 2) / 3 * 4
	// MaxKeyLen bounds a key file in any accepted form (text or base64 of it).
	MaxKeyLen = (len(untrustedPrefix)+MaxCommentLen+212+2+2)/3*4 + 2
	// MaxLegacyDataLen bounds the data a legacy "Ed" signature is checked
	// against: legacy signatures sign the raw bytes, which must be held in
	// memory. Prehashed signatures stream and have no limit.
	MaxLegacyDataLen = 1 << 30
)

// Default comments written by Slipway.
const (
	DefaultSignatureComment = "signature from slipway secret key"
	DefaultSecretKeyComment = "minisign encrypted secret key"
)

// Errors, matched with errors.Is. Signature errors wrap
// signing.ErrBadSignature and key errors wrap signing.ErrBadKey, so callers
// that only care about the broad class can match those.
var (
	// ErrMalformedSignature: the signature text is not a valid minisign signature.
	ErrMalformedSignature = fmt.Errorf("%w: malformed minisign signature", signing.ErrBadSignature)
	// ErrUnsupportedAlgorithm: the signature algorithm is neither "ED" nor "Ed".
	ErrUnsupportedAlgorithm = fmt.Errorf("%w: unsupported signature algorithm", signing.ErrBadSignature)
	// ErrKeyIDMismatch: the signature was made by another key.
	ErrKeyIDMismatch = fmt.Errorf("%w: signature key id does not match the public key", signing.ErrBadSignature)
	// ErrLegacyTooLarge: a legacy "Ed" signature over more than MaxLegacyDataLen bytes.
	ErrLegacyTooLarge = fmt.Errorf("%w: data too large for a legacy (non-prehashed) signature", signing.ErrBadSignature)
	// ErrMalformedKey: the key text is not a valid minisign key.
	ErrMalformedKey = fmt.Errorf("%w: malformed minisign key", signing.ErrBadKey)
	// ErrWrongKind: the input is a key or signature of another kind
	// (a public key given as secret key, a cosign PEM key, a signature...).
	ErrWrongKind = fmt.Errorf("%w: not a minisign key of the expected kind", signing.ErrBadKey)
	// ErrCorruptKey: an unencrypted secret key whose checksum or embedded
	// public key does not match its secret scalar.
	ErrCorruptKey = fmt.Errorf("%w: corrupted minisign secret key (checksum mismatch)", signing.ErrBadKey)
	// ErrKDFTooExpensive: the scrypt parameters in a key exceed the limits.
	ErrKDFTooExpensive = fmt.Errorf("%w: scrypt parameters in key too high", signing.ErrBadKey)
)

// b64 is the only base64 flavour minisign uses: standard alphabet, padded,
// and strict (no stray bits, no whitespace).
var b64 = base64.StdEncoding.Strict()

// decodeB64 decodes strict standard base64. Go's decoder skips CR and LF
// even in strict mode; minisign's and Tauri's decoders do not, so neither
// does this one.
func decodeB64(s string) ([]byte, error) {
	if i := strings.IndexAny(s, "\r\n"); i >= 0 {
		return nil, fmt.Errorf("illegal line break in base64 at offset %d", i)
	}
	return b64.DecodeString(s)
}

// KeyID is the random 8-byte identifier shared by a key pair and its signatures.
type KeyID [8]byte

// String renders the key id the way minisign displays it: the bytes read as
// a little-endian uint64, printed as 16 upper-case hex digits.
func (id KeyID) String() string {
	return fmt.Sprintf("%016X", binary.LittleEndian.Uint64(id[:]))
}

// decodeLine decodes one strict base64 line into exactly n bytes.
func decodeLine(line string, n int) ([]byte, error) {
	if len(line) != base64.StdEncoding.EncodedLen(n) {
		return nil, fmt.Errorf("base64 line has %d characters, want %d", len(line), base64.StdEncoding.EncodedLen(n))
	}
	b, err := decodeB64(line)
	if err != nil {
		return nil, fmt.Errorf("invalid base64: %w", err)
	}
	if len(b) != n {
		return nil, fmt.Errorf("decoded %d bytes, want %d", len(b), n)
	}
	return b, nil
}

// checkComment rejects comments that cannot be written on one line.
func checkComment(c string, limit int) error {
	if len(c) > limit {
		return fmt.Errorf("comment is %d bytes, limit %d", len(c), limit)
	}
	for i := 0; i < len(c); i++ {
		if c[i] == '\r' || c[i] == '\n' || c[i] == 0 {
			return errors.New("comment contains a line break or NUL")
		}
	}
	return nil
}

// checkTrusted additionally requires a printable trusted comment: no control
// characters other than tab (the field separator Tauri and minisign use).
func checkTrusted(c string) error {
	if err := checkComment(c, MaxTrustedCommentLen); err != nil {
		return err
	}
	for i := 0; i < len(c); i++ {
		if b := c[i]; (b < 0x20 && b != '\t') || b == 0x7f {
			return fmt.Errorf("trusted comment contains non-printable byte 0x%02x", b)
		}
	}
	return nil
}
