package minisign

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/slipwayhq/slipway/signing"
)

// TestFixtureMinisign verifies shared/interop/minisign (made by C minisign)
// and checks every decoded field against the fixture's layout.json.
func TestFixtureMinisign(t *testing.T) {
	dir := interop(t, "minisign")
	pk, err := ParsePublicKey(readFile(t, filepath.Join(dir, "test.pub")))
	if err != nil {
		t.Fatal(err)
	}
	var layout struct {
		PublicKey struct {
			KeyIDHex   string `json:"key_id_hex_bytes"`
			KeyIDShown string `json:"key_id_as_displayed"`
			PubHex     string `json:"ed25519_public_key_hex"`
		} `json:"public_key"`
		Signature struct {
			Untrusted string `json:"untrusted_comment"`
			Alg       string `json:"signature_algorithm"`
			KeyIDHex  string `json:"key_id_hex_bytes"`
			SigHex    string `json:"signature_hex"`
			Trusted   string `json:"trusted_comment"`
			GlobalHex string `json:"global_signature_hex"`
		} `json:"signature"`
	}
	if err := json.Unmarshal(readFile(t, filepath.Join(dir, "sample.txt.minisig.layout.json")), &layout); err != nil {
		t.Fatal(err)
	}
	if got := hex.EncodeToString(pk.ID[:]); got != layout.PublicKey.KeyIDHex {
		t.Errorf("key id bytes %s, want %s", got, layout.PublicKey.KeyIDHex)
	}
	if pk.ID.String() != layout.PublicKey.KeyIDShown {
		t.Errorf("key id shown %s, want %s", pk.ID, layout.PublicKey.KeyIDShown)
	}
	if got := hex.EncodeToString(pk.Key); got != layout.PublicKey.PubHex {
		t.Errorf("public key %s, want %s", got, layout.PublicKey.PubHex)
	}

	sig, err := ParseSignature(readFile(t, filepath.Join(dir, "sample.txt.minisig")))
	if err != nil {
		t.Fatal(err)
	}
	ls := layout.Signature
	if sig.Legacy || ls.Alg != "ED" || sig.UntrustedComment != ls.Untrusted || sig.TrustedComment != ls.Trusted ||
		hex.EncodeToString(sig.KeyID[:]) != ls.KeyIDHex || hex.EncodeToString(sig.Sig[:]) != ls.SigHex ||
		hex.EncodeToString(sig.GlobalSig[:]) != ls.GlobalHex {
		t.Errorf("parsed signature %+v does not match layout %+v", sig, ls)
	}
	data := readFile(t, filepath.Join(dir, "sample.txt"))
	for _, name := range []string{"sample.txt.minisig", "sample.txt.legacy.minisig"} {
		t.Run(name, func(t *testing.T) {
			text := readFile(t, filepath.Join(dir, name))
			s, err := ParseSignature(text)
			if err != nil {
				t.Fatal(err)
			}
			if s.Legacy != strings.Contains(name, "legacy") {
				t.Errorf("Legacy = %v", s.Legacy)
			}
			if err := Verify(pk, bytes.NewReader(data), s); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(s.Encode(), text) {
				t.Errorf("re-encoding changed the file:\n%q\n%q", s.Encode(), text)
			}
			if err := Verify(pk, bytes.NewReader(flip(data, 3)), s); !errors.Is(err, signing.ErrBadSignature) {
				t.Errorf("tampered data: err = %v", err)
			}
		})
	}
}

// tauriArtifacts lists the signed fake artifacts in shared/interop/tauri.
func tauriArtifacts(t *testing.T) (dir string, names []string) {
	dir = interop(t, "tauri", "artifacts")
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if n := e.Name(); !strings.HasSuffix(n, ".sig") && !strings.HasSuffix(n, ".minisig") {
			names = append(names, n)
		}
	}
	if len(names) != 6 {
		t.Fatalf("found %d artifacts, want 6: %v", len(names), names)
	}
	return dir, names
}

