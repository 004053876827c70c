package cosign

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/slipwayhq/slipway/signing"
)

var update = flag.Bool("update", false, "rewrite golden files under testdata/")

func TestSignVerify(t *testing.T) {
	s := testSigner(t)
	if s.String() != "cosign" || s.Check(t.Context()) != nil {
		t.Fatalf("String/Check: %q %v", s, s.Check(t.Context()))
	}
	p := artifact(t, "hello, fleet\n")
	paths, err := s.Sign(t.Context(), p)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{p + signing.CosignSigExt, p + signing.CosignBundleExt}; strings.Join(paths, ",") != strings.Join(want, ",") {
		t.Fatalf("Sign wrote %v, want %v", paths, want)
	}
	for _, f := range paths {
		st, err := os.Stat(f)
		if err != nil {
			t.Fatal(err)
		}
		if st.Mode().Perm() != 0o644 {
			t.Errorf("%s mode %v, want 0644", f, st.Mode().Perm())
		}
	}
	sig := readFile(t, paths[0])
	if bytes.ContainsAny(sig, "\r\n ") {
		t.Errorf(".cosign.sig has whitespace: %q", sig)
	}
	if err := checkDER(decodeB64(t, string(sig))); err != nil {
		t.Errorf(".cosign.sig: %v", err)
	}
	if err := s.Verify(t.Context(), p); err != nil {
		t.Fatalf("own verify: %v", err)
	}
	_, pub := keyPair(t)
	v, err := NewVerifier(pub)
	if err != nil {
		t.Fatal(err)
	}
	if err := v.VerifyFile(t.Context(), p); err != nil {
		t.Fatalf("verifier from cosign.pub: %v", err)
	}
	other, _ := NewVerifier(readFile(t, filepath.Join(fixtureDir, "cosign.pub")))
	if err := other.VerifyFile(t.Context(), p); !errors.Is(err, signing.ErrBadSignature) {
		t.Fatalf("another key verified: %v", err)
	}
}

