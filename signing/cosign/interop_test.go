package cosign

import (
	"errors"
	"path/filepath"
	"testing"

	"github.com/slipwayhq/slipway/signing"
)

// TestCosignVerifiesSlipway: the real `cosign verify-blob` accepts
// Slipway's .cosign.sig and bundle, and rejects tampered ones.
func TestCosignVerifiesSlipway(t *testing.T) {
	cli := newCosignCLI(t)
	_, pub := keyPair(t)
	pubPath := writeFile(t, filepath.Join(t.TempDir(), "cosign.pub"), pub)

	p := signedCopy(t)
	if out, sigErr, bundleErr := cli.verifyBlob(pubPath, p); sigErr != nil || bundleErr != nil {
		t.Fatalf("cosign rejected Slipway's signatures: %v / %v\n%s", sigErr, bundleErr, out)
	}
	for _, tc := range tamperCases {
		t.Run(tc.name, func(t *testing.T) {
			p := signedCopy(t)
			tc.mutate(t, p)
			out, sigErr, bundleErr := cli.verifyBlob(pubPath, p)
			if (sigErr != nil) != tc.cosignSig || (bundleErr != nil) != tc.cosignBundle {
				t.Errorf("cosign: signature err=%v (want failure %v), bundle err=%v (want failure %v)\n%s",
					sigErr, tc.cosignSig, bundleErr, tc.cosignBundle, out)
			}
			if err := testSigner(t).Verify(t.Context(), p); !errors.Is(err, signing.ErrBadSignature) {
				t.Errorf("Slipway: %v", err)
			}
		})
	}
}

// TestCosignKeysAndSignatures: a key pair made by `cosign generate-key-pair`
// loads in Slipway, and what `cosign sign-blob` writes verifies in Slipway.
func TestCosignKeysAndSignatures(t *testing.T) {
	t.Parallel()
	cli := newCosignCLI(t)
	dir := t.TempDir()
	const password = "cosign-made password"
	if out, err := cli.run(password, "generate-key-pair", "--output-key-prefix", filepath.Join(dir, "cosign")); err != nil {
		t.Fatalf("generate-key-pair: %v\n%s", err, out)
	}
	keyPath, pubPath := filepath.Join(dir, "cosign.key"), filepath.Join(dir, "cosign.pub")
	k, err := LoadPrivateKeyFile(keyPath, []byte(password))
	if err != nil {
		t.Fatal(err)
	}
	if string(k.PublicKeyPEM()) != string(readFile(t, pubPath)) {
		t.Errorf("public key differs from cosign.pub")
	}
	if _, err := LoadPrivateKeyFile(keyPath, []byte("not it")); !errors.Is(err, signing.ErrWrongPassword) {
		t.Errorf("wrong password: %v", err)
	}

	// cosign signs, Slipway verifies.
	p := artifact(t, "signed by the cosign CLI\n")
	out, err := cli.run(password, "sign-blob", "--key", keyPath, "--tlog-upload=false", "--yes",
		"--output-signature", p+signing.CosignSigExt, "--bundle", p+signing.CosignBundleExt, "--new-bundle-format", p)
	if err != nil {
		t.Fatalf("sign-blob: %v\n%s", err, out)
	}
	v, err := NewVerifier(readFile(t, pubPath))
	if err != nil {
		t.Fatal(err)
	}
	if err := v.VerifyFile(t.Context(), p); err != nil {
		t.Fatalf("Slipway rejected cosign's signatures: %v", err)
	}

	// Slipway signs with cosign's key, cosign verifies.
	s, err := NewFromKey(k, Options{})
	if err != nil {
		t.Fatal(err)
	}
	q := artifact(t, "signed by Slipway with a cosign-made key\n")
	if _, err := s.Sign(t.Context(), q); err != nil {
		t.Fatal(err)
	}
	if out, sigErr, bundleErr := cli.verifyBlob(pubPath, q); sigErr != nil || bundleErr != nil {
		t.Fatalf("cosign: %v / %v\n%s", sigErr, bundleErr, out)
	}
}

// TestSlipwayKeysInCosign: a key pair from GenerateKeyPair works with
// `cosign sign-blob`, and Slipway verifies the result.
func TestSlipwayKeysInCosign(t *testing.T) {
	cli := newCosignCLI(t)
	priv, pub := keyPair(t)
	dir := t.TempDir()
	keyPath := writeFile(t, filepath.Join(dir, "cosign.key"), priv)
	pubPath := writeFile(t, filepath.Join(dir, "cosign.pub"), pub)
	p := artifact(t, "signed by cosign with a Slipway key\n")
	out, err := cli.run(testPassword, "sign-blob", "--key", keyPath, "--tlog-upload=false", "--yes",
		"--output-signature", p+signing.CosignSigExt, "--bundle", p+signing.CosignBundleExt, "--new-bundle-format", p)
	if err != nil {
		t.Fatalf("cosign could not sign with Slipway's key: %v\n%s", err, out)
	}
	if err := testSigner(t).Verify(t.Context(), p); err != nil {
		t.Fatalf("Slipway: %v", err)
	}
	if out, sigErr, bundleErr := cli.verifyBlob(pubPath, p); sigErr != nil || bundleErr != nil {
		t.Fatalf("cosign: %v / %v\n%s", sigErr, bundleErr, out)
	}
	if out, err := cli.run("wrong", "sign-blob", "--key", keyPath, "--tlog-upload=false", "--yes", p); err == nil {
		t.Fatalf("cosign accepted a wrong password for Slipway's key:\n%s", out)
	}
}
