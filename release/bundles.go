package release

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
)

// Tauri v2's bundle names (tauri-bundler), by OS and bundle type:
//
//	Linux   MyApp_1.2.3_amd64.AppImage   (arch amd64, aarch64, i386, armhf)
//	        MyApp_1.2.3_amd64.deb        (amd64, arm64, i386, armhf)
//	        MyApp-1.2.3-1.x86_64.rpm     (x86_64, aarch64, i386, armhfp)
//	macOS   MyApp.app.tar.gz             (updater bundle: no arch; tauri-action
//	                                      renames it MyApp_aarch64.app.tar.gz,
//	                                      MyApp_x64.app.tar.gz, MyApp_universal.app.tar.gz)
//	        MyApp_1.2.3_aarch64.dmg      (aarch64, x64, universal)
//	Windows MyApp_1.2.3_x64-setup.exe    (NSIS; x64, arm64, x86)
//	        MyApp_1.2.3_x64_en-US.msi    (x64, arm64, x86)
//
// plus the v1-compatible updater archives (.AppImage.tar.gz, .nsis.zip,
// .msi.zip).
var bundleFormats = []struct{ suffix, os, format string }{
	{".appimage.tar.gz", "linux", "appimage"}, {".appimage", "linux", "appimage"},
	{".deb", "linux", "deb"}, {".rpm", "linux", "rpm"},
	{".app.tar.gz", "darwin", "app"}, {".dmg", "darwin", "dmg"},
	{".msi.zip", "windows", "msi"}, {".msi", "windows", "msi"},
	{"-setup.exe", "windows", "nsis"}, {".nsis.zip", "windows", "nsis"},
	{".tar.gz", "", "tar.gz"}, {".zip", "", "zip"},
}

// archTokens maps the arch names found in bundle names to Go's, longest
// first (x86_64 before x86).
var (
	archTokenRe = regexp.MustCompile(`(?i)(?:^|[_.\-])(x86_64|amd64|x64|aarch64|arm64|universal|i686|i386|x86|armhfp|armhf|armv7|riscv64)(?:[_.\-]|$)`)
	archTokens  = map[string]string{
		"x86_64": "amd64", "amd64": "amd64", "x64": "amd64", "aarch64": "arm64", "arm64": "arm64",
		"universal": "universal", "i686": "386", "i386": "386", "x86": "386",
		"armhfp": "arm", "armhf": "arm", "armv7": "arm", "riscv64": "riscv64",
	}
	osTokenRe = regexp.MustCompile(`(?i)(?:^|[_.\-])(linux|darwin|macos|windows)(?:[_.\-]|$)`)
)

// classify guesses os, arch and format of a prebuilt bundle from its name.
func classify(name string) Artifact {
	a := Artifact{Name: name, Format: "file"}
	lower := strings.ToLower(name)
	for _, f := range bundleFormats {
		if strings.HasSuffix(lower, f.suffix) {
			a.OS, a.Format = f.os, f.format
			break
		}
	}
	if m := osTokenRe.FindStringSubmatch(lower); a.OS == "" && m != nil {
		a.OS = map[string]string{"macos": "darwin"}[m[1]]
		if a.OS == "" {
			a.OS = m[1]
		}
	}
	if m := archTokenRe.FindStringSubmatch(lower); m != nil {
		a.Arch = archTokens[strings.ToLower(m[1])]
	}
	if a.Arch == "universal" && a.OS != "darwin" {
		a.Arch = ""
	}
	return a
}

// FileSpec is one --files value: a glob and, optionally, the target its
// files are for.
type FileSpec struct {
	Glob     string
	OS, Arch string // Go names; "" when the name is to tell
}

var targetRe = regexp.MustCompile(`^([a-z][a-z0-9]*)-([a-z0-9_]+)$`)

// ParseFileSpec reads "GLOB" or "TARGET=GLOB", where TARGET is
// {os}-{arch} with os linux, darwin or windows and arch in Tauri's or Go's
// spelling (x86_64/amd64, aarch64/arm64, i686/386, armv7/arm, riscv64) or
// universal (darwin only), e.g. darwin-universal=bundles/MyApp.app.tar.gz.
func ParseFileSpec(v string) (FileSpec, error) {
	target, glob, ok := strings.Cut(v, "=")
	if !ok || !targetRe.MatchString(target) {
		return FileSpec{Glob: v}, nil
	}
	m := targetRe.FindStringSubmatch(target)
	goos, goarch := m[1], archTokens[m[2]]
	if m[2] == "386" || m[2] == "arm" {
		goarch = m[2]
	}
	switch {
	case goos != "linux" && goos != "darwin" && goos != "windows":
		return FileSpec{}, fmt.Errorf("--files %q: unknown OS %q (linux, darwin or windows)", v, goos)
	case goarch == "" || (goarch == "universal" && goos != "darwin"):
		return FileSpec{}, fmt.Errorf("--files %q: unknown arch %q for %s", v, m[2], goos)
	case glob == "":
		return FileSpec{}, fmt.Errorf("--files %q: no file after the target", v)
	}
	return FileSpec{Glob: glob, OS: goos, Arch: goarch}, nil
}

