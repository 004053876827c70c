package release

import (
	"archive/tar"
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"text/template"
	"time"

	"github.com/klauspost/compress/gzip"
	"github.com/slipwayhq/slipway/internal/flatpkg"
	"github.com/slipwayhq/slipway/packaging"
)

// macOS deliverables, built on Linux:
//
//   - the desktop client as Slipway.app (Contents/Info.plist, PkgInfo,
//     MacOS/slipway-desktop) in slipway-desktop_<v>_darwin_<arch>.app.tar.gz,
//     the bundle signed with the macOS signer (`slipway sign-binary` on the
//     .app directory: bundle identifier, Info.plist and resource seal bound);
//   - the agent as slipway-agent_<v>_darwin_<arch>_launchd.tar.gz: the
//     signed binary, its launchd daemon plist and install/uninstall scripts
//     an MDM runs;
//   - the same files as slipway-agent_<v>_darwin_<arch>.pkg, a payload-free
//     flat package (internal/flatpkg) whose postinstall runs install.sh,
//     for MDMs that deploy packages (Jamf, Intune). Payload-free because a
//     package with a payload needs a Bom, an undocumented format nothing
//     on Linux can check (docs/operations.md, "macOS agent").
const (
	desktopBundleID = "io.github.slipwayhq.slipway"
	appName         = "Slipway"
	// macOSMinimum: Go 1.26 binaries need macOS 12 Monterey.
	macOSMinimum = "12.0"
)

var infoPlistTemplate = template.Must(template.New("Info.plist").Parse(`<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">
<plist version="1.0">
<dict>
	<key>CFBundleDevelopmentRegion</key>
	<string>en</string>
	<key>CFBundleDisplayName</key>
	<string>{{.Name}}</string>
	<key>CFBundleExecutable</key>
	<string>{{.Executable}}</string>
	<key>CFBundleIdentifier</key>
	<string>{{.Identifier}}</string>
	<key>CFBundleInfoDictionaryVersion</key>
	<string>6.0</string>
	<key>CFBundleName</key>
	<string>{{.Name}}</string>
	<key>CFBundlePackageType</key>
	<string>APPL</string>
	<key>CFBundleShortVersionString</key>
	<string>{{.ShortVersion}}</string>
	<key>CFBundleVersion</key>
	<string>{{.ShortVersion}}</string>
	<key>LSMinimumSystemVersion</key>
	<string>{{.Minimum}}</string>
	<key>NSHighResolutionCapable</key>
	<true/>
	<key>SlipwayVersion</key>
	<string>{{.Version}}</string>
</dict>
</plist>
`))

// macosStep writes the desktop .app archive and the agent's launchd
// archive for every darwin build.
type macosStep struct{}

func (macosStep) Name() string { return "macos" }

func (s macosStep) Run(ctx context.Context, r *run) error {
	return r.added(s.produce(ctx, r))
}

func (macosStep) produce(ctx context.Context, r *run) ([]DistArtifact, error) {
	switch {
	case r.done:
		return nil, errAlreadyPublished
	case r.external || r.dist == nil:
		return nil, skip("no build")
	case r.opts.SkipAttest:
		return nil, skip("--skip-attest: no installers")
	case r.opts.DryRun:
		return nil, skip("dry run: installers are built with the release")
	}
	d := r.dist
	bins, err := binaries(d)
	if err != nil {
		return nil, err
	}
	var arts []DistArtifact
	for _, arch := range []string{"amd64", "arm64"} {
		for _, product := range []string{"agent", "desktop"} {
			if bins[product+"/darwin/"+arch] != "" {
				arts = append(arts, macosArtifact(d, product, arch))
				if product == "agent" {
					arts = append(arts, macosPkgArtifact(d, arch))
				}
			}
		}
	}
	sign := func(ctx context.Context, p string) error { return signInstaller(ctx, r, p) }
	// Each archive is one gzip stream on one core: build them side by side.
	err = parallel(ctx, runtime.GOMAXPROCS(0), len(arts), func(ctx context.Context, i int) error {
		a := arts[i]
		if _, err := os.Stat(filepath.Join(d.Dir, a.Name)); err == nil {
			return nil // built by an earlier run (--skip-build)
		}
		done, err := r.cpu(ctx)
		if err != nil {
			return err
		}
		defer done()
		build := map[string]func(context.Context, *Dist, DistArtifact, string, signFunc) error{
			"launchd": buildLaunchdArchive, "app": buildAppArchive, "pkg": buildAgentPkg}[a.Extra.Format]
		return build(ctx, d, a, bins[a.Extra.ID+"/darwin/"+a.Goarch], sign)
	})
	if err != nil {
		return nil, err
	}
	return arts, nil
}

