package release

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/slipwayhq/slipway/internal/testenv"
)

// fixtureDir returns the GoReleaser fixture dist/ (SPEC §6).
func fixtureDir(t *testing.T) string {
	t.Helper()
	return testenv.Interop(t, "goreleaser", "dist")
}

// copyDir copies the fixture into a writable temp dir.
func copyDir(t *testing.T, src string) string {
	t.Helper()
	dst := t.TempDir()
	entries, err := os.ReadDir(src)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(src, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dst, e.Name()), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dst
}

func TestReadDistFixture(t *testing.T) {
	d, err := ReadDist(fixtureDir(t))
	if err != nil {
		t.Fatal(err)
	}
	if d.Metadata.Version != "1.2.3" || d.Metadata.ProjectName != "myapp" || d.Metadata.Commit != "9c7e0f3b4a6d1e2f8b5c3a7d9e0f1a2b3c4d5e6f" {
		t.Errorf("metadata = %+v", d.Metadata)
	}
	var archives int
	for _, a := range d.Artifacts {
		if a.Type == TypeArchive {
			archives++
			if a.Extra.ID != "default" || a.Extra.Format == "" {
				t.Errorf("archive %s extra = %+v", a.Name, a.Extra)
			}
		}
	}
	if archives != 3 || len(d.Checksums) != 3 {
		t.Errorf("archives=%d checksums=%d, want 3 and 3", archives, len(d.Checksums))
	}

	plans, err := planDist(t.Context(), d, "pfx", []string{"cosign", "minisign"})
	if err != nil {
		t.Fatal(err)
	}
	if len(plans) != 1 || plans[0].Product != "myapp" {
		t.Fatalf("plans = %+v", plans)
	}
	rec := plans[0].Record
	if len(rec.Artifacts) != 4 {
		t.Fatalf("artifacts = %d, want 3 archives + checksums", len(rec.Artifacts))
	}
	for _, a := range rec.Artifacts {
		if a.Format == "checksums" {
			if a.Name != "myapp_1.2.3_checksums.txt" || a.OS != "" {
				t.Errorf("checksums artifact = %+v", a)
			}
			continue
		}
		if d.Checksums[a.Name] != a.SHA256 || a.Signatures["minisign"] != a.Name+".minisig" || a.URL != a.Name {
			t.Errorf("artifact = %+v", a)
		}
	}
	if got := plans[0].Files[0].Key; !strings.HasPrefix(got, "pfx/releases/myapp/1.2.3/") {
		t.Errorf("key = %q", got)
	}
}

