package release

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"howett.net/plist"

	"github.com/slipwayhq/slipway/agent/enroll"
	"github.com/slipwayhq/slipway/internal/flatpkg"
	"github.com/slipwayhq/slipway/internal/testenv"
	"github.com/slipwayhq/slipway/signing/binfmt/binfmttest"
	"github.com/slipwayhq/slipway/signing/macos"
)

// untar extracts a .tar.gz into a new directory and returns it with the
// archive's entries (name → mode, in order).
func untar(t *testing.T, archive string) (string, []string, map[string]*tar.Header) {
	t.Helper()
	f, err := os.Open(archive)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	gz, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	tr := tar.NewReader(gz)
	var names []string
	headers := map[string]*tar.Header{}
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		names = append(names, h.Name)
		headers[h.Name] = h
		p := filepath.Join(dir, filepath.FromSlash(h.Name))
		if h.Typeflag == tar.TypeDir {
			if err := os.MkdirAll(p, 0o755); err != nil {
				t.Fatal(err)
			}
			continue
		}
		b, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, b, os.FileMode(h.Mode)); err != nil {
			t.Fatal(err)
		}
	}
	return dir, names, headers
}

func macosTestDist(t *testing.T) (*Dist, map[string]string) {
	t.Helper()
	bins := binfmttest.NewBuilder()
	t.Cleanup(bins.Cleanup)
	d := &Dist{Dir: t.TempDir()}
	d.Metadata.ProjectName, d.Metadata.Version = "slipway", "1.4.0-rc.1"
	out := map[string]string{}
	commit := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	for _, product := range []string{"agent", "desktop"} {
		bin := filepath.Join(t.TempDir(), "slipway-"+product)
		if err := binfmttest.CopyFile(bin, bins.Copy(t, "darwin", "arm64")); err != nil {
			t.Fatal(err)
		}
		if _, err := macos.New("", nil, macos.Options{}).Sign(t.Context(), bin); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(bin, commit, commit); err != nil {
			t.Fatal(err)
		}
		out[product] = bin
	}
	return d, out
}

// TestAppArchive builds the desktop Slipway.app archive twice with the
// real macOS signer (ad hoc), reads the bundle back with a plist parser
// and verifies the bundle signature.
func TestAppArchive(t *testing.T) {
	d, bins := macosTestDist(t)
	signer := macos.New("", nil, macos.Options{})
	sign := func(ctx context.Context, p string) error { return signer.SignBundle(ctx, p) }
	a := macosArtifact(d, "desktop", "arm64")
	if a.Name != "slipway-desktop_1.4.0-rc.1_darwin_arm64.app.tar.gz" || a.Extra.Format != "app" || a.Type != typeInstaller {
		t.Fatalf("artifact %+v", a)
	}
	if err := buildAppArchive(t.Context(), d, a, bins["desktop"], sign); err != nil {
		t.Fatal(err)
	}
	first, err := os.ReadFile(filepath.Join(d.Dir, a.Name))
	if err != nil {
		t.Fatal(err)
	}
	dir, names, headers := untar(t, filepath.Join(d.Dir, a.Name))
	want := "Slipway.app/ Slipway.app/Contents/ Slipway.app/Contents/Info.plist Slipway.app/Contents/MacOS/ " +
		"Slipway.app/Contents/MacOS/slipway-desktop Slipway.app/Contents/PkgInfo Slipway.app/Contents/_CodeSignature/ " +
		"Slipway.app/Contents/_CodeSignature/CodeResources"
	if got := strings.Join(names, " "); got != want {
		t.Errorf("entries\n%s\nwant\n%s", got, want)
	}
	if h := headers["Slipway.app/Contents/MacOS/slipway-desktop"]; h.Mode != 0o755 || h.Uid != 0 || !h.ModTime.Equal(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)) {
		t.Errorf("executable entry mode %o uid %d mtime %v", h.Mode, h.Uid, h.ModTime)
	}
	app := filepath.Join(dir, "Slipway.app")
	raw, err := os.ReadFile(filepath.Join(app, "Contents", "Info.plist"))
	if err != nil {
		t.Fatal(err)
	}
	var info map[string]any
	if format, err := plist.Unmarshal(raw, &info); err != nil || format != plist.XMLFormat {
		t.Fatalf("Info.plist: %v (format %d)", err, format)
	}
	for k, v := range map[string]any{"CFBundleIdentifier": desktopBundleID, "CFBundleExecutable": "slipway-desktop",
		"CFBundleShortVersionString": "1.4.0", "CFBundleVersion": "1.4.0", "SlipwayVersion": "1.4.0-rc.1",
		"CFBundlePackageType": "APPL", "LSMinimumSystemVersion": "12.0", "CFBundleName": "Slipway"} {
		if info[k] != v {
			t.Errorf("Info.plist %s = %v, want %v", k, info[k], v)
		}
	}
	if err := signer.VerifyBundle(t.Context(), app); err != nil {
		t.Errorf("bundle signature: %v", err)
	}
	// Same inputs, same bytes (ad-hoc signatures carry no time).
	os.Remove(filepath.Join(d.Dir, a.Name))
	if err := buildAppArchive(t.Context(), d, a, bins["desktop"], sign); err != nil {
		t.Fatal(err)
	}
	if second, _ := os.ReadFile(filepath.Join(d.Dir, a.Name)); !bytes.Equal(first, second) {
		t.Error("two builds of the app archive differ")
	}
}

