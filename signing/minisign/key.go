package minisign

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/subtle"
	"encoding/binary"
	"fmt"
	"io"
	"strings"

	"golang.org/x/crypto/blake2b"

	"github.com/slipwayhq/slipway/signing"
)

// Binary sizes (SPEC.md §2.2, §2.3).
const (
	publicKeyLen = 2 + 8 + ed25519.PublicKeySize                // 42
	keynumSKLen  = 8 + ed25519.PrivateKeySize + blake2b.Size256 // 104
	secretKeyLen = 2 + 2 + 2 + 32 + 8 + 8 + keynumSKLen         // 158
	signatureLen = 2 + 8 + ed25519.SignatureSize                // 74
)

// PublicKey is a minisign public key.
type PublicKey struct {
	ID  KeyID
	Key ed25519.PublicKey
}

// String returns the key's line-2 base64 form, what `minisign -P` takes.
func (pk *PublicKey) String() string {
	raw := make([]byte, 0, publicKeyLen)
	raw = append(raw, algLegacy...)
	raw = append(raw, pk.ID[:]...)
	raw = append(raw, pk.Key...)
	return b64.EncodeToString(raw)
}

// Encode returns the text of a minisign.pub file.
func (pk *PublicKey) Encode() []byte {
	return []byte(untrustedPrefix + "minisign public key " + pk.ID.String() + "\n" + pk.String() + "\n")
}

// Tauri returns the value for tauri.conf.json plugins.updater.pubkey:
// base64 of the public key file text.
func (pk *PublicKey) Tauri() string { return b64.EncodeToString(pk.Encode()) }

// ParsePublicKey reads a public key in any of its three forms: the text of
// a minisign.pub file, the bare line-2 base64 string, or Tauri's base64 of
// the file text (surrounding whitespace is ignored for the last two).
func ParsePublicKey(text []byte) (*PublicKey, error) {
	if len(text) > MaxKeyLen {
		return nil, fmt.Errorf("%w: public key is %d bytes, limit %d", ErrMalformedKey, len(text), MaxKeyLen)
	}
	s := string(text)
	if !strings.HasPrefix(s, untrustedPrefix) {
		s = strings.TrimSpace(s)
		if len(s) != b64.EncodedLen(publicKeyLen) {
			decoded, err := unwrapTauri(s)
			if err != nil {
				return nil, err
			}
			s = decoded
		}
	}
	if strings.HasPrefix(s, untrustedPrefix) {
		lines, err := splitKeyLines(s)
		if err != nil {
			return nil, err
		}
		if err := checkComment(lines[0][len(untrustedPrefix):], MaxCommentLen); err != nil {
			return nil, fmt.Errorf("%w: %w", ErrMalformedKey, err)
		}
		s = lines[1]
	}
	raw, err := decodeB64(s)
	if err != nil {
		return nil, fmt.Errorf("%w: public key: invalid base64: %w", ErrMalformedKey, err)
	}
	if err := sniffKind(raw, publicKeyLen, "public key"); err != nil {
		return nil, err
	}
	if string(raw[:2]) != algLegacy {
		return nil, fmt.Errorf("%w: public key algorithm %q, want \"Ed\"", ErrMalformedKey, raw[:2])
	}
	pk := &PublicKey{Key: ed25519.PublicKey(bytes.Clone(raw[10:]))}
	copy(pk.ID[:], raw[2:10])
	return pk, nil
}

// SecretKey is a decrypted minisign secret key. It remembers how it was
// stored (KDF salt and cost, encrypted blob) so Encode reproduces the key
// file without needing the password again. String never shows key material.
type SecretKey struct {
	ID      KeyID
	key     ed25519.PrivateKey
	comment string
	kdf     [2]byte
	salt    [32]byte
	ops     uint64
	mem     uint64
	sealed  [keynumSKLen]byte // keynum_sk as stored (encrypted when kdf == "Sc")
}