// TestFixtureTauriArtifacts verifies every artifact's .minisig and .sig with
// the key in all three public-key forms, and applies Tauri's version rule.
func TestFixtureTauriArtifacts(t *testing.T) {
	keys := interop(t, "tauri", "keys")
	var pks []*PublicKey
	for _, f := range []string{"minisign.pub", "tauri-pubkey.txt", "tauri-pubkey.b64"} {
		pk, err := ParsePublicKey(readFile(t, filepath.Join(keys, f)))
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		pks = append(pks, pk)
	}
	for _, pk := range pks[1:] {
		if pk.ID != pks[0].ID || !pk.Key.Equal(pks[0].Key) {
			t.Fatal("the three public key forms disagree")
		}
	}
	if rt, err := ParsePublicKey([]byte(pks[0].Tauri())); err != nil || rt.ID != pks[0].ID || !rt.Key.Equal(pks[0].Key) {
		t.Errorf("Tauri() pubkey does not round-trip: %v", err)
	}
	dir, names := tauriArtifacts(t)
	for _, name := range append(names, "MyApp.app.tar.gz.noversion") {
		artifact := strings.TrimSuffix(name, ".noversion")
		t.Run(name, func(t *testing.T) {
			data := readFile(t, filepath.Join(dir, artifact))
			minisig := readFile(t, filepath.Join(dir, name+".minisig"))
			tauri := string(readFile(t, filepath.Join(dir, name+".sig")))
			if tauri != b64.EncodeToString(minisig) {
				t.Fatal(".sig is not base64 of .minisig")
			}
			sig, err := ParseSignature(minisig)
			if err != nil {
				t.Fatal(err)
			}
			if sig.Tauri() != tauri {
				t.Error("Tauri() does not reproduce the .sig byte for byte")
			}
			for _, pk := range pks {
				if err := Verify(pk, bytes.NewReader(data), sig); err != nil {
					t.Fatal(err)
				}
			}
			if file, _ := sig.Field("file"); file != artifact {
				t.Errorf("file field %q, want %q", file, artifact)
			}
			_, err = VerifyTauri(pks[2], bytes.NewReader(data), tauri, "1.2.3")
			if name == artifact {
				if err != nil {
					t.Fatalf("VerifyTauri: %v", err)
				}
			} else if !errors.Is(err, ErrMissingSignedVersion) {
				t.Fatalf("old-style signature with version required: err = %v", err)
			}
			if _, err := VerifyTauriWith(pks[2], bytes.NewReader(data), tauri, "v1.2.3", TauriOptions{}); err != nil {
				t.Fatalf("VerifyTauriWith(not required): %v", err)
			}
		})
	}
}

// TestFixtureMalformedSignatures runs the signature field of every
// tauri/malformed/*.json that has one through VerifyTauri, with the JSON's
// version as the announced one; the expected outcomes are SPEC.md §1.6's.
func TestFixtureMalformedSignatures(t *testing.T) {
	dir := interop(t, "tauri", "malformed")
	pk, err := ParsePublicKey(readFile(t, interop(t, "tauri", "keys", "tauri-pubkey.b64")))
	if err != nil {
		t.Fatal(err)
	}
	data := readFile(t, interop(t, "tauri", "artifacts", "MyApp.app.tar.gz"))
	tests := []struct {
		file string
		want error // nil: verifies
	}{
		{"signature-is-raw-minisign-text.json", ErrMalformedSignature},
		{"signature-with-trailing-newline.json", ErrMalformedSignature},
		{"signature-for-other-version.json", ErrSignedVersionMismatch},
		{"version-not-semver.json", ErrSignedVersionMismatch},   // "1.2" vs signed 1.2.3
		{"version-uppercase-V.json", ErrSignedVersionMismatch},  // "V1.2.3" is not SemVer
		{"pub_date-empty-string.json", nil},                     // signature itself is fine
		{"dynamic-relative-url.json", nil},                      // idem
		{"static-entry-missing-signature.json", nil},            // darwin entry verifies
		{"version-number-not-string.json", errNoStringVersion},  // JSON decode problem
		{"missing-version.json", errNoStringVersion},            // idem
		{"dynamic-missing-signature.json", errNoSignatureField}, // nothing to verify
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			version, sig, err := manifestSignature(readFile(t, filepath.Join(dir, tt.file)))
			if err != nil {
				if !errors.Is(err, tt.want) {
					t.Fatalf("manifest: %v, want %v", err, tt.want)
				}
				return
			}
			_, err = VerifyTauri(pk, bytes.NewReader(data), sig, version)
			if !errors.Is(err, tt.want) || (tt.want == nil) != (err == nil) {
				t.Fatalf("VerifyTauri = %v, want %v", err, tt.want)
			}
			var vm *VersionMismatchError
			if errors.As(err, &vm) && (vm.Signed != "1.2.3" || vm.Announced != version) {
				t.Errorf("mismatch error %+v", vm)
			}
		})
	}
}