// TestLaunchdArchive unpacks the agent's macOS archive, parses its
// launchd plist, and runs its install and uninstall scripts into a
// throw-away root with a recording launchctl; the agent's own config
// loader reads the agent.json the script writes.
func TestLaunchdArchive(t *testing.T) {
	d, bins := macosTestDist(t)
	a := macosArtifact(d, "agent", "arm64")
	if a.Name != "slipway-agent_1.4.0-rc.1_darwin_arm64_launchd.tar.gz" || a.Extra.Format != "launchd" {
		t.Fatalf("artifact %+v", a)
	}
	if err := buildLaunchdArchive(t.Context(), d, a, bins["agent"], nil); err != nil {
		t.Fatal(err)
	}
	dir, names, _ := untar(t, filepath.Join(d.Dir, a.Name))
	top := "slipway-agent_1.4.0-rc.1_darwin_arm64_launchd/"
	want := top + " " + top + "install.sh " + top + "slipway-agent " + top + "slipway-agent.plist " + top + "uninstall.sh"
	if got := strings.Join(names, " "); got != want {
		t.Errorf("entries\n%s\nwant\n%s", got, want)
	}
	pkg := filepath.Join(dir, top)
	if err := macos.New("", nil, macos.Options{}).Verify(t.Context(), filepath.Join(pkg, "slipway-agent")); err != nil {
		t.Errorf("the agent's signature did not survive: %v", err)
	}
	var daemon struct {
		Label             string
		ProgramArguments  []string
		RunAtLoad         bool
		KeepAlive         bool
		StandardErrorPath string
	}
	raw, _ := os.ReadFile(filepath.Join(pkg, "slipway-agent.plist"))
	if _, err := plist.Unmarshal(raw, &daemon); err != nil {
		t.Fatalf("launchd plist: %v", err)
	}
	if daemon.Label != "slipway-agent" || strings.Join(daemon.ProgramArguments, " ") != "/usr/local/bin/slipway-agent run" ||
		!daemon.RunAtLoad || !daemon.KeepAlive || daemon.StandardErrorPath == "" {
		t.Errorf("launchd plist %+v", daemon)
	}

	root, calls := t.TempDir(), filepath.Join(t.TempDir(), "calls")
	launchctl := filepath.Join(t.TempDir(), "launchctl")
	if err := os.WriteFile(launchctl, []byte("#!/bin/sh\necho \"$*\" >>'"+calls+"'\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	script := func(name string, env []string, args ...string) (string, error) {
		cmd := exec.Command("sh", append([]string{filepath.Join(pkg, name)}, args...)...)
		cmd.Env = append(os.Environ(), append([]string{"DESTDIR=" + root, "LAUNCHCTL=" + launchctl}, env...)...)
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	if out, err := script("install.sh", []string{"SLIPWAY_SERVER=https://slipway.example", "SLIPWAY_PROVISIONING_SECRET=s3cret"}); err != nil {
		t.Fatalf("install.sh: %v\n%s", err, out)
	}
	conf := filepath.Join(root, "Library", "Application Support", "Slipway")
	for p, mode := range map[string]os.FileMode{"usr/local/bin/slipway-agent": 0o755, "Library/LaunchDaemons/slipway-agent.plist": 0o644,
		"Library/Application Support/Slipway": 0o700 | os.ModeDir, "Library/Application Support/Slipway/agent.json": 0o600} {
		if st, err := os.Stat(filepath.Join(root, p)); err != nil || st.Mode() != mode {
			t.Errorf("%s: %v %v, want mode %v", p, st, err, mode)
		}
	}
	cfg, err := enroll.LoadConfig(conf, enroll.Config{})
	if err != nil || cfg.Server != "https://slipway.example" || cfg.ProvisioningSecret != "s3cret" {
		t.Errorf("agent.json as the agent reads it: %+v %v", cfg, err)
	}
	// Upgrade: agent.json is kept, the daemon is stopped and started again.
	if out, err := script("install.sh", []string{"SLIPWAY_SERVER=https://other.example"}); err != nil {
		t.Fatalf("install.sh (upgrade): %v\n%s", err, out)
	}
	if cfg, _ := enroll.LoadConfig(conf, enroll.Config{}); cfg.Server != "https://slipway.example" {
		t.Errorf("upgrade rewrote agent.json: %+v", cfg)
	}
	for _, bad := range []string{`https://x"y`, "https://x\\y", "a\nb"} {
		if out, err := script("install.sh", []string{"SLIPWAY_SERVER=" + bad}); err == nil {
			t.Errorf("install.sh accepted server %q:\n%s", bad, out)
		}
	}
	if out, err := script("uninstall.sh", nil, "--purge"); err != nil {
		t.Fatalf("uninstall.sh: %v\n%s", err, out)
	}
	for _, p := range []string{"usr/local/bin/slipway-agent", "Library/LaunchDaemons/slipway-agent.plist", "Library/Application Support/Slipway"} {
		if _, err := os.Stat(filepath.Join(root, p)); !os.IsNotExist(err) {
			t.Errorf("%s left after uninstall --purge: %v", p, err)
		}
	}
	got, _ := os.ReadFile(calls)
	wantCalls := strings.Repeat("bootout system/slipway-agent\nbootstrap system /Library/LaunchDaemons/slipway-agent.plist\nenable system/slipway-agent\n", 2) +
		"bootout system/slipway-agent\n"
	if string(got) != wantCalls {
		t.Errorf("launchctl calls\n%s\nwant\n%s", got, wantCalls)
	}
}

// TestAgentPkg builds the agent's .pkg, reads it back with libarchive's
// bsdtar (xar, then the cpio Scripts), checks its metadata and runs its
// postinstall into a throw-away root: enrollment settings from a
// configuration profile (through a stand-in for defaults), the daemon
// bootstrapped, and a refusal to install on another volume.
func TestAgentPkg(t *testing.T) {
	bsdtar := testenv.Tool(t, "bsdtar", "apt-get install libarchive-tools, or scripts/tools.sh apt")
	d, bins := macosTestDist(t)
	a := macosPkgArtifact(d, "arm64")
	if a.Name != "slipway-agent_1.4.0-rc.1_darwin_arm64.pkg" || a.Extra.Format != "pkg" || a.Type != typeInstaller {
		t.Fatalf("artifact %+v", a)
	}
	if err := buildAgentPkg(t.Context(), d, a, bins["agent"], nil); err != nil {
		t.Fatal(err)
	}
	x := t.TempDir()
	bsd := func(args ...string) string {
		out, err := exec.Command(bsdtar, args...).CombinedOutput()
		if err != nil {
			t.Fatalf("bsdtar %v: %v\n%s", args, err, out)
		}
		return string(out)
	}
	bsd("-xf", filepath.Join(d.Dir, a.Name), "-C", x)
	dist, _ := os.ReadFile(filepath.Join(x, "Distribution"))
	info, _ := os.ReadFile(filepath.Join(x, flatpkg.ComponentName, "PackageInfo"))
	for _, want := range []string{`hostArchitectures="arm64"`, `<os-version min="12.0"/>`, `<title>Slipway agent 1.4.0-rc.1</title>`} {
		if !strings.Contains(string(dist), want) {
			t.Errorf("Distribution lacks %s:\n%s", want, dist)
		}
	}
	if want := `identifier="io.github.slipwayhq.slipway.agent" version="1.4.0"`; !strings.Contains(string(info), want) {
		t.Errorf("PackageInfo lacks %s:\n%s", want, info)
	}
	scripts := t.TempDir()
	bsd("-xf", filepath.Join(x, flatpkg.ComponentName, "Scripts"), "-C", scripts)
	entries, _ := os.ReadDir(scripts)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if got := strings.Join(names, " "); got != "install.sh postinstall slipway-agent slipway-agent.plist uninstall.sh" {
		t.Errorf("Scripts: %s", got)
	}
	if err := macos.New("", nil, macos.Options{}).Verify(t.Context(), filepath.Join(scripts, "slipway-agent")); err != nil {
		t.Errorf("the agent's signature did not survive the package: %v", err)
	}

	root, calls := t.TempDir(), filepath.Join(t.TempDir(), "calls")
	stub := func(name, body string) string {
		p := filepath.Join(t.TempDir(), name)
		if err := os.WriteFile(p, []byte("#!/bin/sh\n"+body), 0o755); err != nil {
			t.Fatal(err)
		}
		return p
	}
	launchctl := stub("launchctl", "echo \"$*\" >>'"+calls+"'\n")
	// defaults read DOMAIN KEY, as macOS answers from a configuration profile.
	defaults := stub("defaults", `case "$3" in Server) echo https://mdm.example ;; ProvisioningSecret) echo from-profile ;; *) exit 1 ;; esac`+"\n")
	postinstall := func(volume string) (string, error) {
		cmd := exec.Command(filepath.Join(scripts, "postinstall"), filepath.Join(d.Dir, a.Name), "/", volume)
		cmd.Env = append(os.Environ(), "DESTDIR="+root, "LAUNCHCTL="+launchctl, "DEFAULTS="+defaults)
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	if out, err := postinstall("/Volumes/Backup"); err == nil || !strings.Contains(out, "startup volume") {
		t.Errorf("postinstall on another volume: %v\n%s", err, out)
	}
	profile := filepath.Join(root, "Library", "Managed Preferences")
	if err := os.MkdirAll(profile, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(profile, agentPkgID+".plist"), []byte("<plist/>"), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := postinstall("/"); err != nil {
		t.Fatalf("postinstall: %v\n%s", err, out)
	}
	if st, err := os.Stat(filepath.Join(root, "usr/local/bin/slipway-agent")); err != nil || st.Mode() != 0o755 {
		t.Errorf("binary: %v %v", st, err)
	}
	cfg, err := enroll.LoadConfig(filepath.Join(root, "Library", "Application Support", "Slipway"), enroll.Config{})
	if err != nil || cfg.Server != "https://mdm.example" || cfg.ProvisioningSecret != "from-profile" {
		t.Errorf("agent.json from the profile: %+v %v", cfg, err)
	}
	if got, _ := os.ReadFile(calls); string(got) != "bootout system/slipway-agent\nbootstrap system /Library/LaunchDaemons/slipway-agent.plist\nenable system/slipway-agent\n" {
		t.Errorf("launchctl calls:\n%s", got)
	}
}

// TestReleasedMacOSArchives checks the macOS archives of the shared
// snapshot release: a Slipway.app per arch whose bundle signature
// verifies and whose Info.plist carries the release's version, and the
// agent's launchd archives, all listed in release.json with SBOMs.
func TestReleasedMacOSArchives(t *testing.T) {
	sharedBuild(t)
	v := shared.report.Version
	for _, arch := range []string{"amd64", "arm64"} {
		dir, _, _ := untar(t, filepath.Join(shared.dist, "slipway-desktop_"+v+"_darwin_"+arch+".app.tar.gz"))
		app := filepath.Join(dir, "Slipway.app")
		if err := macos.New("", nil, macos.Options{}).VerifyBundle(t.Context(), app); err != nil {
			t.Errorf("%s: %v", arch, err)
		}
		info, _, err := macos.ReadBundle(app)
		if err != nil || info.Identifier != desktopBundleID || info.Version != msiVersion(v) {
			t.Errorf("%s: Info.plist %+v %v", arch, info, err)
		}
		if _, names, _ := untar(t, filepath.Join(shared.dist, "slipway-agent_"+v+"_darwin_"+arch+"_launchd.tar.gz")); len(names) != 5 {
			t.Errorf("%s: launchd archive entries %v", arch, names)
		}
		if b, err := os.ReadFile(filepath.Join(shared.dist, "slipway-agent_"+v+"_darwin_"+arch+".pkg")); err != nil || !bytes.HasPrefix(b, []byte("xar!")) {
			t.Errorf("%s: agent .pkg: %v", arch, err)
		}
	}
	for _, c := range []struct{ product, suffix string }{{"agent", "_launchd.tar.gz"}, {"agent", ".pkg"}, {"desktop", ".app.tar.gz"}} {
		n, sboms := 0, 0
		for _, p := range shared.report.Products {
			if p.Product != c.product {
				continue
			}
			for _, a := range p.Artifacts {
				switch {
				case strings.HasSuffix(a.Name, c.suffix):
					n++
				case strings.HasSuffix(a.Name, c.suffix+SBOMExt):
					sboms++
				}
			}
		}
		if n != 2 || sboms != 2 {
			t.Errorf("%s: %d *%s and %d SBOMs of them in the report, want 2 and 2", c.product, n, c.suffix, sboms)
		}
	}
}

// TestWriteAtomic: a failed write leaves neither the file nor a temporary
// one (a later --skip-build run would reuse a partial archive); a
// successful one is complete and 0644. A package whose version the
// installer cannot compare fails the same way.
func TestWriteAtomic(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "a.tar.gz")
	err := writeAtomic(out, func(w io.Writer) error {
		if _, err := w.Write(bytes.Repeat([]byte("x"), 1<<20)); err != nil {
			return err
		}
		return io.ErrUnexpectedEOF
	})
	if !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("err = %v", err)
	}
	if left, _ := os.ReadDir(dir); len(left) != 0 {
		t.Fatalf("a failed write left %v", left)
	}
	if err := writeAtomic(out, func(w io.Writer) error { _, err := w.Write([]byte("done")); return err }); err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(out); err != nil || string(b) != "done" {
		t.Fatalf("%q %v", b, err)
	}
	if st, _ := os.Stat(out); st.Mode() != 0o644 {
		t.Errorf("mode %v", st.Mode())
	}
	if left, _ := os.ReadDir(dir); len(left) != 1 {
		t.Errorf("files after a good write: %v", left)
	}

	d, bins := macosTestDist(t)
	d.Metadata.Version = "v-not-a-version"
	a := macosPkgArtifact(d, "amd64")
	if err := buildAgentPkg(t.Context(), d, a, bins["agent"], nil); err == nil {
		t.Fatal("a package with a bad version was built")
	}
	if left, _ := os.ReadDir(d.Dir); len(left) != 0 {
		t.Errorf("a failed package left %v", left)
	}
}