// KeyOptions tunes GenerateKeyWithOptions. The zero value is what
// GenerateKey uses.
type KeyOptions struct {
	// Rand is the randomness source. Default: crypto/rand.
	Rand io.Reader
	// OpsLimit and MemLimit are the libsodium scrypt cost stored in the
	// key. Default: DefaultOpsLimit / DefaultMemLimit (Tauri's).
	OpsLimit, MemLimit uint64
	// Comment is the untrusted comment line. Default: DefaultSecretKeyComment.
	Comment string
	// ScryptEmptyPassword encrypts with scrypt even when the password is
	// empty, instead of writing an unencrypted (minisign -W) key. This is
	// the form `tauri signer generate --ci` writes and the only
	// password-less form `tauri signer sign` 2.12 loads ("Key is not
	// encrypted" otherwise); C minisign loads it with an empty password.
	ScryptEmptyPassword bool
}

// GenerateKey makes a new key pair. A non-empty password encrypts the
// secret key with scrypt; an empty one leaves it unencrypted (minisign -W;
// see KeyOptions.ScryptEmptyPassword for the form Tauri 2.12 needs).
func GenerateKey(password []byte) (*SecretKey, *PublicKey, error) {
	return GenerateKeyWithOptions(password, KeyOptions{})
}

// GenerateKeyWithOptions is GenerateKey with explicit randomness and KDF cost.
func GenerateKeyWithOptions(password []byte, opts KeyOptions) (*SecretKey, *PublicKey, error) {
	if opts.Rand == nil {
		opts.Rand = rand.Reader
	}
	if opts.OpsLimit == 0 {
		opts.OpsLimit = DefaultOpsLimit
	}
	if opts.MemLimit == 0 {
		opts.MemLimit = DefaultMemLimit
	}
	if opts.Comment == "" {
		opts.Comment = DefaultSecretKeyComment
	}
	if err := checkComment(opts.Comment, MaxCommentLen); err != nil {
		return nil, nil, fmt.Errorf("secret key comment: %w", err)
	}
	seed := make([]byte, ed25519.SeedSize)
	sk := &SecretKey{comment: opts.Comment}
	if _, err := io.ReadFull(opts.Rand, seed); err != nil {
		return nil, nil, fmt.Errorf("generate key: %w", err)
	}
	if _, err := io.ReadFull(opts.Rand, sk.ID[:]); err != nil {
		return nil, nil, fmt.Errorf("generate key id: %w", err)
	}
	sk.key = ed25519.NewKeyFromSeed(seed)
	clear(seed)
	plain := sk.plainKeynum()
	copy(sk.sealed[:], plain)
	copy(sk.kdf[:], kdfNone)
	if len(password) > 0 || opts.ScryptEmptyPassword {
		copy(sk.kdf[:], kdfScrypt)
		sk.ops, sk.mem = opts.OpsLimit, opts.MemLimit
		if _, err := io.ReadFull(opts.Rand, sk.salt[:]); err != nil {
			return nil, nil, fmt.Errorf("generate salt: %w", err)
		}
		stream, err := kdfStream(password, sk.salt[:], sk.ops, sk.mem)
		if err != nil {
			return nil, nil, err
		}
		subtle.XORBytes(sk.sealed[:], plain, stream)
		clear(stream)
	}
	clear(plain)
	return sk, sk.Public(), nil
}

// Public returns the public half.
func (sk *SecretKey) Public() *PublicKey {
	return &PublicKey{ID: sk.ID, Key: bytes.Clone(sk.key.Public().(ed25519.PublicKey))}
}

// Encrypted reports whether the key file is password-protected.
func (sk *SecretKey) Encrypted() bool { return string(sk.kdf[:]) == kdfScrypt }

// String names the key without revealing it.
func (sk *SecretKey) String() string { return "minisign secret key " + sk.ID.String() }

// GoString keeps %#v from printing key material.
func (sk *SecretKey) GoString() string { return sk.String() }

// checksum is BLAKE2b-256(sig_alg || key_id || ed25519 secret key).
func (sk *SecretKey) checksum() []byte {
	h, _ := blake2b.New256(nil)
	h.Write([]byte(algLegacy))
	h.Write(sk.ID[:])
	h.Write(sk.key)
	return h.Sum(nil)
}

// plainKeynum is key_id || sk || checksum, unencrypted.
func (sk *SecretKey) plainKeynum() []byte {
	out := make([]byte, 0, keynumSKLen)
	out = append(out, sk.ID[:]...)
	out = append(out, sk.key...)
	return append(out, sk.checksum()...)
}

