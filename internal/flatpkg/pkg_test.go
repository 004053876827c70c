package flatpkg

import (
	"bytes"
	"crypto/sha1"
	"encoding/binary"
	"encoding/xml"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/slipwayhq/slipway/internal/testenv"
)

func testPackage() Package {
	return Package{Identifier: "io.example.agent", Version: "1.2.3", Title: "Agent <1.2.3-rc.1> & more", Arch: "arm64",
		MinOS: "12.0", ModTime: time.Unix(1700000000, 0),
		Scripts: []File{
			{Name: "postinstall", Mode: 0o755, Data: []byte("#!/bin/sh\nexec \"$(dirname \"$0\")/install.sh\"\n")},
			{Name: "install.sh", Mode: 0o755, Data: []byte("#!/bin/sh\necho installed\n")},
			{Name: "agent.plist", Mode: 0o644, Data: bytes.Repeat([]byte("<plist/>\n"), 1000)},
		}}
}

// TestReadBackWithBsdtar reads the package with libarchive, the only xar
// and cpio reader on Linux: the archive, every checksum in it, the
// component's scripts and their modes.
func TestReadBackWithBsdtar(t *testing.T) {
	bsdtar := testenv.Tool(t, "bsdtar", "apt-get install libarchive-tools, or scripts/tools.sh apt")
	dir := t.TempDir()
	pkg := filepath.Join(dir, "agent.pkg")
	var b bytes.Buffer
	if err := Write(&b, testPackage()); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(pkg, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	list := run(t, bsdtar, "-tf", pkg)
	if want := "Distribution\ncomponent.pkg\ncomponent.pkg/PackageInfo\ncomponent.pkg/Scripts\n"; list != want {
		t.Fatalf("entries:\n%s\nwant:\n%s", list, want)
	}
	out := filepath.Join(dir, "x")
	if err := os.Mkdir(out, 0o755); err != nil {
		t.Fatal(err)
	}
	run(t, bsdtar, "-xf", pkg, "-C", out)
	// The component's Scripts archive is a gzip'd odc cpio of the files.
	scripts := filepath.Join(dir, "scripts")
	if err := os.Mkdir(scripts, 0o755); err != nil {
		t.Fatal(err)
	}
	if v := run(t, bsdtar, "-tvf", filepath.Join(out, ComponentName, "Scripts")); !strings.Contains(v, "-rwxr-xr-x  1 0      80") {
		t.Errorf("scripts listing, want root:admin executables:\n%s", v)
	}
	run(t, bsdtar, "-xf", filepath.Join(out, ComponentName, "Scripts"), "-C", scripts)
	for _, f := range testPackage().Scripts {
		got, err := os.ReadFile(filepath.Join(scripts, f.Name))
		if err != nil || !bytes.Equal(got, f.Data) {
			t.Errorf("%s: %q, %v", f.Name, got, err)
		}
		st, err := os.Stat(filepath.Join(scripts, f.Name))
		if err != nil || uint32(st.Mode().Perm()) != f.Mode {
			t.Errorf("%s: mode %v, want %o", f.Name, st.Mode(), f.Mode)
		}
	}
	post := exec.Command(filepath.Join(scripts, "postinstall"))
	if o, err := post.CombinedOutput(); err != nil || string(o) != "installed\n" {
		t.Errorf("postinstall: %q, %v", o, err)
	}
	// Metadata: well-formed XML naming the component, the version and the arch.
	dist, _ := os.ReadFile(filepath.Join(out, "Distribution"))
	info, _ := os.ReadFile(filepath.Join(out, ComponentName, "PackageInfo"))
	for name, doc := range map[string][]byte{"Distribution": dist, "PackageInfo": info} {
		if err := xml.Unmarshal(doc, new(struct{})); err != nil {
			t.Errorf("%s: %v\n%s", name, err, doc)
		}
	}
	for _, want := range []string{`hostArchitectures="arm64"`, `<os-version min="12.0"/>`, `#component.pkg</pkg-ref>`,
		`<title>Agent &lt;1.2.3-rc.1&gt; &amp; more</title>`, `enable_localSystem="true"`} {
		if !bytes.Contains(dist, []byte(want)) {
			t.Errorf("Distribution lacks %s:\n%s", want, dist)
		}
	}
	// libarchive checks the archived-checksum: one flipped byte in the
	// heap (in Scripts, the last file) fails the extraction.
	bad := bytes.Clone(b.Bytes())
	bad[len(bad)-5] ^= 0xff
	if err := os.WriteFile(pkg, bad, 0o644); err != nil {
		t.Fatal(err)
	}
	if o, err := exec.Command(bsdtar, "-xf", pkg, "-C", t.TempDir()).CombinedOutput(); err == nil {
		t.Errorf("bsdtar extracted a corrupted package:\n%s", o)
	}
	if !bytes.Contains(info, []byte(`identifier="io.example.agent" version="1.2.3"`)) || !bytes.Contains(info, []byte(`<postinstall file="./postinstall"/>`)) {
		t.Errorf("PackageInfo:\n%s", info)
	}
}

// TestHeaderAndChecksums checks the xar layout independently of libarchive:
// the header, the table of contents' checksum at the start of the heap.
func TestHeaderAndChecksums(t *testing.T) {
	var b bytes.Buffer
	if err := Write(&b, testPackage()); err != nil {
		t.Fatal(err)
	}
	raw := b.Bytes()
	if binary.BigEndian.Uint32(raw) != xarMagic || binary.BigEndian.Uint16(raw[4:]) != xarHeaderSize ||
		binary.BigEndian.Uint16(raw[6:]) != xarVersion || binary.BigEndian.Uint32(raw[24:]) != xarSHA1 {
		t.Fatalf("header % x", raw[:xarHeaderSize])
	}
	n := binary.BigEndian.Uint64(raw[8:])
	toc := raw[xarHeaderSize : xarHeaderSize+n]
	sum := sha1.Sum(toc)
	if !bytes.Equal(raw[xarHeaderSize+n:xarHeaderSize+n+sha1.Size], sum[:]) {
		t.Fatal("heap does not start with the table of contents' SHA-1")
	}
	// Reproducible: the same input gives the same bytes.
	var again bytes.Buffer
	if err := Write(&again, testPackage()); err != nil || !bytes.Equal(again.Bytes(), raw) {
		t.Fatalf("not reproducible (%v)", err)
	}
}

func TestRejectsBadInput(t *testing.T) {
	for name, mod := range map[string]func(*Package){
		"identifier with a space": func(p *Package) { p.Identifier = "io.example agent" },
		"identifier with a quote": func(p *Package) { p.Identifier = `io"x` },
		"semver prerelease":       func(p *Package) { p.Version = "1.2.3-rc.1" },
		"empty version":           func(p *Package) { p.Version = "" },
		"arch amd64 (Go's name)":  func(p *Package) { p.Arch = "amd64" },
		"bad minimum":             func(p *Package) { p.MinOS = "twelve" },
		"title with newline":      func(p *Package) { p.Title = "a\nb" },
		"oversized title":         func(p *Package) { p.Title = strings.Repeat("a", 201) },
		"no postinstall":          func(p *Package) { p.Scripts = p.Scripts[1:] },
		"postinstall not executable": func(p *Package) {
			p.Scripts = append([]File{{Name: "postinstall", Mode: 0o644}}, p.Scripts[1:]...)
		},
		"path in a name":  func(p *Package) { p.Scripts[1].Name = "../install.sh" },
		"duplicate name":  func(p *Package) { p.Scripts[2].Name = "install.sh" },
		"hidden file":     func(p *Package) { p.Scripts[2].Name = ".hidden" },
		"name with slash": func(p *Package) { p.Scripts[2].Name = "a/b" },
	} {
		p := testPackage()
		mod(&p)
		var b bytes.Buffer
		if err := Write(&b, p); err == nil || b.Len() != 0 {
			t.Errorf("%s: err %v, wrote %d bytes", name, err, b.Len())
		}
	}
}

func run(t *testing.T, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}
