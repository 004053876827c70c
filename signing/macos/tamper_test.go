package macos_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"debug/macho"
	"encoding/binary"
	"encoding/pem"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/slipwayhq/slipway/signing"
	"github.com/slipwayhq/slipway/signing/binfmt/binfmttest"
	"github.com/slipwayhq/slipway/signing/macos"
	"github.com/slipwayhq/slipway/signing/p12/p12test"
)

// sigRange returns the offset and size of the LC_CODE_SIGNATURE data.
func sigRange(t *testing.T, path string) (int64, int64) {
	t.Helper()
	f, err := macho.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, l := range f.Loads {
		raw := l.Raw()
		if f.ByteOrder.Uint32(raw) == 0x1d {
			return int64(f.ByteOrder.Uint32(raw[8:])), int64(f.ByteOrder.Uint32(raw[12:]))
		}
	}
	t.Fatal("no LC_CODE_SIGNATURE")
	return 0, 0
}

func TestTamperingDetected(t *testing.T) {
	pki := p12test.New(t, []byte("pw"), p12test.Options{})
	tests := []struct {
		name  string
		p12   string
		where func(sigOff, sigSize, blobLen int64) int64
	}{
		{"adhoc code page", "", func(int64, int64, int64) int64 { return 0x2345 }},
		{"adhoc last page", "", func(off, _, _ int64) int64 { return off - 1 }},
		{"adhoc mach header", "", func(int64, int64, int64) int64 { return 20 }},
		{"adhoc page hash", "", func(off, _, _ int64) int64 { return off + 500 }},
		{"p12 code page", pki.P12, func(int64, int64, int64) int64 { return 0x2345 }},
		{"p12 page hash", pki.P12, func(off, _, _ int64) int64 { return off + 500 }},
		{"p12 cms signature", pki.P12, func(off, _, _ int64) int64 { return off + cmsOffset + 300 }},
		{"p12 cms padding", pki.P12, func(off, _, n int64) int64 { return off + n - 1 }},
		{"p12 padding after super blob", pki.P12, func(off, size, _ int64) int64 { return off + size - 1 }},
		{"p12 super blob magic", pki.P12, func(off, _, _ int64) int64 { return off }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			bin := bins.Copy(t, "darwin", "amd64")
			s := macos.New(tt.p12, []byte("pw"), macos.Options{})
			if _, err := s.Sign(t.Context(), bin); err != nil {
				t.Fatal(err)
			}
			if err := s.Verify(t.Context(), bin); err != nil {
				t.Fatalf("Verify before tampering: %v", err)
			}
			off, size := sigRange(t, bin)
			data, _ := os.ReadFile(bin)
			blobLen := int64(binary.BigEndian.Uint32(data[off+4:]))
			cmsOffset = blobOffset(data[off:], 0x10000)
			if blobLen >= size {
				t.Fatalf("super blob fills the signature area (%d of %d bytes): no padding to test", blobLen, size)
			}
			binfmttest.FlipByte(t, bin, tt.where(off, size, blobLen))
			if err := s.Verify(t.Context(), bin); !errors.Is(err, signing.ErrBadSignature) {
				t.Errorf("Verify after tampering = %v, want ErrBadSignature", err)
			}
		})
	}
}

// cmsOffset is set per case to the offset of the CMS blob in the super blob.
var cmsOffset int64

// blobOffset finds a slot's blob in a super blob's index.
func blobOffset(sb []byte, slot uint32) int64 {
	for i := range binary.BigEndian.Uint32(sb[8:]) {
		e := sb[12+8*i:]
		if binary.BigEndian.Uint32(e) == slot {
			return int64(binary.BigEndian.Uint32(e[4:]))
		}
	}
	return 0
}

func TestTamperedCodeVisibleToQuill(t *testing.T) {
	bin := bins.Copy(t, "darwin", "arm64")
	if _, err := macos.New("", nil, macos.Options{}).Sign(t.Context(), bin); err != nil {
		t.Fatal(err)
	}
	binfmttest.FlipByte(t, bin, 0x5000)
	if n := pageHashMismatches(t, bin); n != 1 {
		t.Errorf("%d mismatching pages in quill's view, want 1", n)
	}
}

