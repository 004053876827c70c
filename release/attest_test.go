package release

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/slipwayhq/slipway/internal/testenv"
	"github.com/slipwayhq/slipway/signing/cosign"
)

// TestSBOMs: every archive and package of the shared build has an SPDX
// SBOM naming it (with its sha256) and listing exactly the Go modules that
// `go version -m` reads from the binary inside.
func TestSBOMs(t *testing.T) {
	sharedBuild(t)
	d, err := ReadDist(shared.dist)
	if err != nil {
		t.Fatal(err)
	}
	bins, err := binaries(d)
	if err != nil {
		t.Fatal(err)
	}
	var n int
	for _, a := range d.Artifacts {
		if a.Type != TypeArchive && a.Type != TypeLinuxPackage {
			continue
		}
		n++
		b, err := os.ReadFile(filepath.Join(shared.dist, a.Name+SBOMExt))
		if err != nil {
			t.Fatalf("%s: %v", a.Name, err)
		}
		doc, err := ParseSBOM(b)
		if err != nil {
			t.Fatalf("%s: %v", a.Name, err)
		}
		_, sum, err := hashFile(t.Context(), filepath.Join(shared.dist, a.Name))
		if err != nil {
			t.Fatal(err)
		}
		top := doc.Packages[0]
		if top.Name != a.Name || len(top.Checksums) != 1 || top.Checksums[0].ChecksumValue != sum {
			t.Errorf("%s: SBOM describes %+v", a.Name, top)
		}
		want := goVersionModules(t, bins[a.Extra.ID+"/"+a.Goos+"/"+a.Goarch])
		var got []string
		for _, p := range doc.Packages[2:] {
			got = append(got, p.Name+"@"+p.VersionInfo)
		}
		slices.Sort(got)
		if !slices.Equal(got, want) {
			t.Errorf("%s: SBOM modules\n%v\nwant (go version -m)\n%v", a.Name, got, want)
		}
		if main := doc.Packages[1]; main.Name != "github.com/slipwayhq/slipway" {
			t.Errorf("%s: main module %q", a.Name, main.Name)
		}
	}
	if n != 24 {
		t.Errorf("%d archives and packages, want 12 + 12", n)
	}
}

// goVersionModules runs the Go tool's own reader of build information and
// returns the binary's dependency modules (path@version, replacements
// applied), sorted.
func goVersionModules(t *testing.T, bin string) []string {
	t.Helper()
	out, err := exec.Command("go", "version", "-m", bin).Output()
	if err != nil {
		t.Fatalf("go version -m %s: %v", bin, err)
	}
	var mods []string
	for _, line := range strings.Split(string(out), "\n") {
		f := strings.Fields(line)
		switch {
		case len(f) >= 3 && f[0] == "dep":
			mods = append(mods, f[1]+"@"+f[2])
		case len(f) >= 3 && f[0] == "=>":
			mods[len(mods)-1] = f[1] + "@" + f[2]
		}
	}
	if len(mods) < 5 {
		t.Fatalf("go version -m lists %d modules:\n%s", len(mods), out)
	}
	slices.Sort(mods)
	return mods
}

