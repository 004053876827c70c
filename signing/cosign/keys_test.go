package cosign

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"io/fs"
	"path/filepath"
	"strings"
	"testing"

	"github.com/secure-systems-lab/go-securesystemslib/encrypted"
	"github.com/sigstore/sigstore/pkg/cryptoutils"

	"github.com/slipwayhq/slipway/signing"
)

// A minisign secret key (shared/interop/minisign/test.key): a key of the
// wrong kind.
const minisignKey = `untrusted comment: minisign encrypted secret key
RWQAAEIyAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA129qFKc+0qauZXAYEOdOqohdYeawXK0wuefYoeD3lTEPyDeXisWYNG2x52Ipjc/Ql+POk5nhFs6d1IrQwFaoF2SwELXB4ymi+ehEzKLaJayTQXPf7m9yW7727AaMpqqiAKcVEbvourA=
`

func TestGenerateKeyPair(t *testing.T) {
	t.Parallel()
	priv, pub := keyPair(t)
	block, _ := pem.Decode(priv)
	if block == nil || block.Type != SigstorePrivateKeyPEMType {
		t.Fatalf("private key PEM type: %+v", block)
	}
	var body struct {
		KDF struct {
			Name   string
			Params struct{ N, R, P int }
		}
		Cipher struct{ Name string }
	}
	if err := json.Unmarshal(block.Bytes, &body); err != nil {
		t.Fatalf("encrypted body is not JSON: %v", err)
	}
	if body.KDF.Name != "scrypt" || body.KDF.Params.N != 1<<16 || body.KDF.Params.R != 8 ||
		body.KDF.Params.P != 1 || body.Cipher.Name != "nacl/secretbox" {
		t.Errorf("encryption parameters differ from cosign's: %+v", body)
	}
	if pb, _ := pem.Decode(pub); pb == nil || pb.Type != "PUBLIC KEY" {
		t.Fatalf("public key PEM type: %+v", pb)
	}
	k, err := LoadPrivateKey(priv, []byte(testPassword))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(k.PublicKeyPEM(), pub) {
		t.Errorf("loaded key's public PEM differs from the generated one")
	}
	pk, err := ParsePublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	if h, _ := keyHint(pk); h != k.Hint() {
		t.Errorf("hint %q != %q", k.Hint(), h)
	}
}

func TestLoadFixtureKey(t *testing.T) {
	t.Parallel()
	legacy, _ := pem.Decode(readFile(t, filepath.Join(fixtureDir, "cosign.key")))
	legacy.Type = CosignPrivateKeyPEMType
	tests := []struct {
		name string
		load func() (*PrivateKey, error)
	}{
		{"sigstore type, from file", fixtureKey},
		{"legacy cosign type", func() (*PrivateKey, error) {
			return LoadPrivateKey(pem.EncodeToMemory(legacy), []byte(fixturePassword))
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k, err := tt.load()
			if err != nil {
				t.Fatal(err)
			}
			if got, want := k.PublicKeyPEM(), readFile(t, filepath.Join(fixtureDir, "cosign.pub")); !bytes.Equal(got, want) {
				t.Errorf("public key:\n%s\nwant\n%s", got, want)
			}
			if want := "LirGsYhjk/d3yx1CFdyvvSn/gsYisjTuaC2JTRhmOCA="; k.Hint() != want { // SPEC fixture bundle
				t.Errorf("hint %s, want %s", k.Hint(), want)
			}
		})
	}
}

