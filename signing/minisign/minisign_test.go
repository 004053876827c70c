package minisign

import (
	"bytes"
	"crypto/ed25519"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/slipwayhq/slipway/signing"
)

// detRand is a deterministic randomness source for golden outputs.
func detRand(seed byte) *rand.ChaCha8 { return rand.NewChaCha8([32]byte{seed}) }

const goldenPassword = "golden-password"

var (
	goldenData = []byte("MyApp 1.2.3 for macOS, pretend this is a tarball\n")
	goldenTime = time.Unix(1718000000, 0)
)

// TestGolden pins the exact bytes of keys, .minisig and Tauri .sig for a
// fixed key, time and artifact.
func TestGolden(t *testing.T) {
	sk, pk, err := GenerateKeyWithOptions(nil, KeyOptions{Rand: detRand(1)})
	if err != nil {
		t.Fatal(err)
	}
	esk, _, err := GenerateKeyWithOptions([]byte(goldenPassword), KeyOptions{Rand: detRand(1)})
	if err != nil {
		t.Fatal(err)
	}
	sig, err := Sign(sk, bytes.NewReader(goldenData), SignOptions{
		FileName: "MyApp.app.tar.gz", Version: "1.2.3", Time: goldenTime})
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "TestGolden.key.golden", sk.Encode())
	golden(t, "TestGolden.encrypted.key.golden", esk.Encode())
	golden(t, "TestGolden.pub.golden", pk.Encode())
	golden(t, "TestGolden.pub.tauri.golden", []byte(pk.Tauri()))
	golden(t, "TestGolden.minisig.golden", sig.Encode())
	golden(t, "TestGolden.sig.golden", []byte(sig.Tauri()))

	want := "trusted comment: timestamp:1718000000\tfile:MyApp.app.tar.gz\tversion:1.2.3\n"
	if !strings.Contains(string(sig.Encode()), want) {
		t.Errorf("trusted comment line missing %q", want)
	}
	if strings.HasSuffix(sig.Tauri(), "\n") || !strings.HasPrefix(sig.Tauri(), "dW50cnVzdGVkIGNvbW1lbnQ6") {
		t.Errorf("tauri .sig %q must be single-line base64 of the .minisig", sig.Tauri())
	}
	// The encrypted golden key decrypts to the same key as the plain one.
	back, err := ParseSecretKey(readGolden(t, "TestGolden.encrypted.key.golden"), []byte(goldenPassword))
	if err != nil {
		t.Fatal(err)
	}
	if back.ID != sk.ID || !bytes.Equal(back.key, sk.key) || !back.Encrypted() {
		t.Error("encrypted golden key does not decrypt to the plain golden key")
	}
}

func readGolden(t *testing.T, name string) []byte {
	t.Helper()
	return readFile(t, "testdata/"+name)
}

func TestRoundTrip(t *testing.T) {
	for _, pw := range []string{"", "correct horse"} {
		t.Run("password="+pw, func(t *testing.T) {
			sk, pk, err := GenerateKeyWithOptions([]byte(pw), KeyOptions{OpsLimit: 32768, MemLimit: 1 << 20})
			if err != nil {
				t.Fatal(err)
			}
			if sk.Encrypted() != (pw != "") {
				t.Errorf("Encrypted() = %v", sk.Encrypted())
			}
			for _, form := range [][]byte{sk.Encode(), []byte(sk.Tauri()), []byte(sk.Tauri() + "\n")} {
				back, err := ParseSecretKey(form, []byte(pw))
				if err != nil {
					t.Fatal(err)
				}
				if back.ID != sk.ID || !bytes.Equal(back.key, sk.key) || !bytes.Equal(back.Encode(), sk.Encode()) {
					t.Fatal("secret key did not round-trip")
				}
			}
			for _, form := range []string{string(pk.Encode()), pk.String(), pk.Tauri(), pk.String() + "\n"} {
				back, err := ParsePublicKey([]byte(form))
				if err != nil {
					t.Fatalf("%q: %v", form, err)
				}
				if back.ID != pk.ID || !back.Key.Equal(pk.Key) {
					t.Fatal("public key did not round-trip")
				}
			}
			sig, err := Sign(sk, strings.NewReader("data"), SignOptions{Version: "2.0.0"})
			if err != nil {
				t.Fatal(err)
			}
			for _, parse := range []func() (*Signature, error){
				func() (*Signature, error) { return ParseSignature(sig.Encode()) },
				func() (*Signature, error) { return ParseTauriSignature(sig.Tauri()) },
			} {
				s, err := parse()
				if err != nil {
					t.Fatal(err)
				}
				if err := Verify(pk, strings.NewReader("data"), s); err != nil {
					t.Fatal(err)
				}
			}
			if !strings.Contains(fmtAll(sk), sk.ID.String()) || strings.Contains(fmtAll(sk), b64.EncodeToString(sk.key)) {
				t.Error("formatting a secret key must name it and never print it")
			}
		})
	}
}