// fileInput is one file to publish, under the name and target it gets.
type fileInput struct {
	path     string
	artifact Artifact
}

// expandFiles returns the files the --files values name, sorted by
// published name, leaving out signature files. A file named by a value with
// a target takes that target (a value with a target wins over a bare glob
// matching the same file); a bundle whose name carries no arch gets the
// stated one inserted, as tauri-action does (MyApp_aarch64.app.tar.gz), so
// the builds of several architectures can share a release.
func expandFiles(values []string) ([]fileInput, error) {
	specs := make([]FileSpec, 0, len(values))
	for _, v := range values {
		spec, err := ParseFileSpec(v)
		if err != nil {
			return nil, err
		}
		specs = append(specs, spec)
	}
	// Values with a target first: they win over a bare glob's match.
	sort.SliceStable(specs, func(i, j int) bool { return specs[i].OS != "" && specs[j].OS == "" })
	byPath := map[string]fileInput{}
	for _, spec := range specs {
		v := spec.Glob
		m, err := filepath.Glob(spec.Glob)
		if err != nil {
			return nil, fmt.Errorf("--files %q: %w", v, err)
		}
		if len(m) == 0 {
			return nil, fmt.Errorf("--files %q matches no file", v)
		}
		for _, p := range m {
			st, err := os.Stat(p)
			if err != nil {
				return nil, err
			}
			n := filepath.Base(p)
			if st.IsDir() || isSignatureFile(n) {
				continue
			}
			if prev, seen := byPath[p]; seen {
				if spec.OS != "" && (prev.artifact.OS != spec.OS || prev.artifact.Arch != spec.Arch) {
					return nil, fmt.Errorf("--files: %s is named with two targets", p)
				}
				continue
			}
			a, err := targetArtifact(n, spec)
			if err != nil {
				return nil, err
			}
			byPath[p] = fileInput{path: p, artifact: a}
		}
	}
	return checkInputs(byPath)
}

// targetArtifact classifies the file and applies the stated target.
func targetArtifact(name string, spec FileSpec) (Artifact, error) {
	a := classify(name)
	if spec.OS != "" {
		if a.OS != "" && a.OS != spec.OS {
			return a, fmt.Errorf("--files: %s is a %s bundle, not %s-%s", name, a.OS, spec.OS, spec.Arch)
		}
		if a.Arch != "" && a.Arch != spec.Arch {
			return a, fmt.Errorf("--files: %s names arch %s, not the stated %s", name, a.Arch, spec.Arch)
		}
		if a.Arch == "" {
			a.Name = withArch(name, spec.Arch)
		}
		a.OS, a.Arch = spec.OS, spec.Arch
	}
	if a.Arch == "" && (a.Format == "app" || a.Format == "dmg" || (a.OS != "" && a.Format != "file")) {
		return a, fmt.Errorf("--files: %s does not say its architecture, so no machine would be offered it; "+
			"state it: --files '%s-aarch64=PATH' (or x86_64, universal)", name, orDarwin(a.OS))
	}
	return a, nil
}

func orDarwin(goos string) string {
	if goos == "" {
		return "darwin"
	}
	return goos
}

// withArch inserts _<arch> (Tauri's spelling) before the bundle suffix.
func withArch(name, goarch string) string {
	tauriArch := map[string]string{"amd64": "x64", "arm64": "aarch64", "universal": "universal", "386": "x86",
		"arm": "armv7", "riscv64": "riscv64"}[goarch]
	lower := strings.ToLower(name)
	for _, f := range bundleFormats {
		if strings.HasSuffix(lower, f.suffix) {
			i := len(name) - len(f.suffix)
			return name[:i] + "_" + tauriArch + name[i:]
		}
	}
	ext := filepath.Ext(name)
	return strings.TrimSuffix(name, ext) + "_" + tauriArch + ext
}

// checkInputs validates published names (unique, publishable) and sorts.
func checkInputs(byPath map[string]fileInput) ([]fileInput, error) {
	out := make([]fileInput, 0, len(byPath))
	names := map[string]string{}
	for p, in := range byPath {
		n := in.artifact.Name
		if !nameRe.MatchString(n) || n == RecordName {
			return nil, fmt.Errorf("--files: %q is not a publishable file name", n)
		}
		if other, dup := names[n]; dup {
			return nil, fmt.Errorf("--files: %s and %s would both be published as %s; state their targets", other, p, n)
		}
		names[n] = p
		out = append(out, in)
	}
	if len(out) == 0 {
		return nil, errors.New("--files: nothing to publish")
	}
	sort.Slice(out, func(i, j int) bool { return out[i].artifact.Name < out[j].artifact.Name })
	return out, nil
}