// Encode returns the text of the secret key file (minisign.key).
func (sk *SecretKey) Encode() []byte {
	raw := make([]byte, 0, secretKeyLen)
	raw = append(raw, algLegacy...)
	raw = append(raw, sk.kdf[:]...)
	raw = append(raw, chkBlake2b...)
	raw = append(raw, sk.salt[:]...)
	raw = binary.LittleEndian.AppendUint64(raw, sk.ops)
	raw = binary.LittleEndian.AppendUint64(raw, sk.mem)
	if sk.Encrypted() {
		raw = append(raw, sk.sealed[:]...)
	} else {
		// Always write the checksum, which C minisign -W leaves zero
		// but rust-minisign (Tauri) requires.
		raw = append(raw, sk.plainKeynum()...)
	}
	out := []byte(untrustedPrefix + sk.comment + "\n" + b64.EncodeToString(raw) + "\n")
	clear(raw)
	return out
}

// Tauri returns the form TAURI_SIGNING_PRIVATE_KEY takes: base64 of the
// key file text.
func (sk *SecretKey) Tauri() string { return b64.EncodeToString(sk.Encode()) }

// ParseSecretKey reads and decrypts a secret key from the text of a
// minisign.key file or Tauri's base64 of it. The errors wrap the shared
// signing errors: signing.ErrNoPassword when the key is encrypted and
// password is empty, signing.ErrWrongPassword, signing.ErrBadKey for
// truncated, corrupt or wrong-kind input.
func ParseSecretKey(text []byte, password []byte) (*SecretKey, error) {
	raw, comment, err := decodeSecretKey(text)
	if err != nil {
		return nil, err
	}
	defer clear(raw)
	sk := &SecretKey{comment: comment}
	if string(raw[:2]) != algLegacy {
		return nil, fmt.Errorf("%w: secret key algorithm %q, want \"Ed\"", ErrMalformedKey, raw[:2])
	}
	copy(sk.kdf[:], raw[2:4])
	if kdf := string(sk.kdf[:]); kdf != kdfScrypt && kdf != kdfNone {
		return nil, fmt.Errorf("%w: unsupported key encryption %q", ErrMalformedKey, kdf)
	}
	if string(raw[4:6]) != chkBlake2b {
		return nil, fmt.Errorf("%w: unsupported checksum algorithm %q", ErrMalformedKey, raw[4:6])
	}
	copy(sk.salt[:], raw[6:38])
	sk.ops = binary.LittleEndian.Uint64(raw[38:46])
	sk.mem = binary.LittleEndian.Uint64(raw[46:54])
	copy(sk.sealed[:], raw[54:])
	if err := sk.open(password); err != nil {
		return nil, err
	}
	return sk, nil
}

// decodeSecretKey returns the 158 raw bytes and the comment.
func decodeSecretKey(text []byte) ([]byte, string, error) {
	if len(text) > MaxKeyLen {
		return nil, "", fmt.Errorf("%w: secret key is %d bytes, limit %d", ErrMalformedKey, len(text), MaxKeyLen)
	}
	s := string(text)
	if strings.HasPrefix(s, "-----BEGIN") {
		return nil, "", fmt.Errorf("%w: this is a PEM key (cosign?), not a minisign secret key", ErrWrongKind)
	}
	if !strings.HasPrefix(s, untrustedPrefix) {
		decoded, err := unwrapTauri(strings.TrimSpace(s))
		if err != nil {
			return nil, "", err
		}
		s = decoded
	}
	lines, err := splitKeyLines(s)
	if err != nil {
		return nil, "", err
	}
	comment := lines[0][len(untrustedPrefix):]
	if err := checkComment(comment, MaxCommentLen); err != nil {
		return nil, "", fmt.Errorf("%w: %w", ErrMalformedKey, err)
	}
	raw, err := decodeB64(lines[1])
	if err != nil {
		return nil, "", fmt.Errorf("%w: secret key truncated or corrupt: invalid base64: %w", ErrMalformedKey, err)
	}
	if err := sniffKind(raw, secretKeyLen, "secret key"); err != nil {
		return nil, "", err
	}
	return raw, comment, nil
}