// fmtAll renders v with every fmt verb that could leak a key.
func fmtAll(sk *SecretKey) string {
	var b strings.Builder
	for _, verb := range []string{"%v", "%+v", "%#v", "%s"} {
		b.WriteString(strings.ReplaceAll(fmt.Sprintf(verb, sk), "\n", " "))
	}
	return b.String()
}

func TestScryptParams(t *testing.T) {
	tests := []struct {
		name     string
		ops, mem uint64
		nLog2    uint
		p        int
		err      error
	}{
		{"rust-minisign/tauri default", DefaultOpsLimit, DefaultMemLimit, 15, 1, nil},
		{"C minisign sensitive", SensitiveOpsLimit, SensitiveMemLimit, 20, 1, nil},
		{"libsodium interactive", 524288, 16777216, 14, 1, nil},
		{"opslimit branch", 32768, 16777216, 10, 1, nil},
		{"opslimit below minimum", 1, 16777216, 10, 1, nil},
		{"memlimit too high", SensitiveOpsLimit, 1 << 31, 0, 0, ErrKDFTooExpensive},
		{"p from opslimit", 1 << 27, 1 << 30, 20, 4, nil},
		{"p too high", 1 << 32, 1 << 24, 0, 0, ErrKDFTooExpensive},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n, r, p, err := scryptParams(tt.ops, tt.mem)
			if !errors.Is(err, tt.err) || (err == nil) != (tt.err == nil) {
				t.Fatalf("err = %v, want %v", err, tt.err)
			}
			if err == nil && (n != tt.nLog2 || r != 8 || p != tt.p) {
				t.Errorf("N=2^%d r=%d p=%d, want N=2^%d r=8 p=%d", n, r, p, tt.nLog2, tt.p)
			}
		})
	}
}

func TestSameVersion(t *testing.T) {
	tests := []struct {
		a, b string
		same bool
	}{
		{"1.2.3", "1.2.3", true},
		{"v1.2.3", "1.2.3", true},
		{"1.2.3", "v1.2.3", true},
		{"1.2.3", "1.2.4", false},
		{"1.2.3+b1", "1.2.3+b2", false},
		{"1.2.3-rc.1", "v1.2.3-rc.1", true},
		{"V1.2.3", "1.2.3", false},
		{"1.2", "1.2.3", false},
		{"nightly", "nightly", true},
		{"vnightly", "nightly", false},
	}
	for _, tt := range tests {
		if got := SameVersion(tt.a, tt.b); got != tt.same {
			t.Errorf("SameVersion(%q, %q) = %v", tt.a, tt.b, got)
		}
	}
}

func TestSignOptions(t *testing.T) {
	sk, _, err := GenerateKeyWithOptions(nil, KeyOptions{Rand: detRand(2)})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		opts    SignOptions
		trusted string
		bad     bool
	}{
		{"timestamp only", SignOptions{Time: goldenTime}, "timestamp:1718000000", false},
		{"file and version", SignOptions{Time: goldenTime, FileName: "a b.exe", Version: "1.0.0"},
			"timestamp:1718000000\tfile:a b.exe\tversion:1.0.0", false},
		{"override", SignOptions{TrustedComment: "custom\tthing"}, "custom\tthing", false},
		{"file with tab", SignOptions{FileName: "a\tb"}, "", true},
		{"version with newline", SignOptions{Version: "1\n2"}, "", true},
		{"untrusted with CR", SignOptions{UntrustedComment: "x\ry"}, "", true},
		{"override not printable", SignOptions{TrustedComment: "bell\a"}, "", true},
		{"override too long", SignOptions{TrustedComment: strings.Repeat("x", MaxTrustedCommentLen+1)}, "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sig, err := Sign(sk, strings.NewReader("x"), tt.opts)
			if (err != nil) != tt.bad {
				t.Fatalf("err = %v, want error %v", err, tt.bad)
			}
			if err == nil && sig.TrustedComment != tt.trusted {
				t.Errorf("trusted = %q, want %q", sig.TrustedComment, tt.trusted)
			}
		})
	}
}