func TestLoadPrivateKeyErrors(t *testing.T) {
	t.Parallel()
	priv, pub := keyPair(t)
	block, _ := pem.Decode(priv)
	rewrap := func(typ string, body []byte) []byte {
		return pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: body})
	}
	var kdfLow map[string]any
	if err := json.Unmarshal(block.Bytes, &kdfLow); err != nil {
		t.Fatal(err)
	}
	kdfLow["kdf"].(map[string]any)["params"].(map[string]any)["N"] = 1024
	lowBody, _ := json.Marshal(kdfLow)

	tests := []struct {
		name     string
		pem      []byte
		password string
		want     error
		msg      string
	}{
		{"no password", priv, "", signing.ErrNoPassword, "COSIGN_PASSWORD"},
		{"wrong password", priv, "hunter2", signing.ErrWrongPassword, "cosign private key"},
		{"truncated PEM", priv[:len(priv)/2], testPassword, signing.ErrBadKey, "no PEM block"},
		{"truncated ciphertext", rewrap(block.Type, block.Bytes[:len(block.Bytes)-40]), testPassword, signing.ErrBadKey, "not cosign's JSON"},
		{"empty", nil, testPassword, signing.ErrBadKey, "no PEM block"},
		{"minisign key", []byte(minisignKey), testPassword, signing.ErrBadKey, "no PEM block"},
		{"random PEM", rewrap("CERTIFICATE", []byte("not a certificate at all")), testPassword, signing.ErrBadKey, `"CERTIFICATE"`},
		{"public key", pub, testPassword, signing.ErrBadKey, `"PUBLIC KEY"`},
		{"unencrypted PKCS#8", unencryptedKey(t), "", signing.ErrBadKey, `"PRIVATE KEY"`},
		{"ed25519 key", encryptedKey(t, ed25519Key(t)), testPassword, signing.ErrBadKey, "only ECDSA P-256"},
		{"P-384 key", encryptedKey(t, ecKey(t, elliptic.P384())), testPassword, signing.ErrBadKey, "only ECDSA P-256"},
		{"weak scrypt parameters", rewrap(block.Type, lowBody), testPassword, signing.ErrBadKey, "unsupported scrypt parameters"},
		{"unknown cipher", rewrap(block.Type, []byte(`{"kdf":{"name":"scrypt"},"cipher":{"name":"aes"},"ciphertext":""}`)), testPassword, signing.ErrBadKey, "unsupported kdf"},
		{"trailing data", append(bytes.Clone(priv), "junk"...), testPassword, signing.ErrBadKey, "after the PEM block"},
		{"oversize", bytes.Repeat([]byte("A"), maxKeyFile+1), testPassword, signing.ErrBadKey, "larger than"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := LoadPrivateKey(tt.pem, []byte(tt.password))
			t.Log(err)
			if !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
			if !strings.Contains(err.Error(), "cosign private key") || !strings.Contains(err.Error(), tt.msg) {
				t.Errorf("message %q should name the key and say %q", err, tt.msg)
			}
		})
	}
}

func TestLoadPrivateKeyFile(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	tests := []struct {
		name string
		data []byte
		want error
	}{
		{"truncated", readFile(t, filepath.Join(fixtureDir, "cosign.key"))[:100], signing.ErrBadKey},
		{"oversize", bytes.Repeat([]byte{'x'}, maxKeyFile+1), signing.ErrBadKey},
		{"missing", nil, fs.ErrNotExist},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(dir, tt.name+".key")
			if tt.data != nil {
				writeFile(t, path, tt.data)
			}
			_, err := LoadPrivateKeyFile(path, []byte(fixturePassword))
			if !errors.Is(err, tt.want) || !strings.Contains(err.Error(), path) {
				t.Fatalf("err = %v, want %v naming %s", err, tt.want, path)
			}
		})
	}
}

func TestParsePublicKeyErrors(t *testing.T) {
	priv, pub := keyPair(t)
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		pem  []byte
		msg  string
	}{
		{"empty", nil, "no PEM block"},
		{"truncated", pub[:len(pub)-40], "no PEM block"},
		{"private key", priv, "is not"},
		{"minisign key", []byte("untrusted comment: minisign public key\nRWQ..."), "no PEM block"},
		{"garbage DER", pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: []byte{0x30, 0x03, 1, 2, 3}}), "asn1"},
		{"RSA key", publicPEM(t, &rsaKey.PublicKey), "only ECDSA P-256"},
		{"P-384 key", publicPEM(t, ecKey(t, elliptic.P384()).Public()), "only ECDSA P-256"},
		{"oversize", bytes.Repeat([]byte("A"), maxKeyFile+1), "larger than"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParsePublicKey(tt.pem)
			if !errors.Is(err, signing.ErrBadKey) || !strings.Contains(err.Error(), tt.msg) {
				t.Fatalf("err = %v, want ErrBadKey saying %q", err, tt.msg)
			}
			if _, err := NewVerifier(tt.pem); !errors.Is(err, signing.ErrBadKey) {
				t.Errorf("NewVerifier: %v", err)
			}
		})
	}
}

func ecKey(t *testing.T, c elliptic.Curve) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(c, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func ed25519Key(t *testing.T) ed25519.PrivateKey {
	t.Helper()
	_, k, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// encryptedKey wraps any private key the way cosign does (PKCS#8, scrypt +
// secretbox, SIGSTORE PEM type).
func encryptedKey(t *testing.T, k any) []byte {
	t.Helper()
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	// Legacy (N=2^15) parameters, which cosign also reads, halve the scrypt time.
	body, err := encrypted.EncryptWithCustomKDFParameters(der, []byte(testPassword), encrypted.Legacy)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: SigstorePrivateKeyPEMType, Bytes: body})
}

func unencryptedKey(t *testing.T) []byte {
	t.Helper()
	b, err := cryptoutils.MarshalPrivateKeyToPEM(ecKey(t, elliptic.P256()))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func publicPEM(t *testing.T, pub any) []byte {
	t.Helper()
	b, err := cryptoutils.MarshalPublicKeyToPEM(pub)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
