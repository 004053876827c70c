package macos

import (
	"bytes"
	"context"
	"crypto/sha256"
	"debug/macho"
	_ "embed"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"howett.net/plist"

	"github.com/slipwayhq/slipway/signing"
)

// Special slots whose hashed data lives outside the binary: the bundle's
// Info.plist and its resource seal (xnu cs_blobs.h CSSLOT_INFOSLOT,
// CSSLOT_RESOURCEDIR).
const (
	slotInfoPlist = 1
	slotResources = 3
)

// Paths inside an .app bundle.
const (
	bundleInfoPlist = "Contents/Info.plist"
	bundlePkgInfo   = "Contents/PkgInfo"
	bundleResources = "Contents/_CodeSignature/CodeResources"
	maxInfoPlist    = 1 << 20
)

// codeResources is the resource seal codesign writes for a bundle with
// no resources: its default rules and no files (Info.plist, PkgInfo and
// the main executable are omitted by the rules and bound by the
// executable's own signature).
//
//go:embed coderesources.plist
var codeResources []byte

// ErrBundle: the directory is not an .app bundle this signer handles.
var ErrBundle = errors.New("not a supported .app bundle")

// BundleInfo is what the signer reads from an .app bundle's Info.plist.
type BundleInfo struct {
	Identifier string `plist:"CFBundleIdentifier"`
	Executable string `plist:"CFBundleExecutable"`
	Version    string `plist:"CFBundleShortVersionString"`
}

// ReadBundle reads and checks the bundle at dir: an Info.plist naming an
// identifier and an executable in Contents/MacOS, and nothing else than
// PkgInfo and a resource seal (resources, frameworks and nested code are
// not supported). It returns the Info.plist's fields and the executable.
func ReadBundle(dir string) (BundleInfo, string, error) {
	var info BundleInfo
	raw, err := readLimited(filepath.Join(dir, bundleInfoPlist), maxInfoPlist)
	if err != nil {
		return info, "", fmt.Errorf("%w: %w", ErrBundle, err)
	}
	if _, err := plist.Unmarshal(raw, &info); err != nil {
		return info, "", fmt.Errorf("%w: %s: %w", ErrBundle, bundleInfoPlist, err)
	}
	exe := info.Executable
	if info.Identifier == "" || exe == "" || exe != filepath.Base(exe) || strings.HasPrefix(exe, ".") {
		return info, "", fmt.Errorf("%w: Info.plist identifier %q, executable %q", ErrBundle, info.Identifier, exe)
	}
	allowed := map[string]bool{"Contents": true, bundleInfoPlist: true, bundlePkgInfo: true, "Contents/MacOS": true,
		"Contents/MacOS/" + exe: true, "Contents/_CodeSignature": true, bundleResources: true}
	err = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || p == dir {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		rel = filepath.ToSlash(rel)
		if !allowed[rel] {
			return fmt.Errorf("%w: %s: resources and nested code are not supported", ErrBundle, rel)
		}
		if d.Type()&fs.ModeSymlink != 0 {
			return fmt.Errorf("%w: %s is a symbolic link", ErrBundle, rel)
		}
		return nil
	})
	if err != nil {
		return info, "", err
	}
	return info, filepath.Join(dir, "Contents", "MacOS", exe), nil
}

func readLimited(path string, limit int64) ([]byte, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if st.Size() > limit {
		return nil, fmt.Errorf("%s: %d bytes, more than %d", path, st.Size(), limit)
	}
	return os.ReadFile(path)
}

// SignBundle signs the .app bundle at dir as codesign does for a bundle
// without resources: it writes the resource seal
// Contents/_CodeSignature/CodeResources, then signs the main executable
// with the bundle identifier as its identifier and the hashes of
// Info.plist and of the seal in special slots 1 and 3. Only thin
// executables can be signed this way.
func (s *Signer) SignBundle(ctx context.Context, dir string) error {
	info, exe, err := ReadBundle(dir)
	if err != nil {
		return err
	}
	seal := filepath.Join(dir, filepath.FromSlash(bundleResources))
	if err := os.MkdirAll(filepath.Dir(seal), 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(seal, codeResources, 0o644); err != nil {
		return err
	}
	slots, err := bundleSlots(dir)
	if err != nil {
		return err
	}
	inner := *s
	inner.opts.Identity = info.Identifier
	inner.external = slots
	if inner.opts.Notary != nil {
		// Apple notarizes the zipped bundle, not its bare executable;
		// that submission is not implemented.
		inner.opts.Logger.WarnContext(ctx, "bundle not notarized: only single Mach-O files are submitted", "bundle", dir)
		inner.opts.Notary = nil
	}
	if _, err := inner.Sign(ctx, exe); err != nil {
		return err
	}
	return nil
}

// bundleSlots hashes the bundle's Info.plist and resource seal.
func bundleSlots(dir string) ([]slotBlob, error) {
	var out []slotBlob
	for _, f := range []struct {
		slot uint32
		path string
	}{{slotInfoPlist, bundleInfoPlist}, {slotResources, bundleResources}} {
		b, err := readLimited(filepath.Join(dir, filepath.FromSlash(f.path)), maxInfoPlist)
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrBundle, err)
		}
		out = append(out, slotBlob{slot: f.slot, hash: sha256.Sum256(b)})
	}
	return out, nil
}

// VerifyBundle verifies the bundle's executable (as Verify does) and that
// its signature belongs to this bundle: the identifier is the bundle's,
// and special slots 1 and 3 hold the hashes of Info.plist and of the
// resource seal, which must be the default, empty one. Failures match
// signing.ErrBadSignature.
func (s *Signer) VerifyBundle(ctx context.Context, dir string) error {
	info, exe, err := ReadBundle(dir)
	if err != nil {
		return err
	}
	if err := s.Verify(ctx, exe); err != nil {
		return err
	}
	sig, err := thinSignature(exe)
	if err != nil {
		return fmt.Errorf("macos verify %s: %w", dir, err)
	}
	slots, err := bundleSlots(dir)
	if err != nil {
		return fmt.Errorf("macos verify %s: %w: %w", dir, errMismatch, err)
	}
	seal, _ := os.ReadFile(filepath.Join(dir, filepath.FromSlash(bundleResources)))
	cd := sig.dirs[0]
	switch {
	case cd.ident != info.Identifier:
		err = fmt.Errorf("identifier %q, bundle is %q", cd.ident, info.Identifier)
	case !bytes.Equal(seal, codeResources):
		err = errors.New("resource seal is not the default seal of a bundle without resources")
	case cd.hash.Size() != sha256.Size:
		err = fmt.Errorf("code directory hash %v, want SHA-256", cd.hash)
	}
	for _, want := range slots {
		if err == nil && (len(cd.special) < int(want.slot) || !bytes.Equal(cd.special[want.slot-1], want.hash[:])) {
			err = fmt.Errorf("special slot %d does not hold the hash of the bundle's file", want.slot)
		}
	}
	if err != nil {
		return fmt.Errorf("macos verify %s: %w: %w", dir, signing.ErrBadSignature, err)
	}
	return nil
}

// thinSignature parses the signature of a thin Mach-O file.
func thinSignature(path string) (*codeSignature, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	mf, err := macho.NewFile(f)
	if err != nil {
		return nil, fmt.Errorf("%w: %w (a bundle's executable must be thin)", signing.ErrBadSignature, err)
	}
	sig, err := readCodeSignature(mf, f, st.Size())
	if err == nil && sig == nil {
		err = errors.New("not signed")
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %w", signing.ErrBadSignature, err)
	}
	return sig, nil
}
