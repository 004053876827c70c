// Package catalog reads published releases (release.json records and the
// signature files next to each artifact) from storage, with size limits
// and strict validation, and verifies them before a channel may serve them.
package catalog

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"regexp"

	"github.com/slipwayhq/slipway/release"
	"github.com/slipwayhq/slipway/signing"
	"github.com/slipwayhq/slipway/storage"
	"github.com/slipwayhq/slipway/updater/semver"
)

// Size limits for what is read from storage.
const (
	// MaxRecordSize bounds a release.json. Default: 4 MiB.
	MaxRecordSize = 4 << 20
	// MaxSignatureSize bounds a signature file (.minisig, .sig, .cosign.sig). Default: 64 KiB.
	MaxSignatureSize = 64 << 10
)

// Errors (match with errors.Is).
var (
	// ErrNotPublished: no release.json for this product/version.
	ErrNotPublished = errors.New("release not published")
	// ErrBadRecord: release.json is malformed or inconsistent.
	ErrBadRecord = errors.New("invalid release record")
	// ErrTooLarge: an object is larger than its limit.
	ErrTooLarge = errors.New("object too large")
	// ErrMismatch: a stored artifact's size or sha256 differs from the record.
	ErrMismatch = errors.New("artifact does not match its record")
	// ErrUnsigned: an artifact has no minisign signature.
	ErrUnsigned = errors.New("artifact has no minisign signature")
)