func TestUnsignedAndForeignFiles(t *testing.T) {
	s := macos.New("", nil, macos.Options{})
	dir := t.TempDir()
	text := filepath.Join(dir, "notes.txt")
	if err := os.WriteFile(text, []byte("not a binary"), 0o644); err != nil {
		t.Fatal(err)
	}
	exe := bins.Copy(t, "windows", "amd64")
	for _, p := range []string{text, exe} {
		if _, err := s.Sign(t.Context(), p); !errors.Is(err, macos.ErrNotMachO) {
			t.Errorf("Sign(%s) = %v, want ErrNotMachO", filepath.Base(p), err)
		}
		if err := s.Verify(t.Context(), p); !errors.Is(err, macos.ErrNotMachO) {
			t.Errorf("Verify(%s) = %v, want ErrNotMachO", filepath.Base(p), err)
		}
	}
	// A Mach-O whose LC_CODE_SIGNATURE was stripped is unsigned.
	bin := bins.Copy(t, "darwin", "amd64")
	if _, err := s.Sign(t.Context(), bin); err != nil {
		t.Fatal(err)
	}
	stripCodeSignatureCmd(t, bin)
	if err := s.Verify(t.Context(), bin); !errors.Is(err, signing.ErrBadSignature) || !strings.Contains(err.Error(), "not signed") {
		t.Errorf("Verify(unsigned) = %v", err)
	}
}

// stripCodeSignatureCmd renames LC_CODE_SIGNATURE to an unknown command.
func stripCodeSignatureCmd(t *testing.T, path string) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	off := 32 // mach_header_64
	ncmds := binary.LittleEndian.Uint32(data[16:])
	for range ncmds {
		if binary.LittleEndian.Uint32(data[off:]) == 0x1d {
			binary.LittleEndian.PutUint32(data[off:], 0x7fff)
		}
		off += int(binary.LittleEndian.Uint32(data[off+4:]))
	}
	if err := os.WriteFile(path, data, 0o755); err != nil {
		t.Fatal(err)
	}
}

func TestKeyErrors(t *testing.T) {
	p12test.RunBadKeys(t, p12test.BadKeys(t),
		func(t *testing.T) string { return bins.Copy(t, "darwin", "arm64") },
		func(p12 string, pw []byte) signing.Backend { return macos.New(p12, pw, macos.Options{}) })
}

func TestNotaryCheck(t *testing.T) {
	pki := p12test.New(t, []byte("pw"), p12test.Options{})
	dir := t.TempDir()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, _ := x509.MarshalPKCS8PrivateKey(key)
	p8 := filepath.Join(dir, "AuthKey_ABCDE12345.p8")
	if err := os.WriteFile(p8, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	garbage := filepath.Join(dir, "garbage.p8")
	if err := os.WriteFile(garbage, []byte("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	full := macos.Notary{Issuer: "69a6de7e-0000-47e3-e053-5b8c7c11a4d1", KeyID: "ABCDE12345", KeyPath: p8}
	tests := []struct {
		name   string
		p12    string
		notary macos.Notary
		want   []string // substrings, one per expected error
	}{
		{"complete", pki.P12, full, nil},
		{"ad hoc cannot notarize", "", full, []string{"Developer ID"}},
		{"missing fields", pki.P12, macos.Notary{}, []string{"issuer", "key ID", "key path"}},
		{"garbage key", pki.P12, macos.Notary{Issuer: "i", KeyID: "k", KeyPath: garbage}, []string{garbage}},
		{"missing key", pki.P12, macos.Notary{Issuer: "i", KeyID: "k", KeyPath: filepath.Join(dir, "none.p8")}, []string{"none.p8"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n := tt.notary
			errs := macos.New(tt.p12, []byte("pw"), macos.Options{Notary: &n}).Check(t.Context())
			if len(errs) != len(tt.want) {
				t.Fatalf("Check = %v, want %d errors", errs, len(tt.want))
			}
			for i, w := range tt.want {
				if !strings.Contains(errs[i].Error(), w) {
					t.Errorf("error %d = %q, want it to mention %q", i, errs[i], w)
				}
			}
		})
	}
}

// TestSignThroughSymlink signs the file a link points to and keeps the link.
func TestSignThroughSymlink(t *testing.T) {
	bin := bins.Copy(t, "darwin", "amd64")
	link := filepath.Join(t.TempDir(), "link")
	if err := os.Symlink(bin, link); err != nil {
		t.Fatal(err)
	}
	s := macos.New("", nil, macos.Options{})
	if _, err := s.Sign(t.Context(), link); err != nil {
		t.Fatal(err)
	}
	if st, err := os.Lstat(link); err != nil || st.Mode()&os.ModeSymlink == 0 {
		t.Errorf("link replaced: %v, %v", st.Mode(), err)
	}
	if err := s.Verify(t.Context(), bin); err != nil {
		t.Errorf("target not signed: %v", err)
	}
}
