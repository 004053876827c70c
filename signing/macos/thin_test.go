package macos_test

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"math/big"
	"os"
	"path/filepath"
	"testing"
	"time"

	"software.sslmate.com/src/go-pkcs12"

	"github.com/slipwayhq/slipway/signing/binfmt/binfmttest"
	"github.com/slipwayhq/slipway/signing/macos"
	"github.com/slipwayhq/slipway/signing/p12/p12test"
)

// TestSignMatchesQuill checks that the single-pass signer writes what
// quill.Sign writes for the same binary and configuration: the same bytes
// for ad-hoc signatures, and for certificate signatures the same file up
// to the signature and the same code directory, requirements and
// entitlements blobs (the CMS signature carries its signing time).
func TestSignMatchesQuill(t *testing.T) {
	pki := p12test.New(t, []byte("pw"), p12test.Options{Name: "Developer ID Application: Slipway Test"})
	ents := filepath.Join(t.TempDir(), "ents.plist")
	plist := `<?xml version="1.0" encoding="UTF-8"?><plist version="1.0"><dict><key>com.apple.security.cs.allow-jit</key><true/></dict></plist>`
	if err := os.WriteFile(ents, []byte(plist), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		arch    string
		signer  *macos.Signer
		sameCMS bool
	}{
		{"adhoc amd64", "amd64", macos.New("", nil, macos.Options{Identity: "dev.slipway.a"}), true},
		{"adhoc arm64 (linker-signed)", "arm64", macos.New("", nil, macos.Options{Identity: "dev.slipway.b"}), true},
		{"adhoc entitlements", "arm64", macos.New("", nil, macos.Options{Identity: "x", Entitlements: ents}), true},
		{"p12", "arm64", macos.New(pki.P12, []byte("pw"), macos.Options{Identity: "dev.slipway.c"}), false},
		{"p12 entitlements", "amd64", macos.New(pki.P12, []byte("pw"), macos.Options{Entitlements: ents}), false},
		{"apple-like chain with OU", "arm64", macos.New(appleLikeP12(t), []byte("pw"), macos.Options{}), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ours := bins.Copy(t, "darwin", tt.arch)
			theirs := filepath.Join(t.TempDir(), filepath.Base(ours))
			if err := binfmttest.CopyFile(theirs, ours); err != nil {
				t.Fatal(err)
			}
			if _, err := tt.signer.Sign(t.Context(), ours); err != nil {
				t.Fatalf("Sign: %v", err)
			}
			if err := tt.signer.QuillSign(theirs); err != nil {
				t.Fatalf("quill.Sign: %v", err)
			}
			a, b := readFile(t, ours), readFile(t, theirs)
			if tt.sameCMS {
				if !bytes.Equal(a, b) {
					t.Fatalf("signed files differ (%d and %d bytes)", len(a), len(b))
				}
				return
			}
			blobsA, offA, errA := macos.SignatureBlobs(ours)
			blobsB, offB, errB := macos.SignatureBlobs(theirs)
			if errA != nil || errB != nil || offA != offB || len(a) != len(b) {
				t.Fatalf("signatures at %d (%v) and %d (%v), files of %d and %d bytes", offA, errA, offB, errB, len(a), len(b))
			}
			if !bytes.Equal(a[:offA], b[:offB]) {
				t.Error("files differ before the signature")
			}
			if len(blobsA) != len(blobsB) {
				t.Errorf("%d and %d blobs", len(blobsA), len(blobsB))
			}
			for slot, blob := range blobsB {
				if slot != 0x10000 && !bytes.Equal(blobsA[slot], blob) {
					t.Errorf("blob in slot %#x differs", slot)
				}
			}
			if err := tt.signer.Verify(t.Context(), ours); err != nil {
				t.Errorf("Verify: %v", err)
			}
		})
	}
}

// appleLikeP12 writes a P12 whose chain exercises every clause of the
// designated requirement: an "Apple Inc." CA carrying Apple's
// intermediate-certificate extension, and a leaf with a team OU.
func appleLikeP12(t *testing.T) string {
	t.Helper()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	ca := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "Test WWDR", Organization: []string{"Apple Inc."}},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour), IsCA: true, BasicConstraintsValid: true,
		KeyUsage:        x509.KeyUsageCertSign,
		ExtraExtensions: []pkix.Extension{{Id: asn1.ObjectIdentifier{1, 2, 840, 113635, 100, 6, 2, 6}, Value: []byte{5, 0}}},
	}
	caDER, err := x509.CreateCertificate(rand.Reader, ca, ca, caKey.Public(), caKey)
	if err != nil {
		t.Fatal(err)
	}
	caCert, _ := x509.ParseCertificate(caDER)
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	leaf := &x509.Certificate{
		SerialNumber: big.NewInt(2),
		Subject:      pkix.Name{CommonName: "Developer ID Application: Test (TEAM123456)", OrganizationalUnit: []string{"TEAM123456"}},
		NotBefore:    now.Add(-time.Hour), NotAfter: now.Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageCodeSigning},
	}
	leafDER, err := x509.CreateCertificate(rand.Reader, leaf, caCert, key.Public(), caKey)
	if err != nil {
		t.Fatal(err)
	}
	leafCert, _ := x509.ParseCertificate(leafDER)
	pfx, err := pkcs12.Modern.Encode(key, leafCert, []*x509.Certificate{caCert}, "pw")
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "apple-like.p12")
	if err := os.WriteFile(path, pfx, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