// agentPkgID is the macOS package's identifier (its receipt: pkgutil --pkgs).
const agentPkgID = desktopBundleID + ".agent"

// macosPkgArtifact names the agent's macOS package.
func macosPkgArtifact(d *Dist, arch string) DistArtifact {
	name := fmt.Sprintf("%s-agent_%s_darwin_%s.pkg", d.Metadata.ProjectName, d.Metadata.Version, arch)
	return DistArtifact{Name: name, Path: name, Goos: "darwin", Goarch: arch, Type: typeInstaller,
		Extra: DistExtra{ID: "agent", Format: "pkg"}}
}

// buildAgentPkg writes the agent's payload-free package: the launchd
// archive's files in its Scripts, and a postinstall that runs install.sh.
func buildAgentPkg(_ context.Context, d *Dist, a DistArtifact, bin string, _ signFunc) error {
	exe, err := os.ReadFile(bin)
	if err != nil {
		return err
	}
	files := []flatpkg.File{{Name: "postinstall", Mode: 0o755, Data: packaging.MacOSPostinstall},
		{Name: filepath.Base(bin), Mode: 0o755, Data: exe}}
	err = fs.WalkDir(packaging.MacOS, "macos", func(p string, e fs.DirEntry, err error) error {
		if err != nil || e.IsDir() {
			return err
		}
		b, err := fs.ReadFile(packaging.MacOS, p)
		mode := uint32(0o644)
		if strings.HasSuffix(p, ".sh") {
			mode = 0o755
		}
		files = append(files, flatpkg.File{Name: path.Base(p), Mode: mode, Data: b})
		return err
	})
	if err != nil {
		return err
	}
	arch := map[string]string{"amd64": "x86_64", "arm64": "arm64"}[a.Goarch]
	return writeAtomic(filepath.Join(d.Dir, a.Name), func(w io.Writer) error {
		err := flatpkg.Write(w, flatpkg.Package{Identifier: agentPkgID, Version: msiVersion(d.Metadata.Version),
			Title: "Slipway agent " + d.Metadata.Version, Arch: arch, MinOS: macOSMinimum, Scripts: files, ModTime: modTime(bin)})
		if err != nil {
			return fmt.Errorf("%s: %w", a.Name, err)
		}
		return nil
	})
}

// writeAtomic writes path through a temporary file in its directory,
// renamed into place only once write succeeded: a run that fails or is
// killed half-way leaves no partial file that a later --skip-build run
// would take for a finished one.
func writeAtomic(path string, write func(io.Writer) error) (err error) {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	w := bufio.NewWriter(f)
	if err := write(w); err != nil {
		return err
	}
	if err := w.Flush(); err != nil {
		return err
	}
	if err := f.Chmod(0o644); err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(f.Name(), path)
}

// macosArtifact names the macOS deliverable of a product: format "app"
// (the updater's bundle format) for the desktop client, "launchd" for
// the agent.
func macosArtifact(d *Dist, product, arch string) DistArtifact {
	base := fmt.Sprintf("%s-%s_%s_darwin_%s", d.Metadata.ProjectName, product, d.Metadata.Version, arch)
	name, format := base+"_launchd.tar.gz", "launchd"
	if product == "desktop" {
		name, format = base+".app.tar.gz", "app"
	}
	return DistArtifact{Name: name, Path: name, Goos: "darwin", Goarch: arch, Type: typeInstaller,
		Extra: DistExtra{ID: product, Format: format}}
}

type signFunc func(ctx context.Context, path string) error

// buildAppArchive lays out Slipway.app around the desktop binary, signs
// the bundle and archives it.
func buildAppArchive(ctx context.Context, d *Dist, a DistArtifact, bin string, sign signFunc) error {
	work, err := os.MkdirTemp(d.Dir, ".app-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)
	app := filepath.Join(work, appName+".app")
	exe := filepath.Base(bin)
	if err := os.MkdirAll(filepath.Join(app, "Contents", "MacOS"), 0o755); err != nil {
		return err
	}
	var info bytes.Buffer
	if err := infoPlistTemplate.Execute(&info, map[string]string{"Name": appName, "Executable": exe,
		"Identifier": desktopBundleID, "ShortVersion": msiVersion(d.Metadata.Version), "Version": d.Metadata.Version,
		"Minimum": macOSMinimum}); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(app, "Contents", "Info.plist"), info.Bytes(), 0o644); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(app, "Contents", "PkgInfo"), []byte("APPL????"), 0o644); err != nil {
		return err
	}
	if err := copyExecutable(filepath.Join(app, "Contents", "MacOS", exe), bin); err != nil {
		return err
	}
	if err := sign(ctx, app); err != nil {
		return err
	}
	return writeTar(filepath.Join(d.Dir, a.Name), work, modTime(bin), true)
}

