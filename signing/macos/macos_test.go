package macos_test

import (
	"bytes"
	"crypto/sha256"
	"crypto/x509"
	"debug/macho"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	macholibre "github.com/anchore/go-macholibre"

	"github.com/slipwayhq/slipway/internal/testenv"
	"github.com/slipwayhq/slipway/signing"
	"github.com/slipwayhq/slipway/signing/binfmt/binfmttest"
	"github.com/slipwayhq/slipway/signing/macos"
	"github.com/slipwayhq/slipway/signing/p12/p12test"
)

var bins = binfmttest.NewBuilder()

func TestMain(m *testing.M) {
	code := m.Run()
	bins.Cleanup()
	os.Exit(code)
}

// described is the part of `quill describe -o json` these tests read.
type described struct {
	SuperBlob struct {
		Offset          int64 `json:"offset"`
		CodeDirectories []struct {
			ID    string `json:"id"`
			Flags struct {
				Description string `json:"description"`
			} `json:"flags"`
			PageDigests []struct {
				Index     int64  `json:"index"`
				Offset    int64  `json:"offset"`
				Algorithm string `json:"algorithm"`
				Value     string `json:"value"`
			} `json:"pageDigests"`
		} `json:"codeDirectories"`
		Signatures []struct {
			Certificates []struct {
				PEM string `json:"pem"`
			} `json:"certificates"`
		} `json:"signatures"`
	} `json:"superBlob"`
}

// quillDescribe runs the independent quill CLI on path.
func quillDescribe(t *testing.T, path string) []described {
	t.Helper()
	quill := testenv.Tool(t, "quill", "scripts/tools.sh quill")
	cmd := exec.CommandContext(t.Context(), quill, "describe", "-o", "json", path)
	cmd.Env = append(os.Environ(), "QUILL_CHECK_FOR_APP_UPDATE=false")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("quill describe: %v: %s", err, stderr.String())
	}
	var d []described
	if err := json.Unmarshal(out, &d); err != nil {
		t.Fatalf("quill describe output: %v: %.300s", err, out)
	}
	return d
}

// slices returns each architecture's bytes: the file itself when thin.
func slices(t *testing.T, path string) [][]byte {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	fat, err := macho.OpenFat(path)
	if err != nil {
		return [][]byte{data}
	}
	defer fat.Close()
	var out [][]byte
	for _, a := range fat.Arches {
		out = append(out, data[a.Offset:a.Offset+a.Size])
	}
	return out
}

// pageHashMismatches recomputes, independently of the package under test,
// the SHA-256 of every 4 KiB page quill describe lists and counts those
// that differ from the code directory; a missing or short list counts too.
func pageHashMismatches(t *testing.T, path string) int {
	t.Helper()
	d := quillDescribe(t, path)
	parts := slices(t, path)
	if len(d) != len(parts) {
		t.Fatalf("quill describes %d binaries, file has %d slices", len(d), len(parts))
	}
	bad := 0
	for i, bin := range d {
		limit := bin.SuperBlob.Offset
		if len(bin.SuperBlob.CodeDirectories) == 0 {
			t.Fatalf("slice %d: no code directory", i)
		}
		pages := bin.SuperBlob.CodeDirectories[0].PageDigests
		if want := (limit + 4095) / 4096; int64(len(pages)) != want || limit == 0 {
			t.Fatalf("slice %d: %d page digests for a %d-byte code limit", i, len(pages), limit)
		}
		for _, p := range pages {
			sum := sha256.Sum256(parts[i][p.Offset:min(p.Offset+4096, limit)])
			if p.Algorithm != "sha256" || p.Value != hex.EncodeToString(sum[:]) {
				bad++
			}
		}
	}
	return bad
}

