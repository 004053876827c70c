// Package cosign signs release artifacts the way `cosign sign-blob --key`
// does, offline: a base64 DER signature (<f>.cosign.sig) and a Sigstore
// bundle v0.3 (<f>.sigstore.json), both of which the real `cosign
// verify-blob` accepts.
//
// Keys are cosign's own encrypted PEM files (`cosign generate-key-pair`).
// The code uses the libraries cosign itself is built on: sigstore's
// cryptoutils and signature packages, go-securesystemslib's scrypt+secretbox
// "encrypted" format, the protobuf-specs bundle types and sigstore-go's bundle
// validation and verifier. cosign's own pkg/cosign is not imported: it pulls
// in rekor's PGP support, which needs golang.org/x/crypto/openpgp, removed
// from the x/crypto version this module has to use.
package cosign

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"

	"github.com/secure-systems-lab/go-securesystemslib/encrypted"
	"github.com/sigstore/sigstore/pkg/cryptoutils"
	"github.com/sigstore/sigstore/pkg/signature"

	"github.com/slipwayhq/slipway/signing"
)

// PEM block types of cosign private keys. cosign ≥ 2.2 writes the SIGSTORE
// type; older releases wrote the COSIGN type. Both hold the same JSON.
const (
	SigstorePrivateKeyPEMType = "ENCRYPTED SIGSTORE PRIVATE KEY"
	CosignPrivateKeyPEMType   = "ENCRYPTED COSIGN PRIVATE KEY"
	publicKeyPEMType          = "PUBLIC KEY"
)

// maxKeyFile bounds key files (a cosign P-256 key is about 650 bytes).
const maxKeyFile = 64 << 10

// decryptFailed is the go-securesystemslib error for a secretbox that does
// not open: the password is wrong (or the ciphertext was altered). The
// library has no sentinel for it; TestLoadPrivateKeyErrors pins the text.
const decryptFailed = "encrypted: decryption failed"

// PrivateKey is a decrypted cosign ECDSA P-256 key.
type PrivateKey struct {
	sv     signature.SignerVerifier
	pub    *ecdsa.PublicKey
	pubPEM []byte
	hint   string
}

// PublicKeyPEM returns the `PUBLIC KEY` PEM that cosign writes as cosign.pub.
func (k *PrivateKey) PublicKeyPEM() []byte { return bytes.Clone(k.pubPEM) }

// Hint returns the key's Sigstore bundle hint: base64(SHA-256(DER SPKI)).
func (k *PrivateKey) Hint() string { return k.hint }

// GenerateKeyPair creates an ECDSA P-256 key pair in cosign's format: the
// private key as an `ENCRYPTED SIGSTORE PRIVATE KEY` PEM (scrypt N=2^16 +
// NaCl secretbox over PKCS#8, exactly what `cosign generate-key-pair`
// writes) and the public key as a `PUBLIC KEY` PEM. A nil or empty password
// still encrypts, like COSIGN_PASSWORD="" does in cosign.
func GenerateKeyPair(password []byte) (privPEM, pubPEM []byte, err error) {
	pass := bytes.Clone(password)
	if pass == nil {
		pass = []byte{} // nil would make cryptoutils write an unencrypted key
	}
	privPEM, pubPEM, err = cryptoutils.GeneratePEMEncodedECDSAKeyPair(elliptic.P256(),
		func(bool) ([]byte, error) { return pass, nil })
	if err != nil {
		return nil, nil, fmt.Errorf("generate cosign key pair: %w", err)
	}
	return privPEM, pubPEM, nil
}

// LoadPrivateKeyFile reads and decrypts the cosign key at path; errors name
// the path.
func LoadPrivateKeyFile(path string, password []byte) (*PrivateKey, error) {
	data, err := signing.ReadFileLimited(path, maxKeyFile)
	if errors.Is(err, signing.ErrTooLarge) {
		return nil, fmt.Errorf("cosign key %s: %w: %w", path, signing.ErrBadKey, err)
	}
	if err != nil {
		return nil, fmt.Errorf("cosign key %s: %w", path, err)
	}
	return loadPrivateKey(path, data, password)
}