var (
	fileRE   = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._+-]{0,199}$`)
	sha256RE = regexp.MustCompile(`^[0-9a-f]{64}$`)
)

// ReadLimited reads a whole object of at most max bytes.
func ReadLimited(ctx context.Context, st storage.Store, key string, max int64) ([]byte, storage.Info, error) {
	rc, info, err := st.Get(ctx, key)
	if err != nil {
		return nil, info, fmt.Errorf("get %s: %w", key, err)
	}
	defer rc.Close()
	data, err := io.ReadAll(io.LimitReader(rc, max+1))
	if err != nil {
		return nil, info, fmt.Errorf("read %s: %w", key, err)
	}
	if int64(len(data)) > max {
		return nil, info, fmt.Errorf("%s: %w (limit %d bytes)", key, ErrTooLarge, max)
	}
	return data, info, nil
}

// Load reads and validates releases/<product>/<version>/release.json.
func Load(ctx context.Context, st storage.Store, prefix, product, version string) (*release.Record, error) {
	key := release.Key(prefix, product, version, release.RecordName)
	data, _, err := ReadLimited(ctx, st, key, MaxRecordSize)
	if errors.Is(err, storage.ErrNotFound) {
		return nil, fmt.Errorf("%s %s: %w", product, version, ErrNotPublished)
	}
	if err != nil {
		return nil, err
	}
	rec, err := Parse(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", key, err)
	}
	if rec.Product != product || rec.Version != version {
		return nil, fmt.Errorf("%s: %w: says %s %s", key, ErrBadRecord, rec.Product, rec.Version)
	}
	return rec, nil
}

// Parse decodes a release.json strictly and validates every field a
// client will later trust (file names, hashes, sizes, versions).
func Parse(data []byte) (*release.Record, error) {
	if len(data) > MaxRecordSize {
		return nil, fmt.Errorf("%w: %w", ErrBadRecord, ErrTooLarge)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var rec release.Record
	if err := dec.Decode(&rec); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadRecord, err)
	}
	if dec.More() {
		return nil, fmt.Errorf("%w: trailing data", ErrBadRecord)
	}
	if _, err := semver.Parse(rec.Version); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadRecord, err)
	}
	if !fileRE.MatchString(rec.Product) {
		return nil, fmt.Errorf("%w: product %q", ErrBadRecord, rec.Product)
	}
	for _, a := range rec.Artifacts {
		if err := validArtifact(a); err != nil {
			return nil, fmt.Errorf("%w: %w", ErrBadRecord, err)
		}
	}
	return &rec, nil
}

func validArtifact(a release.Artifact) error {
	if !fileRE.MatchString(a.Name) {
		return fmt.Errorf("artifact name %q", a.Name)
	}
	if a.URL != "" && a.URL != a.Name {
		return fmt.Errorf("artifact %s: url %q must be the file name", a.Name, a.URL)
	}
	if a.Size < 0 || !sha256RE.MatchString(a.SHA256) {
		return fmt.Errorf("artifact %s: bad size or sha256", a.Name)
	}
	for kind, f := range a.Signatures {
		if !fileRE.MatchString(f) {
			return fmt.Errorf("artifact %s: %s signature file %q", a.Name, kind, f)
		}
	}
	return nil
}

// Universal is the arch of a macOS universal build (amd64 + arm64).
const Universal = "universal"

// Archs lists the GOARCH values an artifact of os/arch runs on.
func Archs(os, arch string) []string {
	if os == "darwin" && arch == Universal {
		return []string{"amd64", "arm64"}
	}
	return []string{arch}
}

// ArchMatches reports whether an artifact of os/arch runs on goos/goarch.
func ArchMatches(os, arch, goos, goarch string) bool {
	if os != goos {
		return false
	}
	for _, a := range Archs(os, arch) {
		if a == goarch {
			return true
		}
	}
	return false
}

// Installable reports whether the artifact is something a machine
// installs (it has an OS; the checksums file has none).
func Installable(a release.Artifact) bool { return a.OS != "" && a.Arch != "" }

// Verifier checks a minisign signature (.minisig text) over data; the
// signing/minisign package provides the implementation.
type Verifier interface {
	Verify(ctx context.Context, data io.Reader, minisig []byte) error
}

// Signature reads one signature file of an artifact ("minisign", "tauri",
// "cosign", "sigstore"); nil, nil when the record names none.
func Signature(ctx context.Context, st storage.Store, prefix string, rec *release.Record, a release.Artifact, kind string) ([]byte, error) {
	f, ok := a.Signatures[kind]
	if !ok {
		return nil, nil
	}
	data, _, err := ReadLimited(ctx, st, release.Key(prefix, rec.Product, rec.Version, f), MaxSignatureSize)
	return data, err
}

// Check verifies a published release: every installable artifact exists
// with the recorded size and sha256 and carries a minisign signature that
// v (or, for a ByProduct, the product's own verifier) accepts. Every
// artifact is checked; the errors are joined.
func Check(ctx context.Context, st storage.Store, prefix string, rec *release.Record, v Verifier) error {
	if pv, ok := v.(productVerifier); ok {
		v = pv.For(rec.Product)
	}
	if v == nil {
		return fmt.Errorf("%s %s: no trusted release key", rec.Product, rec.Version)
	}
	var errs []error
	for _, a := range rec.Artifacts {
		if !Installable(a) {
			continue
		}
		if err := checkArtifact(ctx, st, prefix, rec, a, v); err != nil {
			errs = append(errs, fmt.Errorf("%s %s %s: %w", rec.Product, rec.Version, a.Name, err))
		}
	}
	return errors.Join(errs...)
}

func checkArtifact(ctx context.Context, st storage.Store, prefix string, rec *release.Record, a release.Artifact, v Verifier) error {
	sig, err := Signature(ctx, st, prefix, rec, a, "minisign")
	if err != nil {
		return err
	}
	if sig == nil {
		return ErrUnsigned
	}
	rc, _, err := st.Get(ctx, release.Key(prefix, rec.Product, rec.Version, a.Name))
	if err != nil {
		return err
	}
	defer rc.Close()
	h := sha256.New()
	cr := &countingReader{r: io.LimitReader(rc, a.Size+1)}
	if err := v.Verify(ctx, io.TeeReader(cr, h), sig); err != nil {
		return fmt.Errorf("%w: %w", signing.ErrBadSignature, err)
	}
	if _, err := io.Copy(h, cr); err != nil {
		return err
	}
	if cr.n != a.Size || hex.EncodeToString(h.Sum(nil)) != a.SHA256 {
		return fmt.Errorf("%w: size %d sha256 %x", ErrMismatch, cr.n, h.Sum(nil))
	}
	// A signature made for another version must not be relabelled
	// (the downgrade Tauri's signed version rule exists for).
	if v, ok := SignedVersion(sig); ok && v != rec.Version {
		return fmt.Errorf("%w: signed for version %s, published as %s", signing.ErrBadSignature, v, rec.Version)
	}
	return nil
}

type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}
