package client

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/slipwayhq/slipway/updater/updatertest"
)

// TestSwapModes runs both swap orders on this OS: link-then-rename (Unix)
// and rename-old-then-move (what Windows needs for a running .exe).
func TestSwapModes(t *testing.T) {
	for _, renameFirst := range []bool{false, true} {
		t.Run(map[bool]string{false: "unix", true: "windows"}[renameFirst], func(t *testing.T) {
			dir := t.TempDir()
			bin, newBin := filepath.Join(dir, "app"), filepath.Join(dir, ".app.new")
			os.WriteFile(bin, []byte("old"), 0o755)
			os.WriteFile(newBin, []byte("new"), 0o755)
			prev, err := swap(bin, newBin, renameFirst)
			if err != nil {
				t.Fatal(err)
			}
			if got, _ := os.ReadFile(bin); string(got) != "new" {
				t.Fatalf("bin %q", got)
			}
			if got, _ := os.ReadFile(prev); string(got) != "old" {
				t.Fatalf("previous %q", got)
			}
			if err := Rollback(bin); err != nil {
				t.Fatal(err)
			}
			if got, _ := os.ReadFile(bin); string(got) != "old" {
				t.Fatalf("after rollback %q", got)
			}
			if err := Rollback(bin); !errors.Is(err, ErrRollbackFailed) {
				t.Fatalf("rollback without previous: %v", err)
			}
		})
	}
	// A failed move leaves the old binary in place.
	dir := t.TempDir()
	bin := filepath.Join(dir, "app")
	os.WriteFile(bin, []byte("old"), 0o755)
	if _, err := swap(bin, filepath.Join(dir, "missing"), true); err == nil {
		t.Fatal("swap of a missing file succeeded")
	}
	if got, _ := os.ReadFile(bin); string(got) != "old" {
		t.Fatalf("bin after failed swap %q", got)
	}
}

func appTarGz(t *testing.T, version string, extra ...*tar.Header) []byte {
	t.Helper()
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	files := []struct {
		h    *tar.Header
		data []byte
	}{
		{&tar.Header{Name: "Slipway.app/", Typeflag: tar.TypeDir, Mode: 0o755}, nil},
		{&tar.Header{Name: "Slipway.app/Contents/Info.plist", Typeflag: tar.TypeReg, Mode: 0o644}, []byte("<plist>" + version + "</plist>")},
		{&tar.Header{Name: "Slipway.app/Contents/MacOS/slipway-desktop", Typeflag: tar.TypeReg, Mode: 0o755}, script(version)},
		{&tar.Header{Name: "Slipway.app/Contents/Resources/current", Typeflag: tar.TypeSymlink, Linkname: "../MacOS/slipway-desktop"}, nil},
	}
	for _, h := range extra {
		files = append(files, struct {
			h    *tar.Header
			data []byte
		}{h, nil})
	}
	for _, f := range files {
		f.h.Size = int64(len(f.data))
		if err := tw.WriteHeader(f.h); err != nil {
			t.Fatal(err)
		}
		tw.Write(f.data)
	}
	tw.Close()
	gz.Close()
	return buf.Bytes()
}

// TestBundleUpdate replaces a whole macOS .app bundle.
func TestBundleUpdate(t *testing.T) {
	w := newWorld(t)
	for _, v := range []string{"2.0.0", "2.1.0"} {
		w.pub.Publish(t, "desktop", v, updatertest.File{Name: "Slipway.app.tar.gz", OS: "darwin", Arch: "arm64", Format: "app", Data: appTarGz(t, v)})
	}
	w.promote(t, "desktop", "2.1.0")
	apps := t.TempDir()
	bin := filepath.Join(apps, "Slipway.app", "Contents", "MacOS", "slipway-desktop")
	os.MkdirAll(filepath.Dir(bin), 0o755)
	os.WriteFile(bin, script("2.0.0"), 0o755)
	if SwapTarget(bin) != filepath.Join(apps, "Slipway.app") || SwapTarget(w.bin) != w.bin {
		t.Fatalf("swap target %s", SwapTarget(bin))
	}
	cfg := w.cfg
	cfg.Product, cfg.OS, cfg.Arch, cfg.CurrentVersion, cfg.BinaryPath, cfg.BinaryName = "desktop", "darwin", "arm64", "2.0.0", bin, ""
	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Update(t.Context()); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(filepath.Join(apps, "Slipway.app", "Contents", "Info.plist")); string(got) != "<plist>2.1.0</plist>" {
		t.Fatalf("bundle not replaced: %q", got)
	}
	if got, _ := os.ReadFile(filepath.Join(apps, "Slipway.app"+PreviousSuffix, "Contents", "MacOS", "slipway-desktop")); !bytes.Equal(got, script("2.0.0")) {
		t.Fatalf("previous bundle: %q", got)
	}
	if err := Rollback(filepath.Join(apps, "Slipway.app")); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(bin); !bytes.Equal(got, script("2.0.0")) {
		t.Fatalf("bundle rollback: %q", got)
	}
}

func TestBundleRejectsEscapes(t *testing.T) {
	for _, h := range []*tar.Header{
		{Name: "Slipway.app/../../evil", Typeflag: tar.TypeReg, Mode: 0o644},
		{Name: "Slipway.app/Contents/link", Typeflag: tar.TypeSymlink, Linkname: "/etc/passwd"},
		{Name: "Slipway.app/Contents/up", Typeflag: tar.TypeSymlink, Linkname: "../../../x"},
	} {
		t.Run(h.Name, func(t *testing.T) {
			staged := filepath.Join(t.TempDir(), "a.tar.gz")
			os.WriteFile(staged, appTarGz(t, "1.0.0", h), 0o600)
			c := &Client{cfg: Config{Limits: Limits{}}}
			c.cfg.Limits.defaults()
			dir := t.TempDir()
			if err := c.extractBundle(staged, "Slipway.app", dir); err == nil {
				t.Fatal("escaping entry accepted")
			}
		})
	}
}