// TestReadDistInvalid feeds garbage, truncated, oversize and inconsistent
// dist directories; each must fail with ErrBadDist.
func TestReadDistInvalid(t *testing.T) {
	src := fixtureDir(t)
	orig, err := os.ReadFile(filepath.Join(src, "artifacts.json"))
	if err != nil {
		t.Fatal(err)
	}
	meta, err := os.ReadFile(filepath.Join(src, "metadata.json"))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		file string
		data []byte
	}{
		{"garbage artifacts", "artifacts.json", []byte("\x00\x01not json")},
		{"truncated artifacts", "artifacts.json", orig[:len(orig)/2]},
		{"empty artifacts", "artifacts.json", nil},
		{"object not array", "artifacts.json", []byte(`{"name":"x"}`)},
		{"null", "artifacts.json", []byte(`null`)},
		{"trailing data", "artifacts.json", append(append([]byte{}, orig...), []byte(" []")...)},
		{"oversize artifacts", "artifacts.json", append([]byte("["), bytes.Repeat([]byte(" "), maxArtifactsJSON)...)},
		{"path traversal", "artifacts.json", []byte(`[{"name":"../../etc/passwd","path":"dist/../../etc/passwd","type":"Checksum"}]`)},
		{"path names another file", "artifacts.json", []byte(`[{"name":"a.tar.gz","path":"/etc/passwd","goos":"linux","goarch":"amd64","type":"Archive","extra":{"ID":"agent","Format":"tar.gz"}}]`)},
		{"missing type", "artifacts.json", []byte(`[{"name":"a","path":"dist/a"}]`)},
		{"bad os", "artifacts.json", []byte(`[{"name":"a.tar.gz","path":"dist/a.tar.gz","goos":"plan9","goarch":"amd64","type":"Archive","extra":{"ID":"agent","Format":"tar.gz"}}]`)},
		{"bad checksum extra", "artifacts.json", []byte(`[{"name":"a.tar.gz","path":"dist/a.tar.gz","goos":"linux","goarch":"amd64","type":"Archive","extra":{"ID":"agent","Format":"tar.gz","Checksum":"md5:abc"}}]`)},
		{"package for windows", "artifacts.json", []byte(`[{"name":"a.deb","path":"dist/a.deb","goos":"windows","goarch":"amd64","type":"Linux Package","extra":{"ID":"agent","Format":"deb"}}]`)},
		{"package format unknown", "artifacts.json", []byte(`[{"name":"a.snap","path":"dist/a.snap","goos":"linux","goarch":"amd64","type":"Linux Package","extra":{"ID":"agent","Format":"snap"}}]`)},
		{"package name not its format", "artifacts.json", []byte(`[{"name":"a.rpm","path":"dist/a.rpm","goos":"linux","goarch":"amd64","type":"Linux Package","extra":{"ID":"agent","Format":"deb"}}]`)},
		{"package path traversal", "artifacts.json", []byte(`[{"name":"a.deb","path":"../a.deb","goos":"linux","goarch":"amd64","type":"Linux Package","extra":{"ID":"agent","Format":"deb"}}]`)},
		{"slipway's own type", "artifacts.json", []byte(`[{"name":"../x.msi","path":"../x.msi","goos":"windows","goarch":"amd64","type":"Slipway Installer","extra":{"ID":"agent","Format":"msi"}}]`)},
		{"wrong field type", "artifacts.json", []byte(`[{"name":1,"type":"Archive"}]`)},
		{"garbage metadata", "metadata.json", []byte("{{{")},
		{"truncated metadata", "metadata.json", meta[:len(meta)-10]},
		{"oversize metadata", "metadata.json", append([]byte(`{"x":"`), bytes.Repeat([]byte("a"), maxMetadataJSON)...)},
		{"commit none", "metadata.json", bytes.Replace(meta, []byte("9c7e0f3b4a6d1e2f8b5c3a7d9e0f1a2b3c4d5e6f"), []byte("none"), 1)},
		{"version not semver", "metadata.json", bytes.Replace(meta, []byte(`"version":"1.2.3"`), []byte(`"version":"../1"`), 1)},
		{"truncated checksums", "myapp_1.2.3_checksums.txt", []byte("33e53c4a81767ac8c7b0c1a6dae4d1767073097e5b431a45819cbb23e1f2a8e1  myapp_1.2.3_dar")},
		{"garbage checksums", "myapp_1.2.3_checksums.txt", []byte("hello world\n")},
		{"missing archive file", "myapp_1.2.3_linux_amd64.tar.gz", nil},
		{"archive bytes differ from checksums", "myapp_1.2.3_windows_amd64.zip", []byte("tampered\n")},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := copyDir(t, src)
			p := filepath.Join(dir, tc.file)
			if tc.data == nil && tc.file != "artifacts.json" {
				if err := os.Remove(p); err != nil {
					t.Fatal(err)
				}
			} else if err := os.WriteFile(p, tc.data, 0o644); err != nil {
				t.Fatal(err)
			}
			d, err := ReadDist(dir)
			if err == nil {
				_, err = planDist(t.Context(), d, "", nil)
			}
			if !errors.Is(err, ErrBadDist) {
				t.Fatalf("err = %v, want ErrBadDist", err)
			}
		})
	}
}

func TestParseChecksums(t *testing.T) {
	sum := strings.Repeat("ab", 32)
	tests := []struct {
		name string
		in   string
		ok   bool
	}{
		{"one line", sum + "  a.tar.gz\n", true},
		{"empty", "", true},
		{"one space", sum + " a.tar.gz\n", false},
		{"upper-case hex", strings.ToUpper(sum) + "  a.tar.gz\n", false},
		{"short hash", sum[:10] + "  a.tar.gz\n", false},
		{"duplicate", sum + "  a\n" + sum + "  a\n", false},
		{"name with slash", sum + "  dist/a\n", false},
		{"no final newline", sum + "  a", false},
		{"oversize", strings.Repeat(sum+"  a\n", maxChecksumsFile/60), false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseChecksums([]byte(tc.in))
			if (err == nil) != tc.ok {
				t.Fatalf("err = %v, want ok=%v", err, tc.ok)
			}
		})
	}
}
