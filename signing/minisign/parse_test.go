package minisign

import (
	"encoding/binary"
	"errors"
	"strings"
	"testing"

	"github.com/slipwayhq/slipway/signing"
)

// rebox re-encodes a secret key file after mutating its binary blob.
func rebox(t *testing.T, text []byte, mutate func(raw []byte) []byte) []byte {
	t.Helper()
	lines := strings.Split(string(text), "\n")
	raw, err := decodeB64(lines[1])
	if err != nil {
		t.Fatal(err)
	}
	lines[1] = b64.EncodeToString(mutate(raw))
	return []byte(strings.Join(lines, "\n"))
}

func TestParseSecretKeyErrors(t *testing.T) {
	plain, pk, err := GenerateKeyWithOptions(nil, KeyOptions{Rand: detRand(6)})
	if err != nil {
		t.Fatal(err)
	}
	enc, _, err := GenerateKeyWithOptions([]byte("pw"), KeyOptions{Rand: detRand(6), OpsLimit: 32768, MemLimit: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	sig, _ := Sign(plain, strings.NewReader("x"), SignOptions{})
	p, e := plain.Encode(), enc.Encode()
	// C minisign -W writes unencrypted keys with an all-zero checksum.
	zeroChk := rebox(t, p, func(r []byte) []byte { clear(r[126:]); return r })
	tests := []struct {
		name     string
		text     []byte
		password string
		want     error // nil: loads
	}{
		{"plain", p, "", nil},
		{"plain ignores password", p, "unused", nil},
		{"encrypted", e, "pw", nil},
		{"C minisign zero checksum", zeroChk, "", nil},
		{"no password", e, "", signing.ErrNoPassword},
		{"wrong password", e, "wrong", signing.ErrWrongPassword},
		{"truncated line", p[:len(p)-20], "", ErrMalformedKey},
		{"truncated blob", rebox(t, p, func(r []byte) []byte { return r[:150] }), "", ErrMalformedKey},
		{"one line", []byte(strings.SplitN(string(p), "\n", 2)[0]), "", ErrMalformedKey},
		{"empty", nil, "", ErrMalformedKey},
		{"garbage", []byte("not a key at all"), "", ErrMalformedKey},
		{"CRLF", []byte(strings.ReplaceAll(string(p), "\n", "\r\n")), "", ErrMalformedKey},
		{"extra line", append(p, "more\n"...), "", ErrMalformedKey},
		{"oversize", []byte(untrustedPrefix + strings.Repeat("x", MaxKeyLen)), "", ErrMalformedKey},
		{"public key", pk.Encode(), "", ErrWrongKind},
		{"public key tauri form", []byte(pk.Tauri()), "", ErrWrongKind},
		{"signature", sig.Encode(), "", ErrWrongKind},
		{"cosign PEM", []byte("-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----\nabc\n-----END ENCRYPTED SIGSTORE PRIVATE KEY-----\n"), "", ErrWrongKind},
		{"corrupt checksum", rebox(t, p, func(r []byte) []byte { r[140] ^= 1; return r }), "", ErrCorruptKey},
		{"corrupt public half", rebox(t, p, func(r []byte) []byte { r[120] ^= 1; return r }), "", ErrCorruptKey},
		{"corrupt sealed byte", rebox(t, e, func(r []byte) []byte { r[80] ^= 1; return r }), "pw", signing.ErrWrongPassword},
		{"wrong signature algorithm", rebox(t, p, func(r []byte) []byte { r[1] = 'D'; return r }), "", ErrMalformedKey},
		{"unknown kdf", rebox(t, p, func(r []byte) []byte { copy(r[2:], "Ar"); return r }), "", ErrMalformedKey},
		{"unknown checksum", rebox(t, p, func(r []byte) []byte { copy(r[4:], "S2"); return r }), "", ErrMalformedKey},
		{"kdf too expensive", rebox(t, e, func(r []byte) []byte { binary.LittleEndian.PutUint64(r[46:], 1<<34); return r }), "pw", ErrKDFTooExpensive},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sk, err := ParseSecretKey(tt.text, []byte(tt.password))
			if tt.want == nil {
				if err != nil {
					t.Fatal(err)
				}
				if sk.ID != plain.ID {
					t.Error("wrong key loaded")
				}
				return
			}
			if !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
			if !errors.Is(err, signing.ErrBadKey) && !errors.Is(err, signing.ErrNoPassword) && !errors.Is(err, signing.ErrWrongPassword) {
				t.Errorf("%v is not one of the shared signing errors", err)
			}
		})
	}
}

func TestParsePublicKeyErrors(t *testing.T) {
	sk, pk, _ := GenerateKeyWithOptions(nil, KeyOptions{Rand: detRand(7)})
	line := pk.String()
	tests := []struct {
		name string
		text string
		want error
	}{
		{"empty", "", ErrMalformedKey},
		{"garbage", "hello", ErrMalformedKey},
		{"bare truncated", line[:55], ErrMalformedKey},
		{"bare not base64", strings.Repeat("!", 56), ErrMalformedKey},
		{"text without key line", untrustedPrefix + "x\n", ErrMalformedKey},
		{"text CRLF", untrustedPrefix + "x\r\n" + line + "\r\n", ErrMalformedKey},
		{"text extra line", untrustedPrefix + "x\n" + line + "\nmore\n", ErrMalformedKey},
		{"text bad prefix", "comment: x\n" + line + "\n", ErrMalformedKey},
		{"wrong algorithm", untrustedPrefix + "x\n" + b64.EncodeToString(append([]byte("ED"), mustDecode(t, line)[2:]...)) + "\n", ErrMalformedKey},
		{"secret key", string(sk.Encode()), ErrWrongKind},
		{"tauri form with newline inside", b64.EncodeToString(pk.Encode())[:20] + "\n" + b64.EncodeToString(pk.Encode())[20:], ErrMalformedKey},
		{"oversize", strings.Repeat("A", MaxKeyLen+1), ErrMalformedKey},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := ParsePublicKey([]byte(tt.text)); !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
		})
	}
}

