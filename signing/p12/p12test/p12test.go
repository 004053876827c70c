// Package p12test makes throwaway code-signing PKI for tests: a CA, a
// code-signing leaf it issued, and the PKCS#12 file holding both.
package p12test

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"testing"
	"time"

	"software.sslmate.com/src/go-pkcs12"
)

// PKI is a generated CA and code-signing leaf with their files in a temp dir.
type PKI struct {
	CA       *x509.Certificate
	CAKey    crypto.Signer
	Leaf     *x509.Certificate
	CAPEM    string // path of the CA certificate in PEM
	P12      string // path of the PKCS#12 file (leaf key + leaf + CA)
	Password []byte
}

// Options tune New. The zero value makes an RSA-2048 leaf in a modern
// (AES/PBKDF2) P12 with a code-signing EKU.
type Options struct {
	Legacy    bool               // encode the P12 with legacy 3DES/SHA-1 parameters
	ExtUsages []x509.ExtKeyUsage // leaf EKUs. Default: code signing
	Name      string             // leaf common name. Default: "Slipway Test Signer"
	Now       func() time.Time   // clock. Default: time.Now
}

// New generates the PKI and writes ca.pem and signer.p12 into t.TempDir().
func New(t testing.TB, password []byte, opts Options) *PKI {
	t.Helper()
	p, err := Generate(t.TempDir(), password, opts)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// Generate makes the PKI and writes ca.pem and signer.p12 into dir (for
// benchmarks and other programs without a testing.TB).
func Generate(dir string, password []byte, opts Options) (*PKI, error) {
	now := time.Now
	if opts.Now != nil {
		now = opts.Now
	}
	if opts.ExtUsages == nil {
		opts.ExtUsages = []x509.ExtKeyUsage{x509.ExtKeyUsageCodeSigning}
	}
	if opts.Name == "" {
		opts.Name = "Slipway Test Signer"
	}
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	caTmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "Slipway Test CA", Organization: []string{"Slipway Tests"}},
		NotBefore:             now().Add(-time.Hour),
		NotAfter:              now().Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, caKey.Public(), caKey)
	if err != nil {
		return nil, err
	}
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		return nil, err
	}

	leafKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, err
	}
	leafTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2),
		Subject:      pkix.Name{CommonName: opts.Name, Organization: []string{"Slipway Tests"}},
		NotBefore:    now().Add(-time.Hour),
		NotAfter:     now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  opts.ExtUsages,
	}
	leafDER, err := x509.CreateCertificate(rand.Reader, leafTmpl, ca, leafKey.Public(), caKey)
	if err != nil {
		return nil, err
	}
	leaf, err := x509.ParseCertificate(leafDER)
	if err != nil {
		return nil, err
	}

	enc := pkcs12.Modern
	if opts.Legacy {
		enc = pkcs12.Legacy
	}
	pfx, err := enc.Encode(leafKey, leaf, []*x509.Certificate{ca}, string(password))
	if err != nil {
		return nil, err
	}

	p := &PKI{CA: ca, CAKey: caKey, Leaf: leaf, CAPEM: filepath.Join(dir, "ca.pem"), P12: filepath.Join(dir, "signer.p12"), Password: password}
	if err := os.WriteFile(p.CAPEM, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}), 0o644); err != nil {
		return nil, err
	}
	if err := os.WriteFile(p.P12, pfx, 0o600); err != nil {
		return nil, err
	}
	return p, nil
}

// Pool returns a cert pool holding only the CA.
func (p *PKI) Pool() *x509.CertPool {
	pool := x509.NewCertPool()
	pool.AddCert(p.CA)
	return pool
}