// TestBundleGolden pins the bundle's JSON fields. ECDSA signatures are
// randomized, so the signature is checked to verify and then replaced; the
// other fields are deterministic for the fixture key and artifact.
func TestBundleGolden(t *testing.T) {
	t.Parallel()
	k, err := fixtureKey()
	if err != nil {
		t.Fatal(err)
	}
	s, err := NewFromKey(k, Options{})
	if err != nil {
		t.Fatal(err)
	}
	p := writeFile(t, filepath.Join(t.TempDir(), "artifact.txt"), readFile(t, filepath.Join(fixtureDir, "artifact.txt")))
	if _, err := s.Sign(t.Context(), p); err != nil {
		t.Fatal(err)
	}
	if err := s.Verify(t.Context(), p); err != nil {
		t.Fatal(err)
	}
	var fields map[string]any
	if err := json.Unmarshal(readFile(t, p+signing.CosignBundleExt), &fields); err != nil {
		t.Fatal(err)
	}
	ms := fields["messageSignature"].(map[string]any)
	if sig := ms["signature"].(string); sig != string(readFile(t, p+signing.CosignSigExt)) {
		t.Errorf("bundle signature %s differs from .cosign.sig", sig)
	}
	ms["signature"] = "(random ECDSA signature, equal to .cosign.sig)"
	got, err := json.MarshalIndent(fields, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	golden := filepath.Join("testdata", t.Name()+".golden")
	if *update {
		if err := os.WriteFile(golden, append(got, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if want := readFile(t, golden); string(want) != string(got)+"\n" {
		t.Errorf("bundle fields:\n%s\nwant (%s):\n%s", got, golden, want)
	}
}

// TestFixtureSignatures verifies the signatures made for SPEC.md §3.6.
func TestFixtureSignatures(t *testing.T) {
	v, err := NewVerifier(readFile(t, filepath.Join(fixtureDir, "cosign.pub")))
	if err != nil {
		t.Fatal(err)
	}
	data := readFile(t, filepath.Join(fixtureDir, "artifact.txt"))
	digest := sha256.Sum256(data)
	if err := v.VerifySignature(digest[:], readFile(t, filepath.Join(fixtureDir, "artifact.txt.sig"))); err != nil {
		t.Errorf(".sig: %v", err)
	}
	bundle := readFile(t, filepath.Join(fixtureDir, "artifact.txt.sigstore.json"))
	if err := v.VerifyBundle(digest[:], bundle); err != nil {
		t.Errorf("bundle: %v", err)
	}
	// The same files under Slipway's names.
	p := writeFile(t, filepath.Join(t.TempDir(), "artifact.txt"), data)
	writeFile(t, p+signing.CosignSigExt, readFile(t, filepath.Join(fixtureDir, "artifact.txt.sig")))
	writeFile(t, p+signing.CosignBundleExt, bundle)
	if err := v.VerifyFile(t.Context(), p); err != nil {
		t.Errorf("VerifyFile: %v", err)
	}
	digest[0] ^= 1
	if err := v.VerifyBundle(digest[:], bundle); !errors.Is(err, signing.ErrBadSignature) {
		t.Errorf("bundle with another digest: %v", err)
	}
}

func TestTamperSlipway(t *testing.T) {
	v := testSigner(t).verifier
	for _, tc := range tamperCases {
		t.Run(tc.name, func(t *testing.T) {
			p := signedCopy(t)
			tc.mutate(t, p)
			err := v.VerifyFile(t.Context(), p)
			t.Log(err)
			if !errors.Is(err, signing.ErrBadSignature) {
				t.Fatalf("tampered file: err = %v, want ErrBadSignature", err)
			}
		})
	}
}

func TestVerifyFileBadInput(t *testing.T) {
	v := testSigner(t).verifier
	bundleWith := func(edit func(map[string]any)) func(*testing.T, string) {
		return func(t *testing.T, p string) { editBundle(t, p, edit) }
	}
	setSig := func(s string) func(*testing.T, string) {
		return func(t *testing.T, p string) { writeFile(t, p+signing.CosignSigExt, []byte(s)) }
	}
	tests := []struct {
		name   string
		mutate func(*testing.T, string)
		want   error
	}{
		{"no signature file", func(t *testing.T, p string) { os.Remove(p + signing.CosignSigExt) }, fs.ErrNotExist},
		{"no bundle", func(t *testing.T, p string) { os.Remove(p + signing.CosignBundleExt) }, fs.ErrNotExist},
		{"no artifact", func(t *testing.T, p string) { os.Remove(p) }, fs.ErrNotExist},
		{"empty signature", setSig(""), signing.ErrBadSignature},
		{"signature not base64", setSig("not base64!"), signing.ErrBadSignature},
		{"signature with line break", func(t *testing.T, p string) {
			s := readFile(t, p+signing.CosignSigExt)
			setSig(string(s[:20])+"\n"+string(s[20:]))(t, p)
		}, signing.ErrBadSignature},
		{"raw r||s signature", setSig(base64.StdEncoding.EncodeToString(make([]byte, 64))), signing.ErrBadSignature},
		{"oversize signature", setSig(strings.Repeat("A", maxSigFile+1)), signing.ErrBadSignature},
		{"oversize bundle", func(t *testing.T, p string) {
			writeFile(t, p+signing.CosignBundleExt, bytes.Repeat([]byte(" "), maxBundleFile+1))
		}, signing.ErrBadSignature},
		{"bundle not JSON", func(t *testing.T, p string) { writeFile(t, p+signing.CosignBundleExt, []byte("{")) }, signing.ErrBadSignature},
		{"truncated bundle", func(t *testing.T, p string) {
			b := readFile(t, p+signing.CosignBundleExt)
			writeFile(t, p+signing.CosignBundleExt, b[:len(b)/2])
		}, signing.ErrBadSignature},
		{"unknown bundle field", bundleWith(func(b map[string]any) { b["extra"] = true }), signing.ErrBadSignature},
		{"unknown media type", bundleWith(func(b map[string]any) { b["mediaType"] = "application/json" }), signing.ErrBadSignature},
		{"SHA-384 digest", bundleWith(func(b map[string]any) {
			b["messageSignature"].(map[string]any)["messageDigest"].(map[string]any)["algorithm"] = "SHA2_384"
		}), signing.ErrBadSignature},
		{"empty hint", bundleWith(func(b map[string]any) {
			b["verificationMaterial"].(map[string]any)["publicKey"].(map[string]any)["hint"] = ""
		}), signing.ErrBadSignature},
		{"certificate instead of key", bundleWith(func(b map[string]any) {
			b["verificationMaterial"] = map[string]any{"certificate": map[string]any{"rawBytes": "MAA="}}
		}), signing.ErrBadSignature},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := signedCopy(t)
			tt.mutate(t, p)
			if err := v.VerifyFile(t.Context(), p); !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
		})
	}
	t.Run("trailing newline tolerated", func(t *testing.T) {
		p := signedCopy(t)
		writeFile(t, p+signing.CosignSigExt, append(readFile(t, p+signing.CosignSigExt), '\n'))
		if err := v.VerifyFile(t.Context(), p); err != nil {
			t.Fatal(err)
		}
	})
}

func TestSignErrors(t *testing.T) {
	t.Parallel()
	priv, _ := keyPair(t)
	if _, err := New(priv, []byte(testPassword), Options{TlogUpload: true}); !errors.Is(err, ErrTlogUnsupported) {
		t.Errorf("TlogUpload: %v", err)
	}
	if _, err := New(priv, nil, Options{KeyName: "/etc/slipway/cosign.key"}); !errors.Is(err, signing.ErrNoPassword) ||
		!strings.Contains(err.Error(), "/etc/slipway/cosign.key") {
		t.Errorf("no password: %v", err)
	}
	s := testSigner(t)
	if _, err := s.Sign(t.Context(), filepath.Join(t.TempDir(), "missing")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	p := artifact(t, "x")
	if _, err := s.Sign(ctx, p); !errors.Is(err, context.Canceled) {
		t.Errorf("canceled: %v", err)
	}
	if _, err := os.Stat(p + signing.CosignSigExt); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("canceled sign left a signature: %v", err)
	}
}