// TestTamper flips one byte in each part of a signature, the data and the
// key id: Slipway's verifier must reject every one.
func TestTamper(t *testing.T) {
	sk, pk, err := GenerateKeyWithOptions(nil, KeyOptions{Rand: detRand(3)})
	if err != nil {
		t.Fatal(err)
	}
	data := []byte("the artifact bytes")
	sig, err := Sign(sk, bytes.NewReader(data), SignOptions{Version: "1.0.0", Time: goldenTime})
	if err != nil {
		t.Fatal(err)
	}
	other, _, _ := GenerateKeyWithOptions(nil, KeyOptions{Rand: detRand(4)})
	tests := []struct {
		name   string
		mutate func(s *Signature, d []byte) []byte
		want   error
	}{
		{"artifact byte", func(s *Signature, d []byte) []byte { return flip(d, 0) }, signing.ErrBadSignature},
		{"artifact appended", func(s *Signature, d []byte) []byte { return append(d, 0) }, signing.ErrBadSignature},
		{"signature byte", func(s *Signature, d []byte) []byte { s.Sig[10] ^= 1; return d }, signing.ErrBadSignature},
		{"key id byte", func(s *Signature, d []byte) []byte { s.KeyID[0] ^= 1; return d }, ErrKeyIDMismatch},
		{"global signature byte", func(s *Signature, d []byte) []byte { s.GlobalSig[63] ^= 1; return d }, signing.ErrBadSignature},
		{"trusted comment", func(s *Signature, d []byte) []byte { s.TrustedComment += "\tversion:9.9.9"; return d }, signing.ErrBadSignature},
		{"legacy flag", func(s *Signature, d []byte) []byte { s.Legacy = true; return d }, signing.ErrBadSignature},
		{"other key, same id", func(s *Signature, d []byte) []byte {
			o, _ := Sign(other, bytes.NewReader(d), SignOptions{})
			*s = *o
			s.KeyID = sk.ID
			return d
		}, signing.ErrBadSignature},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := ParseSignature(sig.Encode())
			if err != nil {
				t.Fatal(err)
			}
			d := tt.mutate(s, bytes.Clone(data))
			// Re-encode and re-parse so the tampered bytes go through the parser.
			s2, err := ParseSignature(s.Encode())
			if err != nil {
				t.Fatal(err)
			}
			if err := Verify(pk, bytes.NewReader(d), s2); !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
		})
	}
	if err := Verify(pk, bytes.NewReader(data), sig); err != nil {
		t.Fatalf("untouched signature: %v", err)
	}
}

// TestVerifyLegacy checks "Ed" signatures made by hand, the form old
// minisign versions wrote.
func TestVerifyLegacy(t *testing.T) {
	sk, pk, _ := GenerateKeyWithOptions(nil, KeyOptions{Rand: detRand(5)})
	s := &Signature{Legacy: true, KeyID: sk.ID, UntrustedComment: "u", TrustedComment: "t"}
	copy(s.Sig[:], ed25519.Sign(sk.key, []byte("raw")))
	copy(s.GlobalSig[:], ed25519.Sign(sk.key, s.globalMessage()))
	parsed, err := ParseSignature(s.Encode())
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(strings.Split(string(s.Encode()), "\n")[1], "RW") {
		t.Error("legacy signature line 2 should start with RW")
	}
	if err := Verify(pk, strings.NewReader("raw"), parsed); err != nil {
		t.Fatal(err)
	}
	if err := Verify(pk, strings.NewReader("raw!"), parsed); !errors.Is(err, signing.ErrBadSignature) {
		t.Fatalf("tampered legacy: %v", err)
	}
}
