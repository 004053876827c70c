// Package p12 loads the PKCS#12 (.p12/.pfx) certificate bundles that the
// Authenticode and macOS code signers use, turning every failure into an
// error that names the file and matches signing.ErrNoPassword,
// ErrWrongPassword or ErrBadKey.
package p12

import (
	"crypto"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"

	"software.sslmate.com/src/go-pkcs12"

	"github.com/slipwayhq/slipway/signing"
)

// MaxSize bounds a P12 file; real ones are a few kilobytes.
const MaxSize = 1 << 20

// Bundle is a decoded PKCS#12 file: the signing key, its certificate and
// any chain certificates stored with it.
type Bundle struct {
	Key   crypto.Signer
	Cert  *x509.Certificate
	Chain []*x509.Certificate
}

// Load reads and decodes the P12 file at path.
func Load(path string, password []byte) (*Bundle, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("P12 %s: %w", path, err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, MaxSize+1))
	if err != nil {
		return nil, fmt.Errorf("P12 %s: %w", path, err)
	}
	return Parse(path, data, password)
}

// Parse decodes P12 data; name identifies it in errors.
func Parse(name string, data, password []byte) (*Bundle, error) {
	if len(data) > MaxSize {
		return nil, fmt.Errorf("P12 %s: larger than %d bytes: %w", name, MaxSize, signing.ErrBadKey)
	}
	key, cert, chain, err := pkcs12.DecodeChain(data, string(password))
	switch {
	case errors.Is(err, pkcs12.ErrIncorrectPassword) && len(password) == 0:
		return nil, fmt.Errorf("P12 %s: %w", name, signing.ErrNoPassword)
	case errors.Is(err, pkcs12.ErrIncorrectPassword):
		return nil, fmt.Errorf("P12 %s: %w", name, signing.ErrWrongPassword)
	case err != nil:
		return nil, fmt.Errorf("P12 %s: not a readable PKCS#12 file (%v): %w", name, err, signing.ErrBadKey)
	}
	signer, ok := key.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("P12 %s: private key of type %T cannot sign: %w", name, key, signing.ErrBadKey)
	}
	if !forCodeSigning(cert) {
		return nil, fmt.Errorf("P12 %s: certificate %q is not valid for code signing: %w",
			name, cert.Subject.CommonName, signing.ErrBadKey)
	}
	return &Bundle{Key: signer, Cert: cert, Chain: chain}, nil
}

// forCodeSigning accepts certificates without extended key usages (which
// allow any use) and those listing code signing or any usage.
func forCodeSigning(c *x509.Certificate) bool {
	if len(c.ExtKeyUsage) == 0 && len(c.UnknownExtKeyUsage) == 0 {
		return true
	}
	return slices.Contains(c.ExtKeyUsage, x509.ExtKeyUsageCodeSigning) ||
		slices.Contains(c.ExtKeyUsage, x509.ExtKeyUsageAny)
}
