package macos_test

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	macholibre "github.com/anchore/go-macholibre"

	"github.com/slipwayhq/slipway/signing"
	"github.com/slipwayhq/slipway/signing/binfmt/binfmttest"
	"github.com/slipwayhq/slipway/signing/macos"
	"github.com/slipwayhq/slipway/signing/p12/p12test"
)

const testInfoPlist = `<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">
<plist version="1.0"><dict>
<key>CFBundleIdentifier</key><string>dev.slipway.hello</string>
<key>CFBundleExecutable</key><string>hello</string>
<key>CFBundleShortVersionString</key><string>1.2.3</string>
</dict></plist>
`

// makeBundle lays out Hello.app around a thin darwin/arm64 test binary.
func makeBundle(t *testing.T) string {
	t.Helper()
	app := filepath.Join(t.TempDir(), "Hello.app")
	if err := os.MkdirAll(filepath.Join(app, "Contents", "MacOS"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := binfmttest.CopyFile(filepath.Join(app, "Contents", "MacOS", "hello"), bins.Copy(t, "darwin", "arm64")); err != nil {
		t.Fatal(err)
	}
	for name, data := range map[string]string{"Info.plist": testInfoPlist, "PkgInfo": "APPL????"} {
		if err := os.WriteFile(filepath.Join(app, "Contents", name), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return app
}

// specialSlot returns the hash the code directory holds for special slot
// n, read from the raw CodeDirectory blob (independent of the parser
// under test: hashOffset - n*32).
func specialSlot(t *testing.T, exe string, n int) string {
	t.Helper()
	blobs, _, err := macos.SignatureBlobs(exe)
	if err != nil {
		t.Fatal(err)
	}
	cd := blobs[0]
	hashOff := int(uint32(cd[16])<<24 | uint32(cd[17])<<16 | uint32(cd[18])<<8 | uint32(cd[19]))
	nSpecial := int(uint32(cd[24])<<24 | uint32(cd[25])<<16 | uint32(cd[26])<<8 | uint32(cd[27]))
	if n > nSpecial {
		return ""
	}
	return hex.EncodeToString(cd[hashOff-n*32 : hashOff-(n-1)*32])
}

func fileHash(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

func TestSignBundle(t *testing.T) {
	pki := p12test.New(t, []byte("pw"), p12test.Options{Name: "Developer ID Application: Slipway Test"})
	for name, s := range map[string]*macos.Signer{
		"adhoc": macos.New("", nil, macos.Options{}),
		"p12":   macos.New(pki.P12, []byte("pw"), macos.Options{}),
	} {
		t.Run(name, func(t *testing.T) {
			app := makeBundle(t)
			if err := s.SignBundle(t.Context(), app); err != nil {
				t.Fatal(err)
			}
			if err := s.VerifyBundle(t.Context(), app); err != nil {
				t.Fatal(err)
			}
			exe := filepath.Join(app, "Contents", "MacOS", "hello")
			if n := pageHashMismatches(t, exe); n != 0 {
				t.Errorf("%d page hashes differ", n)
			}
			if id := quillDescribe(t, exe)[0].SuperBlob.CodeDirectories[0].ID; id != "dev.slipway.hello" {
				t.Errorf("quill: identifier %q, want the bundle identifier", id)
			}
			for slot, file := range map[int]string{1: "Contents/Info.plist", 3: "Contents/_CodeSignature/CodeResources"} {
				if got, want := specialSlot(t, exe, slot), fileHash(t, filepath.Join(app, file)); got != want {
					t.Errorf("special slot %d = %s, want sha256(%s) %s", slot, got, file, want)
				}
			}
			if st, err := os.Stat(exe); err != nil || st.Mode().Perm() != 0o755 {
				t.Errorf("executable mode %v %v", st, err)
			}
		})
	}
}

func TestVerifyBundleTampered(t *testing.T) {
	s := macos.New("", nil, macos.Options{})
	for name, tamper := range map[string]func(app string){
		"info plist": func(app string) {
			p := filepath.Join(app, "Contents", "Info.plist")
			b, _ := os.ReadFile(p)
			os.WriteFile(p, []byte(strings.Replace(string(b), "1.2.3", "9.9.9", 1)), 0o644)
		},
		"resource seal": func(app string) {
			os.WriteFile(filepath.Join(app, "Contents", "_CodeSignature", "CodeResources"), []byte("<plist/>"), 0o644)
		},
		"identifier": func(app string) {
			p := filepath.Join(app, "Contents", "Info.plist")
			b, _ := os.ReadFile(p)
			os.WriteFile(p, []byte(strings.Replace(string(b), "dev.slipway.hello", "dev.slipway.other", 1)), 0o644)
		},
		"executable": func(app string) {
			binfmttest.FlipByte(t, filepath.Join(app, "Contents", "MacOS", "hello"), 100)
		},
	} {
		t.Run(name, func(t *testing.T) {
			app := makeBundle(t)
			if err := s.SignBundle(t.Context(), app); err != nil {
				t.Fatal(err)
			}
			tamper(app)
			if err := s.VerifyBundle(t.Context(), app); !errors.Is(err, signing.ErrBadSignature) {
				t.Errorf("VerifyBundle = %v, want ErrBadSignature", err)
			}
		})
	}
}

func TestSignBundleRefuses(t *testing.T) {
	s := macos.New("", nil, macos.Options{})
	for name, change := range map[string]func(t *testing.T, app string){
		"resources": func(t *testing.T, app string) {
			os.MkdirAll(filepath.Join(app, "Contents", "Resources"), 0o755)
			os.WriteFile(filepath.Join(app, "Contents", "Resources", "icon.icns"), []byte("x"), 0o644)
		},
		"no info plist": func(t *testing.T, app string) { os.Remove(filepath.Join(app, "Contents", "Info.plist")) },
		"garbage info plist": func(t *testing.T, app string) {
			os.WriteFile(filepath.Join(app, "Contents", "Info.plist"), []byte("<plist><dict><key>"), 0o644)
		},
		"oversize info plist": func(t *testing.T, app string) {
			os.WriteFile(filepath.Join(app, "Contents", "Info.plist"), make([]byte, 2<<20), 0o644)
		},
		"executable escapes": func(t *testing.T, app string) {
			p := filepath.Join(app, "Contents", "Info.plist")
			b, _ := os.ReadFile(p)
			os.WriteFile(p, []byte(strings.Replace(string(b), "<string>hello</string>", "<string>../../hello</string>", 1)), 0o644)
		},
		"symlink": func(t *testing.T, app string) {
			os.Symlink("/etc/passwd", filepath.Join(app, "Contents", "PkgInfo.link"))
		},
		"universal": func(t *testing.T, app string) {
			exe := filepath.Join(app, "Contents", "MacOS", "hello")
			os.Remove(exe)
			if err := macholibre.Package(exe, bins.Copy(t, "darwin", "amd64"), bins.Copy(t, "darwin", "arm64")); err != nil {
				t.Fatal(err)
			}
		},
	} {
		t.Run(name, func(t *testing.T) {
			app := makeBundle(t)
			change(t, app)
			if err := s.SignBundle(t.Context(), app); err == nil {
				t.Error("signed")
			}
		})
	}
}
