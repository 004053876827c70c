package cosign

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
)

// tamperCase alters one byte of a signed artifact or its signatures. Every
// case must make Slipway's verifier fail; cosignSig / cosignBundle say
// whether `cosign verify-blob` with the .cosign.sig / the bundle must fail.
type tamperCase struct {
	name         string
	mutate       func(t *testing.T, path string)
	cosignSig    bool
	cosignBundle bool
}

var tamperCases = []tamperCase{
	{"artifact byte", func(t *testing.T, p string) { flipFileByte(t, p, 7) }, true, true},
	{"signature DER byte", func(t *testing.T, p string) {
		sig := decodeB64(t, string(readFile(t, p+".cosign.sig")))
		sig[len(sig)/2] ^= 0x01
		writeFile(t, p+".cosign.sig", []byte(base64.StdEncoding.EncodeToString(sig)))
	}, true, false},
	{"signature file byte", func(t *testing.T, p string) { flipFileByte(t, p+".cosign.sig", 12) }, true, false},
	{"signature of another file", func(t *testing.T, p string) {
		other := filepath.Join(filepath.Dir(p), "other.bin")
		writeFile(t, other, []byte("another artifact"))
		if _, err := testSigner(t).Sign(t.Context(), other); err != nil {
			t.Fatal(err)
		}
		for _, ext := range []string{".cosign.sig", ".sigstore.json"} {
			writeFile(t, p+ext, readFile(t, other+ext))
		}
	}, true, true},
	{"bundle signature byte", func(t *testing.T, p string) {
		editBundle(t, p, func(b map[string]any) {
			ms := b["messageSignature"].(map[string]any)
			ms["signature"] = flipB64(t, ms["signature"].(string), 20)
		})
	}, false, true},
	// cosign v2.6.5 hands the artifact itself to sigstore-go, which then
	// checks the signature over the artifact and never reads the bundle's
	// messageDigest (verify/signature.go verifyMessageSignature); only
	// Slipway's verifier rejects a digest that does not match.
	{"bundle digest byte", func(t *testing.T, p string) {
		editBundle(t, p, func(b map[string]any) {
			md := b["messageSignature"].(map[string]any)["messageDigest"].(map[string]any)
			md["digest"] = flipB64(t, md["digest"].(string), 3)
		})
	}, false, false},
	// cosign v2.6.5 ignores the hint when given --key (pkg/cosign/verify.go,
	// verificationOptions: NewTrustedPublicKeyMaterial(func(_ string) ...)),
	// so only Slipway's verifier rejects a wrong key id.
	{"bundle key hint byte", func(t *testing.T, p string) {
		editBundle(t, p, func(b map[string]any) {
			pk := b["verificationMaterial"].(map[string]any)["publicKey"].(map[string]any)
			pk["hint"] = flipB64(t, pk["hint"].(string), 0)
		})
	}, false, false},
	{"bundle field name byte", func(t *testing.T, p string) {
		data := readFile(t, p+".sigstore.json")
		i := bytes.Index(data, []byte(`"messageSignature"`))
		if i < 0 {
			t.Fatalf("no messageSignature in %s", data)
		}
		data[i+1] ^= 0x20 // "MessageSignature": unknown to protojson
		writeFile(t, p+".sigstore.json", data)
	}, false, true},
}

func flipFileByte(t *testing.T, path string, i int) {
	t.Helper()
	data := readFile(t, path)
	data[i%len(data)] ^= 0x01
	writeFile(t, path, data)
}

func decodeB64(t *testing.T, s string) []byte {
	t.Helper()
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func flipB64(t *testing.T, s string, i int) string {
	t.Helper()
	b := decodeB64(t, s)
	b[i] ^= 0x01
	return base64.StdEncoding.EncodeToString(b)
}

func editBundle(t *testing.T, path string, edit func(map[string]any)) {
	t.Helper()
	var b map[string]any
	if err := json.Unmarshal(readFile(t, path+".sigstore.json"), &b); err != nil {
		t.Fatal(err)
	}
	edit(b)
	out, err := json.Marshal(b)
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, path+".sigstore.json", out)
}

// signedCopy signs a fresh artifact in its own directory.
func signedCopy(t *testing.T) string {
	t.Helper()
	p := artifact(t, "slipway release artifact: tamper with me\n")
	if _, err := testSigner(t).Sign(t.Context(), p); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(p, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}