// LoadPrivateKey decrypts a cosign private key PEM (`ENCRYPTED SIGSTORE
// PRIVATE KEY` or the older `ENCRYPTED COSIGN PRIVATE KEY`). Errors wrap
// signing.ErrNoPassword (encrypted with a password and none given),
// signing.ErrWrongPassword or signing.ErrBadKey (truncated, corrupt, not a
// cosign key, or not ECDSA P-256).
func LoadPrivateKey(privPEM, password []byte) (*PrivateKey, error) {
	return loadPrivateKey("", privPEM, password)
}

func loadPrivateKey(name string, privPEM, password []byte) (*PrivateKey, error) {
	label := "cosign private key"
	if name != "" {
		label = "cosign key " + name
	}
	if len(privPEM) > maxKeyFile {
		return nil, fmt.Errorf("%s: %w: larger than %d bytes", label, signing.ErrBadKey, maxKeyFile)
	}
	block, err := decodeSinglePEM(privPEM)
	if err != nil {
		return nil, fmt.Errorf("%s: %w: %w", label, signing.ErrBadKey, err)
	}
	if block.Type != SigstorePrivateKeyPEMType && block.Type != CosignPrivateKeyPEMType {
		return nil, fmt.Errorf("%s: %w: PEM type %q is not an encrypted cosign private key", label, signing.ErrBadKey, block.Type)
	}
	if err := checkEncryptedShape(block.Bytes); err != nil {
		return nil, fmt.Errorf("%s: %w: %w", label, signing.ErrBadKey, err)
	}
	der, err := encrypted.Decrypt(block.Bytes, password)
	switch {
	case err != nil && err.Error() == decryptFailed && len(password) == 0:
		return nil, fmt.Errorf("%s: %w (set COSIGN_PASSWORD)", label, signing.ErrNoPassword)
	case err != nil && err.Error() == decryptFailed:
		return nil, fmt.Errorf("%s: %w (or the key file is corrupt)", label, signing.ErrWrongPassword)
	case err != nil:
		return nil, fmt.Errorf("%s: %w: %w", label, signing.ErrBadKey, err)
	}
	k, err := x509.ParsePKCS8PrivateKey(der)
	clear(der)
	if err != nil {
		return nil, fmt.Errorf("%s: %w: decrypted key is not PKCS#8: %w", label, signing.ErrBadKey, err)
	}
	ec, ok := k.(*ecdsa.PrivateKey)
	if !ok || ec.Curve != elliptic.P256() {
		return nil, fmt.Errorf("%s: %w: %s keys are not supported, only ECDSA P-256 (cosign's default)", label, signing.ErrBadKey, keyKind(k))
	}
	return newPrivateKey(label, ec)
}

func newPrivateKey(label string, ec *ecdsa.PrivateKey) (*PrivateKey, error) {
	sv, err := signature.LoadSignerVerifier(ec, crypto.SHA256)
	if err != nil {
		return nil, fmt.Errorf("%s: %w: %w", label, signing.ErrBadKey, err)
	}
	pubPEM, err := cryptoutils.MarshalPublicKeyToPEM(&ec.PublicKey)
	if err != nil {
		return nil, fmt.Errorf("%s: %w: %w", label, signing.ErrBadKey, err)
	}
	hint, err := keyHint(&ec.PublicKey)
	if err != nil {
		return nil, fmt.Errorf("%s: %w: %w", label, signing.ErrBadKey, err)
	}
	return &PrivateKey{sv: sv, pub: &ec.PublicKey, pubPEM: pubPEM, hint: hint}, nil
}