func mustDecode(t *testing.T, s string) []byte {
	t.Helper()
	b, err := decodeB64(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestParseSignatureErrors(t *testing.T) {
	sk, pk, _ := GenerateKeyWithOptions(nil, KeyOptions{Rand: detRand(8)})
	sig, _ := Sign(sk, strings.NewReader("x"), SignOptions{Time: goldenTime})
	good := string(sig.Encode())
	l := strings.Split(strings.TrimSuffix(good, "\n"), "\n")
	join := func(lines ...string) string { return strings.Join(lines, "\n") + "\n" }
	line2 := func(mutate func([]byte) []byte) string { return b64.EncodeToString(mutate(mustDecode(t, l[1]))) }
	tests := []struct {
		name string
		text string
		want error // nil: parses
	}{
		{"good", good, nil},
		{"no final newline", strings.TrimSuffix(good, "\n"), nil},
		{"empty", "", ErrMalformedSignature},
		{"garbage", "garbage", ErrMalformedSignature},
		{"three lines", join(l[0], l[1], l[2]), ErrMalformedSignature},
		{"five lines", join(l[0], l[1], l[2], l[3], "x"), ErrMalformedSignature},
		{"blank line after", good + "\n", ErrMalformedSignature},
		{"CRLF", strings.ReplaceAll(good, "\n", "\r\n"), ErrMalformedSignature},
		{"CR in trusted comment", join(l[0], l[1], l[2]+"\rx", l[3]), ErrMalformedSignature},
		{"no untrusted prefix", join("signature", l[1], l[2], l[3]), ErrMalformedSignature},
		{"no trusted prefix", join(l[0], l[1], "trusted_comment: x", l[3]), ErrMalformedSignature},
		{"untrusted too long", join(untrustedPrefix+strings.Repeat("u", MaxCommentLen+1), l[1], l[2], l[3]), ErrMalformedSignature},
		{"trusted too long", join(l[0], l[1], trustedPrefix+strings.Repeat("t", MaxTrustedCommentLen+1), l[3]), ErrMalformedSignature},
		{"trusted not printable", join(l[0], l[1], trustedPrefix+"a\x01b", l[3]), ErrMalformedSignature},
		{"trusted DEL", join(l[0], l[1], trustedPrefix+"a\x7fb", l[3]), ErrMalformedSignature},
		{"line 2 short", join(l[0], l[1][:96], l[2], l[3]), ErrMalformedSignature},
		{"line 2 long", join(l[0], line2(func(b []byte) []byte { return append(b, 0, 0, 0) }), l[2], l[3]), ErrMalformedSignature},
		{"line 2 is a public key", join(l[0], pk.String(), l[2], l[3]), ErrMalformedSignature},
		{"line 2 non-canonical padding bits", join(l[0], l[1][:98]+"B=", l[2], l[3]), ErrMalformedSignature},
		{"line 4 short", join(l[0], l[1], l[2], l[3][:84]), ErrMalformedSignature},
		{"line 4 not base64", join(l[0], l[1], l[2], strings.Repeat("*", 88)), ErrMalformedSignature},
		{"algorithm Ex", join(l[0], line2(func(b []byte) []byte { b[1] = 'x'; return b }), l[2], l[3]), ErrUnsupportedAlgorithm},
		{"oversize", good + strings.Repeat("x", MaxSignatureLen), ErrMalformedSignature},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseSignature([]byte(tt.text))
			if !errors.Is(err, tt.want) || (tt.want == nil) != (err == nil) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
			if err != nil && !errors.Is(err, signing.ErrBadSignature) {
				t.Errorf("%v does not wrap signing.ErrBadSignature", err)
			}
		})
	}
}

func TestParseTauriSignatureErrors(t *testing.T) {
	sk, _, _ := GenerateKeyWithOptions(nil, KeyOptions{Rand: detRand(9)})
	sig, _ := Sign(sk, strings.NewReader("x"), SignOptions{})
	good := sig.Tauri()
	tests := []struct {
		name string
		text string
		ok   bool
	}{
		{"good", good, true},
		{"trailing newline", good + "\n", false},
		{"trailing CRLF", good + "\r\n", false},
		{"leading space", " " + good, false},
		{"unpadded", strings.TrimRight(good, "="), false},
		{"raw minisig text", string(sig.Encode()), false},
		{"url-safe alphabet", strings.NewReplacer("+", "-", "/", "_").Replace(good), !strings.ContainsAny(good, "+/")},
		{"not UTF-8", b64.EncodeToString([]byte{0xff, 0xfe, 0xfd}), false},
		{"base64 of garbage", b64.EncodeToString([]byte("hello")), false},
		{"oversize", strings.Repeat("A", MaxTauriSignatureLen+4), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseTauriSignature(tt.text)
			if (err == nil) != tt.ok {
				t.Fatalf("err = %v, want ok=%v", err, tt.ok)
			}
			if err != nil && !errors.Is(err, ErrMalformedSignature) {
				t.Errorf("%v is not ErrMalformedSignature", err)
			}
		})
	}
}