var (
	errNoStringVersion  = errors.New("no string version")
	errNoSignatureField = errors.New("no signature field")
)

// manifestSignature pulls version and the first signature out of a
// dynamic or static Tauri manifest.
func manifestSignature(b []byte) (version, sig string, err error) {
	var m struct {
		Version   any    `json:"version"`
		Signature string `json:"signature"`
		Platforms map[string]struct {
			Signature string `json:"signature"`
		} `json:"platforms"`
	}
	if err := json.Unmarshal(b, &m); err != nil {
		return "", "", err
	}
	v, ok := m.Version.(string)
	if !ok {
		return "", "", errNoStringVersion
	}
	if m.Signature != "" {
		return v, m.Signature, nil
	}
	if p, ok := m.Platforms["darwin-aarch64"]; ok && p.Signature != "" {
		return v, p.Signature, nil
	}
	return "", "", errNoSignatureField
}

// TestFixtureSecretKeys loads every fixture secret key (C-minisign text and
// Tauri base64 forms), checks it matches its public key, and reproduces the
// fixture signatures byte for byte (Ed25519 signing is deterministic).
func TestFixtureSecretKeys(t *testing.T) {
	tests := []struct {
		key, pub, artifact, sig string
	}{
		{interop(t, "minisign", "test.key"), interop(t, "minisign", "test.pub"),
			interop(t, "minisign", "sample.txt"), interop(t, "minisign", "sample.txt.minisig")},
		{interop(t, "tauri", "keys", "minisign.key"), interop(t, "tauri", "keys", "minisign.pub"),
			interop(t, "tauri", "artifacts", "MyApp.app.tar.gz"), interop(t, "tauri", "artifacts", "MyApp.app.tar.gz.minisig")},
		{interop(t, "tauri", "keys", "tauri-private-key.UNENCRYPTED-TEST-ONLY.b64"), interop(t, "tauri", "keys", "tauri-pubkey.b64"),
			interop(t, "tauri", "artifacts", "MyApp_1.2.3_amd64.deb"), interop(t, "tauri", "artifacts", "MyApp_1.2.3_amd64.deb.minisig")},
	}
	for _, tt := range tests {
		t.Run(filepath.Base(tt.key), func(t *testing.T) {
			sk, err := ParseSecretKey(readFile(t, tt.key), nil)
			if err != nil {
				t.Fatal(err)
			}
			if sk.Encrypted() {
				t.Error("fixture key reported as encrypted")
			}
			pk, err := ParsePublicKey(readFile(t, tt.pub))
			if err != nil {
				t.Fatal(err)
			}
			if sk.Public().ID != pk.ID || !sk.Public().Key.Equal(pk.Key) {
				t.Fatal("secret key does not match its public key")
			}
			want, err := ParseSignature(readFile(t, tt.sig))
			if err != nil {
				t.Fatal(err)
			}
			got, err := Sign(sk, bytes.NewReader(readFile(t, tt.artifact)), SignOptions{
				TrustedComment: want.TrustedComment, UntrustedComment: want.UntrustedComment})
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got.Encode(), want.Encode()) {
				t.Errorf("signature differs from the fixture:\n got %q\nwant %q", got.Encode(), want.Encode())
			}
		})
	}
}