func TestAdHocSignCheckedByQuill(t *testing.T) {
	for _, arch := range []string{"amd64", "arm64"} {
		t.Run(arch, func(t *testing.T) {
			bin := bins.Copy(t, "darwin", arch)
			s := macos.New("", nil, macos.Options{})
			if errs := s.Check(t.Context()); len(errs) != 0 {
				t.Fatalf("Check: %v", errs)
			}
			if _, err := s.Sign(t.Context(), bin); err != nil {
				t.Fatalf("Sign: %v", err)
			}
			if err := s.Verify(t.Context(), bin); err != nil {
				t.Fatalf("Verify: %v", err)
			}
			d := quillDescribe(t, bin)
			cd := d[0].SuperBlob.CodeDirectories[0]
			if cd.ID != filepath.Base(bin) || !strings.Contains(cd.Flags.Description, "adhoc") {
				t.Errorf("code directory id %q flags %q", cd.ID, cd.Flags.Description)
			}
			if n := pageHashMismatches(t, bin); n != 0 {
				t.Errorf("%d page hashes differ from the file", n)
			}
			if st, _ := os.Stat(bin); st.Mode().Perm() != 0o755 {
				t.Errorf("mode %v after signing", st.Mode())
			}
			if entries, _ := os.ReadDir(filepath.Dir(bin)); len(entries) != 1 {
				t.Errorf("temp files left next to the binary: %d entries", len(entries))
			}
		})
	}
}

func TestP12SignCheckedByQuill(t *testing.T) {
	pki := p12test.New(t, []byte("mac pw"), p12test.Options{Name: "Developer ID Application: Slipway Test"})
	bin := bins.Copy(t, "darwin", "arm64")
	s := macos.New(pki.P12, []byte("mac pw"), macos.Options{Identity: "dev.slipway.hello"})
	if errs := s.Check(t.Context()); len(errs) != 0 {
		t.Fatalf("Check: %v", errs)
	}
	if _, err := s.Sign(t.Context(), bin); err != nil {
		t.Fatalf("Sign: %v", err)
	}
	if err := s.Verify(t.Context(), bin); err != nil {
		t.Fatalf("Verify: %v", err)
	}
	withRoots := macos.New("", nil, macos.Options{Roots: pki.Pool()})
	if err := withRoots.Verify(t.Context(), bin); err != nil {
		t.Errorf("Verify against the test CA: %v", err)
	}
	d := quillDescribe(t, bin)
	sb := d[0].SuperBlob
	if sb.CodeDirectories[0].ID != "dev.slipway.hello" || strings.Contains(sb.CodeDirectories[0].Flags.Description, "adhoc") {
		t.Errorf("code directory %q flags %q", sb.CodeDirectories[0].ID, sb.CodeDirectories[0].Flags.Description)
	}
	if len(sb.Signatures) == 0 || !hasCert(sb.Signatures[0].Certificates, pki.Leaf) {
		t.Errorf("quill sees no CMS signature by the test certificate: %+v", sb.Signatures)
	}
	if n := pageHashMismatches(t, bin); n != 0 {
		t.Errorf("%d page hashes differ from the file", n)
	}

	other := p12test.New(t, []byte("pw"), p12test.Options{})
	for name, v := range map[string]*macos.Signer{
		"ad-hoc verifier":     macos.New("", nil, macos.Options{}),
		"other certificate":   macos.New(other.P12, []byte("pw"), macos.Options{}),
		"other CA":            macos.New("", nil, macos.Options{Roots: other.Pool()}),
		"pinned but other CA": macos.New(pki.P12, []byte("mac pw"), macos.Options{Roots: other.Pool()}),
	} {
		if err := v.Verify(t.Context(), bin); !errors.Is(err, signing.ErrBadSignature) {
			t.Errorf("%s: Verify = %v, want ErrBadSignature", name, err)
		}
	}
}

func hasCert(certs []struct {
	PEM string `json:"pem"`
}, want *x509.Certificate) bool {
	for _, c := range certs {
		// quill's "pem" field holds the base64 certificate DER without
		// its outer SEQUENCE header (at most 4 bytes for these sizes).
		der, err := base64.StdEncoding.DecodeString(c.PEM)
		if err == nil && len(der) >= len(want.Raw)-4 && bytes.HasSuffix(want.Raw, der) {
			return true
		}
	}
	return false
}