// TestProvenance: the real cosign CLI verifies each product's provenance
// against its archives, packages and SBOMs with the release cosign key,
// and refuses a file the statement does not name.
func TestProvenance(t *testing.T) {
	sharedBuild(t)
	t.Logf("shared release run (step durations):\n%s", shared.out)
	bin := testenv.Tool(t, "cosign", "scripts/tools.sh cosign")
	signer := cosignSigner(shared.signers)
	home := t.TempDir()
	pub := filepath.Join(home, "cosign.pub")
	if err := os.WriteFile(pub, signer.PublicKeyPEM(), 0o644); err != nil {
		t.Fatal(err)
	}
	verify := func(envelope, blob string) (string, error) {
		cmd := exec.CommandContext(t.Context(), bin, "verify-blob-attestation", "--key", pub, "--signature", envelope,
			"--type", "slsaprovenance1", "--insecure-ignore-tlog=true", blob)
		// Offline: no TUF cache, no Rekor key fetch (see signing/cosign tests).
		cmd.Env = append(os.Environ(), "HOME="+home, "TUF_ROOT="+filepath.Join(home, "tuf"),
			"SIGSTORE_REKOR_PUBLIC_KEY="+filepath.Join(home, "unused-rekor.pub"))
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	for _, p := range shared.report.Products {
		env := filepath.Join(shared.dist, "slipway-"+p.Product+"_"+shared.report.Version+ProvenanceExt)
		var checked int
		for _, a := range p.Artifacts {
			if a.Target == FormatProvenance || a.Target == "checksums" {
				continue
			}
			if !strings.HasSuffix(a.Name, ".deb") && !strings.HasSuffix(a.Name, ".tar.gz") && !strings.HasSuffix(a.Name, ".tar.gz"+SBOMExt) {
				continue // the CLI costs ~0.5 s a run: one of each kind is enough
			}
			if out, err := verify(env, filepath.Join(shared.dist, a.Name)); err != nil {
				t.Errorf("%s: cosign verify-blob-attestation: %v\n%s", a.Name, err, out)
			}
			checked++
			if checked >= 3 {
				break
			}
		}
		if checked == 0 {
			t.Errorf("%s: nothing verified", p.Product)
		}
		other := filepath.Join(t.TempDir(), "other.tar.gz")
		if err := os.WriteFile(other, []byte("not in the statement"), 0o644); err != nil {
			t.Fatal(err)
		}
		if out, err := verify(env, other); err == nil {
			t.Errorf("%s: a file the provenance does not name verified:\n%s", p.Product, out)
		}
	}
}

func TestDSSETampered(t *testing.T) {
	priv, pubPEM, err := cosign.GenerateKeyPair([]byte("pw"))
	if err != nil {
		t.Fatal(err)
	}
	s, err := cosign.New(priv, []byte("pw"), cosign.Options{})
	if err != nil {
		t.Fatal(err)
	}
	v, err := cosign.NewVerifier(pubPEM)
	if err != nil {
		t.Fatal(err)
	}
	env, err := s.SignDSSE(t.Context(), cosign.InTotoPayloadType, []byte(`{"_type":"x"}`))
	if err != nil {
		t.Fatal(err)
	}
	if typ, p, err := v.VerifyDSSE(env); err != nil || typ != cosign.InTotoPayloadType || string(p) != `{"_type":"x"}` {
		t.Fatalf("verify: %q %q %v", typ, p, err)
	}
	tests := map[string][]byte{
		"garbage":       []byte("\x00not json"),
		"truncated":     env[:len(env)/2],
		"empty":         nil,
		"other payload": bytes.Replace(env, []byte(`"payload":"`), []byte(`"payload":"eyJfdHlwZSI6InkifQ==`), 1),
		"other type":    bytes.Replace(env, []byte(cosign.InTotoPayloadType), []byte("text/plain"), 1),
		"no signatures": []byte(`{"payloadType":"t","payload":"eA==","signatures":[]}`),
		"unknown field": bytes.Replace(env, []byte(`{`), []byte(`{"x":1,`), 1),
		"oversize":      append(bytes.Repeat([]byte(" "), cosign.MaxEnvelope), env...),
	}
	for name, data := range tests {
		t.Run(name, func(t *testing.T) {
			if _, _, err := v.VerifyDSSE(data); err == nil {
				t.Fatal("accepted")
			}
		})
	}
}

// TestSBOMWithoutModules: a binary without module information (or
// garbage SBOM input) is refused rather than described as empty.
func TestSBOMWithoutModules(t *testing.T) {
	if _, err := sbomFor("a.tar.gz", strings.Repeat("a", 64), "tar.gz", &debug.BuildInfo{}, time.Unix(0, 0)); err == nil {
		t.Error("SBOM of a binary without a main module")
	}
	for name, in := range map[string]string{
		"garbage":   "{{",
		"not spdx":  `{"spdxVersion":"SPDX-2.2","SPDXID":"SPDXRef-DOCUMENT","packages":[{},{}]}`,
		"truncated": `{"spdxVersion":"SPDX-2.3"`,
		"oversize":  `{"name":"` + strings.Repeat("a", maxSBOM) + `"}`,
	} {
		if _, err := ParseSBOM([]byte(in)); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}