// sniffKind checks the decoded length and names what the blob is when it
// is some other minisign object.
func sniffKind(raw []byte, want int, what string) error {
	if len(raw) == want {
		return nil
	}
	kinds := map[int]string{publicKeyLen: "public key", secretKeyLen: "secret key", signatureLen: "signature"}
	if k, ok := kinds[len(raw)]; ok {
		return fmt.Errorf("%w: this is a minisign %s, not a %s", ErrWrongKind, k, what)
	}
	return fmt.Errorf("%w: %s truncated or corrupt: %d bytes, want %d", ErrMalformedKey, what, len(raw), want)
}

// open decrypts sealed with password and checks the checksum.
func (sk *SecretKey) open(password []byte) error {
	plain := make([]byte, keynumSKLen)
	defer clear(plain)
	switch {
	case !sk.Encrypted():
		copy(plain, sk.sealed[:])
		if !sk.load(plain, true) {
			return ErrCorruptKey
		}
		return nil
	case len(password) == 0:
		// Old Tauri CLIs wrote keys labelled "Sc" but left unencrypted
		// when the password was empty; accept those as they are.
		copy(plain, sk.sealed[:])
		if sk.load(plain, false) {
			return nil
		}
	}
	stream, err := kdfStream(password, sk.salt[:], sk.ops, sk.mem)
	if err != nil {
		return err
	}
	subtle.XORBytes(plain, sk.sealed[:], stream)
	clear(stream)
	if sk.load(plain, false) {
		return nil
	}
	if len(password) == 0 {
		return signing.ErrNoPassword
	}
	return signing.ErrWrongPassword
}

// load takes key_id||sk||checksum and keeps it when the checksum matches
// and the embedded public key belongs to the seed. zeroChecksumOK accepts
// the all-zero checksum C minisign writes for unencrypted keys.
func (sk *SecretKey) load(plain []byte, zeroChecksumOK bool) bool {
	copy(sk.ID[:], plain[:8])
	sk.key = ed25519.NewKeyFromSeed(plain[8:40])
	stored := plain[72:]
	okSum := subtle.ConstantTimeCompare(sk.checksum(), stored) == 1
	if !okSum && zeroChecksumOK {
		okSum = subtle.ConstantTimeCompare(stored, make([]byte, len(stored))) == 1
	}
	okPub := subtle.ConstantTimeCompare(sk.key[32:], plain[40:72]) == 1
	if okSum && okPub {
		return true
	}
	clear(sk.key)
	sk.key = nil
	return false
}

// splitLines splits text into exactly n "\n"-terminated lines (the final
// newline may be missing) and rejects carriage returns.
func splitLines(s string, n int) ([]string, error) {
	if strings.ContainsRune(s, '\r') {
		return nil, fmt.Errorf("contains a carriage return")
	}
	s = strings.TrimSuffix(s, "\n")
	lines := strings.Split(s, "\n")
	if len(lines) != n {
		return nil, fmt.Errorf("has %d lines, want %d", len(lines), n)
	}
	if !strings.HasPrefix(lines[0], untrustedPrefix) {
		return nil, fmt.Errorf("line 1 does not start with %q", untrustedPrefix)
	}
	return lines, nil
}

// splitKeyLines splits a two-line key file, recognising a signature file
// given in its place.
func splitKeyLines(s string) ([]string, error) {
	lines, err := splitLines(s, 2)
	if err == nil {
		return lines, nil
	}
	if _, serr := ParseSignature([]byte(s)); serr == nil {
		return nil, fmt.Errorf("%w: this is a minisign signature, not a key", ErrWrongKind)
	}
	return nil, fmt.Errorf("%w: %w", ErrMalformedKey, err)
}

// unwrapTauri decodes Tauri's base64-of-text form of a key or signature.
func unwrapTauri(s string) (string, error) {
	raw, err := decodeB64(s)
	if err != nil {
		return "", fmt.Errorf("%w: neither minisign text nor base64 of it: %w", ErrMalformedKey, err)
	}
	if !bytes.HasPrefix(raw, []byte(untrustedPrefix)) {
		return "", fmt.Errorf("%w: base64 does not decode to minisign text", ErrMalformedKey)
	}
	return string(raw), nil
}