func TestUniversalBinary(t *testing.T) {
	pki := p12test.New(t, []byte("pw"), p12test.Options{})
	fat := filepath.Join(t.TempDir(), "hello-universal")
	if err := macholibre.Package(fat, bins.Copy(t, "darwin", "amd64"), bins.Copy(t, "darwin", "arm64")); err != nil {
		t.Fatal(err)
	}
	for _, s := range []*macos.Signer{macos.New("", nil, macos.Options{}), macos.New(pki.P12, []byte("pw"), macos.Options{})} {
		if _, err := s.Sign(t.Context(), fat); err != nil {
			t.Fatalf("Sign (adhoc=%v): %v", s.AdHoc(), err)
		}
		if err := s.Verify(t.Context(), fat); err != nil {
			t.Fatalf("Verify (adhoc=%v): %v", s.AdHoc(), err)
		}
		if n := pageHashMismatches(t, fat); n != 0 {
			t.Errorf("adhoc=%v: %d page hashes differ", s.AdHoc(), n)
		}
	}
	// Tamper with the second slice's code.
	f, err := macho.OpenFat(fat)
	if err != nil {
		t.Fatal(err)
	}
	off := int64(f.Arches[1].Offset) + 0x3000
	f.Close()
	binfmttest.FlipByte(t, fat, off)
	s := macos.New(pki.P12, []byte("pw"), macos.Options{})
	if err := s.Verify(t.Context(), fat); !errors.Is(err, signing.ErrBadSignature) {
		t.Errorf("Verify(tampered fat) = %v", err)
	}
	if pageHashMismatches(t, fat) != 1 {
		t.Error("quill's page digests do not show the flipped byte")
	}
}

// TestResignKeepsSize: signing again replaces the signature instead of
// appending a new one after the old (quill's own behaviour), for a
// linker-signed arm64 binary and an unsigned-by-quill amd64 one.
func TestResignKeepsSize(t *testing.T) {
	for _, arch := range []string{"amd64", "arm64"} {
		bin := bins.Copy(t, "darwin", arch)
		s := macos.New("", nil, macos.Options{})
		var sizes []int64
		for range 3 {
			if _, err := s.Sign(t.Context(), bin); err != nil {
				t.Fatal(err)
			}
			st, _ := os.Stat(bin)
			sizes = append(sizes, st.Size())
		}
		if sizes[0] != sizes[1] || sizes[1] != sizes[2] {
			t.Errorf("%s: sizes after each signing %v, want stable", arch, sizes)
		}
		if err := s.Verify(t.Context(), bin); err != nil {
			t.Errorf("%s: %v", arch, err)
		}
		if n := pageHashMismatches(t, bin); n != 0 {
			t.Errorf("%s: %d page hashes differ", arch, n)
		}
	}
}

// TestTimestamp signs with an RFC 3161 timestamp from a local TSA issued
// by the test CA; the CMS signature must carry it and still verify.
func TestTimestamp(t *testing.T) {
	pki := p12test.New(t, []byte("pw"), p12test.Options{})
	tsa := pki.NewTSA(t)
	bin := bins.Copy(t, "darwin", "arm64")
	s := macos.New(pki.P12, []byte("pw"), macos.Options{TimestampURL: tsa.URL, Roots: pki.Pool()})
	if _, err := s.Sign(t.Context(), bin); err != nil {
		t.Fatalf("Sign: %v", err)
	}
	if tsa.Requests.Load() == 0 {
		t.Fatal("the TSA was not asked for a timestamp")
	}
	if err := s.Verify(t.Context(), bin); err != nil {
		t.Fatalf("Verify: %v", err)
	}
	if err := macos.New(pki.P12, []byte("pw"), macos.Options{}).Verify(t.Context(), bin); err != nil {
		t.Fatalf("Verify with the default (P12) roots: %v", err)
	}
	if n := pageHashMismatches(t, bin); n != 0 {
		t.Errorf("%d page hashes differ", n)
	}
	// A timestamp from a TSA outside the trusted roots is rejected.
	other := p12test.New(t, []byte("pw"), p12test.Options{})
	bin2 := bins.Copy(t, "darwin", "arm64")
	foreign := macos.New(pki.P12, []byte("pw"), macos.Options{TimestampURL: other.NewTSA(t).URL})
	if _, err := foreign.Sign(t.Context(), bin2); err != nil {
		t.Fatal(err)
	}
	if err := s.Verify(t.Context(), bin2); !errors.Is(err, signing.ErrBadSignature) {
		t.Errorf("Verify(untrusted TSA) = %v, want ErrBadSignature", err)
	}
}