// ParsePublicKey parses a cosign.pub (`PUBLIC KEY` PEM, DER SPKI) holding an
// ECDSA P-256 key. Errors wrap signing.ErrBadKey.
func ParsePublicKey(pubPEM []byte) (*ecdsa.PublicKey, error) {
	if len(pubPEM) > maxKeyFile {
		return nil, fmt.Errorf("cosign public key: %w: larger than %d bytes", signing.ErrBadKey, maxKeyFile)
	}
	block, err := decodeSinglePEM(pubPEM)
	if err != nil {
		return nil, fmt.Errorf("cosign public key: %w: %w", signing.ErrBadKey, err)
	}
	if block.Type != publicKeyPEMType {
		return nil, fmt.Errorf("cosign public key: %w: PEM type %q is not %q", signing.ErrBadKey, block.Type, publicKeyPEMType)
	}
	pub, err := x509.ParsePKIXPublicKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("cosign public key: %w: %w", signing.ErrBadKey, err)
	}
	// x509 already rejected points that are not on the curve.
	ec, ok := pub.(*ecdsa.PublicKey)
	if !ok || ec.Curve != elliptic.P256() {
		return nil, fmt.Errorf("cosign public key: %w: %s keys are not supported, only ECDSA P-256", signing.ErrBadKey, keyKind(pub))
	}
	return ec, nil
}

// keyKind names a key's algorithm for error messages.
func keyKind(k any) string {
	switch k := k.(type) {
	case *ecdsa.PrivateKey:
		return "ECDSA " + k.Curve.Params().Name
	case *ecdsa.PublicKey:
		return "ECDSA " + k.Curve.Params().Name
	case *rsa.PrivateKey, *rsa.PublicKey:
		return "RSA"
	case ed25519.PrivateKey, ed25519.PublicKey:
		return "Ed25519"
	default:
		return fmt.Sprintf("%T", k)
	}
}

// keyHint is the Sigstore bundle's publicKey hint, as cosign computes it:
// base64(SHA-256(x509.MarshalPKIXPublicKey(pub))).
func keyHint(pub *ecdsa.PublicKey) (string, error) {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(der)
	return base64.StdEncoding.EncodeToString(sum[:]), nil
}

// decodeSinglePEM decodes exactly one PEM block with nothing but whitespace
// around it.
func decodeSinglePEM(data []byte) (*pem.Block, error) {
	block, rest := pem.Decode(data)
	if block == nil {
		return nil, errors.New("no PEM block (truncated, or not a PEM key)")
	}
	if len(block.Headers) != 0 {
		return nil, errors.New("unexpected PEM headers")
	}
	if len(bytes.TrimSpace(rest)) != 0 {
		return nil, errors.New("unexpected data after the PEM block")
	}
	return block, nil
}

// checkEncryptedShape rejects key bodies that are not the JSON cosign
// writes before any scrypt work is spent on them, so a truncated or foreign
// key reports ErrBadKey rather than a password error. Decrypt still does the
// real parsing and parameter checks.
func checkEncryptedShape(body []byte) error {
	var v struct {
		KDF struct {
			Name string `json:"name"`
		} `json:"kdf"`
		Cipher struct {
			Name  string `json:"name"`
			Nonce []byte `json:"nonce"`
		} `json:"cipher"`
		Ciphertext []byte `json:"ciphertext"`
	}
	if err := json.Unmarshal(body, &v); err != nil {
		return fmt.Errorf("encrypted key body is not cosign's JSON: %w", err)
	}
	const nonceSize, tagSize = 24, 16 // NaCl secretbox
	switch {
	case v.KDF.Name != "scrypt" || v.Cipher.Name != "nacl/secretbox":
		return fmt.Errorf("unsupported kdf %q / cipher %q", v.KDF.Name, v.Cipher.Name)
	case len(v.Cipher.Nonce) != nonceSize:
		return fmt.Errorf("nonce is %d bytes, want %d", len(v.Cipher.Nonce), nonceSize)
	case len(v.Ciphertext) <= tagSize:
		return errors.New("ciphertext is truncated")
	}
	return nil
}