// buildLaunchdArchive writes the agent's launchd archive: a directory
// named like the archive holding the signed binary, the daemon plist and
// the scripts.
func buildLaunchdArchive(_ context.Context, d *Dist, a DistArtifact, bin string, _ signFunc) error {
	work, err := os.MkdirTemp(d.Dir, ".launchd-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)
	top := filepath.Join(work, strings.TrimSuffix(a.Name, ".tar.gz"))
	if err := os.Mkdir(top, 0o755); err != nil {
		return err
	}
	// The binary was signed by the build hook, like the one in the plain archive.
	if err := copyExecutable(filepath.Join(top, filepath.Base(bin)), bin); err != nil {
		return err
	}
	err = fs.WalkDir(packaging.MacOS, "macos", func(p string, e fs.DirEntry, err error) error {
		if err != nil || e.IsDir() {
			return err
		}
		b, err := fs.ReadFile(packaging.MacOS, p)
		if err != nil {
			return err
		}
		mode := os.FileMode(0o644)
		if strings.HasSuffix(p, ".sh") {
			mode = 0o755
		}
		return os.WriteFile(filepath.Join(top, path.Base(p)), b, mode)
	})
	if err != nil {
		return err
	}
	return writeTar(filepath.Join(d.Dir, a.Name), work, modTime(bin), true)
}

func copyExecutable(dst, src string) error {
	b, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	return os.WriteFile(dst, b, 0o755)
}

// modTime is the binary's mtime (the commit time, set by the build hook),
// so the archives of a commit do not depend on when they were built.
func modTime(p string) time.Time {
	st, err := os.Stat(p)
	if err != nil {
		return time.Unix(0, 0)
	}
	return st.ModTime().UTC().Truncate(time.Second)
}

// commitTime is the commit time as the build stamped it on the binaries'
// mtimes (mod_timestamp), or the build date when no binary is at hand.
func commitTime(d *Dist) time.Time {
	bins, err := binaries(d)
	if err == nil {
		for _, p := range bins {
			if st, err := os.Stat(p); err == nil {
				return st.ModTime().UTC().Truncate(time.Second)
			}
		}
	}
	return d.Metadata.Date.UTC().Truncate(time.Second)
}

// writeTar archives the tree under dir (gzip-compressed with gz): entries
// relative to it, sorted, owned by root:wheel (0:0), modes 0755/0644, all
// with one mtime.
func writeTar(out, dir string, mtime time.Time, gz bool) error {
	var paths []string
	err := filepath.WalkDir(dir, func(p string, e fs.DirEntry, err error) error {
		if err == nil && p != dir {
			paths = append(paths, p)
		}
		return err
	})
	if err != nil {
		return err
	}
	sort.Strings(paths)
	return writeAtomic(out, func(w io.Writer) error {
		var zw *gzip.Writer
		if gz {
			// klauspost's gzip: the same format at about half the CPU of
			// compress/gzip (four 11 MB binaries per release).
			zw = gzip.NewWriter(w)
			w = zw
		}
		tw := tar.NewWriter(w)
		for _, p := range paths {
			if err := addTarEntry(tw, dir, p, mtime); err != nil {
				return err
			}
		}
		if err := tw.Close(); err != nil {
			return err
		}
		if zw != nil {
			return zw.Close()
		}
		return nil
	})
}

func addTarEntry(tw *tar.Writer, dir, p string, mtime time.Time) error {
	st, err := os.Lstat(p)
	if err != nil {
		return err
	}
	rel, err := filepath.Rel(dir, p)
	if err != nil {
		return err
	}
	h := &tar.Header{Name: filepath.ToSlash(rel), ModTime: mtime, Format: tar.FormatPAX, Uname: "root", Gname: "wheel"}
	switch {
	case st.IsDir():
		h.Typeflag, h.Name, h.Mode = tar.TypeDir, h.Name+"/", 0o755
	case st.Mode().IsRegular():
		h.Typeflag, h.Size, h.Mode = tar.TypeReg, st.Size(), 0o644
		if st.Mode()&0o111 != 0 {
			h.Mode = 0o755
		}
	default:
		return fmt.Errorf("%s: not a file or directory", p)
	}
	if err := tw.WriteHeader(h); err != nil {
		return err
	}
	if h.Typeflag != tar.TypeReg {
		return nil
	}
	f, err := os.Open(p)
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = io.Copy(tw, f)
	return err
}
