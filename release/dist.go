package release

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/slipwayhq/slipway/signing"
)

// Size limits for the files GoReleaser writes into dist/. Real files are far
// smaller (artifacts.json of this project is ~10 KiB).
const (
	maxArtifactsJSON = 8 << 20
	maxMetadataJSON  = 64 << 10
	maxChecksumsFile = 1 << 20
	maxArtifacts     = 10000
)

// ErrBadDist is returned (wrapped) when dist/ is missing, malformed or
// inconsistent (a checksum that does not match the file, a path that leaves
// dist/...).
var ErrBadDist = errors.New("invalid GoReleaser dist directory")

// Metadata is dist/metadata.json (SPEC §6.2).
type Metadata struct {
	ProjectName string    `json:"project_name"`
	Tag         string    `json:"tag"`
	PreviousTag string    `json:"previous_tag"`
	Version     string    `json:"version"`
	Commit      string    `json:"commit"`
	Date        time.Time `json:"date"`
	Runtime     struct {
		Goos   string `json:"goos"`
		Goarch string `json:"goarch"`
	} `json:"runtime"`
}

// DistArtifact is one element of dist/artifacts.json (SPEC §6.3). Only the
// fields Slipway uses are decoded; unknown fields are ignored because every
// GoReleaser release adds some.
type DistArtifact struct {
	Name   string    `json:"name"`
	Path   string    `json:"path"`
	Goos   string    `json:"goos,omitempty"`
	Goarch string    `json:"goarch,omitempty"`
	Target string    `json:"target,omitempty"`
	Type   string    `json:"type"`
	Extra  DistExtra `json:"extra"`
}

// DistExtra holds the capitalised extra keys Slipway reads.
type DistExtra struct {
	ID       string   `json:"ID,omitempty"`
	Binary   string   `json:"Binary,omitempty"`
	Binaries []string `json:"Binaries,omitempty"`
	Format   string   `json:"Format,omitempty"`
	Checksum string   `json:"Checksum,omitempty"` // "sha256:<hex>"
}

// Artifact types (the stable `type` strings, never internal_type).
const (
	TypeArchive      = "Archive"
	TypeChecksum     = "Checksum"
	TypeLinuxPackage = "Linux Package" // nfpms: .deb, .rpm, .apk
)

// published reports whether Slipway publishes artifacts of this type.
func published(typ string) bool {
	return typ == TypeArchive || typ == TypeChecksum || typ == TypeLinuxPackage
}

// packageFormats are the nfpm formats Slipway publishes.
var packageFormats = map[string]bool{"deb": true, "rpm": true, "apk": true}

// Dist is a parsed GoReleaser dist directory.
type Dist struct {
	Dir       string
	Metadata  Metadata
	Artifacts []DistArtifact
	// Checksums maps a file name to its lower-case sha256 from the
	// checksums file; empty when GoReleaser wrote none.
	Checksums map[string]string
}

var (
	versionRe = regexp.MustCompile(`^[0-9]+\.[0-9]+\.[0-9]+(-[0-9A-Za-z.-]+)?(\+[0-9A-Za-z.-]+)?$`)
	commitRe  = regexp.MustCompile(`^[0-9a-f]{40}([0-9a-f]{24})?$`)
	nameRe    = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._+-]{0,199}$`)
	goosArch  = map[string]bool{"linux": true, "darwin": true, "windows": true, "freebsd": true, "amd64": true, "arm64": true, "386": true, "arm": true, "riscv64": true, "all": true}
)

// ReadDist reads and validates dir/metadata.json and dir/artifacts.json, and
// the checksums file when there is one.
func ReadDist(dir string) (*Dist, error) {
	d := &Dist{Dir: dir}
	b, err := readLimited(filepath.Join(dir, "metadata.json"), maxMetadataJSON)
	if err != nil {
		return nil, err
	}
	if err := decodeStrict(b, &d.Metadata); err != nil {
		return nil, fmt.Errorf("%w: metadata.json: %w", ErrBadDist, err)
	}
	if err := d.Metadata.validate(); err != nil {
		return nil, fmt.Errorf("%w: metadata.json: %w", ErrBadDist, err)
	}
	if b, err = readLimited(filepath.Join(dir, "artifacts.json"), maxArtifactsJSON); err != nil {
		return nil, err
	}
	if d.Artifacts, err = ParseArtifacts(b); err != nil {
		return nil, err
	}
	for _, a := range d.Artifacts {
		if a.Type != TypeChecksum {
			continue
		}
		if d.Checksums != nil {
			return nil, fmt.Errorf("%w: more than one checksums file", ErrBadDist)
		}
		if d.Checksums, err = readChecksums(filepath.Join(dir, a.Name)); err != nil {
			return nil, err
		}
	}
	return d, nil
}

func (m *Metadata) validate() error {
	switch {
	case !versionRe.MatchString(m.Version) || len(m.Version) > 128:
		return fmt.Errorf("version %q is not SemVer", m.Version)
	case !commitRe.MatchString(m.Commit):
		return fmt.Errorf("commit %q is not a full git hash (does the repository have a commit and a remote?)", m.Commit)
	case m.Date.IsZero():
		return errors.New("missing date")
	case m.ProjectName == "" || !nameRe.MatchString(m.ProjectName):
		return fmt.Errorf("bad project_name %q", m.ProjectName)
	}
	return nil
}

// ParseArtifacts decodes and validates the content of artifacts.json.
func ParseArtifacts(b []byte) ([]DistArtifact, error) {
	if len(b) > maxArtifactsJSON {
		return nil, fmt.Errorf("%w: artifacts.json larger than %d bytes", ErrBadDist, maxArtifactsJSON)
	}
	var list []DistArtifact
	if err := decodeStrict(b, &list); err != nil {
		return nil, fmt.Errorf("%w: artifacts.json: %w", ErrBadDist, err)
	}
	if list == nil {
		return nil, fmt.Errorf("%w: artifacts.json: not an array", ErrBadDist)
	}
	if len(list) > maxArtifacts {
		return nil, fmt.Errorf("%w: artifacts.json: %d artifacts (max %d)", ErrBadDist, len(list), maxArtifacts)
	}
	for i, a := range list {
		if err := a.validate(); err != nil {
			return nil, fmt.Errorf("%w: artifacts.json[%d]: %w", ErrBadDist, i, err)
		}
	}
	return list, nil
}

func (a *DistArtifact) validate() error {
	if a.Type == "" {
		return errors.New("missing type")
	}
	switch a.Type {
	case typeSBOM, typeProvenance, typeInstaller, typeImage:
		return fmt.Errorf("type %q is Slipway's own, not GoReleaser's", a.Type)
	}
	if !published(a.Type) {
		return nil // not published by Slipway; only loosely checked
	}
	// Published files must be plain names at the top of dist/.
	if !nameRe.MatchString(a.Name) || strings.Contains(a.Name, "..") {
		return fmt.Errorf("bad file name %q", a.Name)
	}
	if p := filepath.ToSlash(a.Path); filepath.IsAbs(a.Path) || strings.Contains(p, "..") || !strings.HasSuffix(p, "/"+a.Name) && p != a.Name {
		return fmt.Errorf("path %q does not name %q inside dist", a.Path, a.Name)
	}
	if a.Type == TypeChecksum {
		return nil
	}
	if !goosArch[a.Goos] || !goosArch[a.Goarch] {
		return fmt.Errorf("%s: unsupported os/arch %q/%q", a.Name, a.Goos, a.Goarch)
	}
	if a.Extra.ID == "" || !nameRe.MatchString(a.Extra.ID) {
		return fmt.Errorf("%s: bad archive ID %q", a.Name, a.Extra.ID)
	}
	if a.Extra.Format == "" || !nameRe.MatchString(a.Extra.Format) {
		return fmt.Errorf("%s: bad format %q", a.Name, a.Extra.Format)
	}
	if a.Type == TypeLinuxPackage && (!packageFormats[a.Extra.Format] || a.Goos != "linux" || !strings.HasSuffix(a.Name, "."+a.Extra.Format)) {
		return fmt.Errorf("%s: unsupported Linux package %s for %s", a.Name, a.Extra.Format, a.Goos)
	}
	if c := a.Extra.Checksum; c != "" {
		if _, err := parseSHA256(strings.TrimPrefix(c, "sha256:")); err != nil || !strings.HasPrefix(c, "sha256:") {
			return fmt.Errorf("%s: checksum %q is not sha256:<hex>", a.Name, c)
		}
	}
	return nil
}

// readChecksums parses a GoReleaser checksums file: "<hex>  <name>\n" lines
// (SPEC §6.1). Only sha256 is accepted.
func readChecksums(path string) (map[string]string, error) {
	b, err := readLimited(path, maxChecksumsFile)
	if err != nil {
		return nil, err
	}
	return ParseChecksums(b)
}

// ParseChecksums decodes a sha256 checksums file.
func ParseChecksums(b []byte) (map[string]string, error) {
	if len(b) > maxChecksumsFile {
		return nil, fmt.Errorf("%w: checksums file larger than %d bytes", ErrBadDist, maxChecksumsFile)
	}
	if len(b) > 0 && b[len(b)-1] != '\n' {
		return nil, fmt.Errorf("%w: checksums file is truncated (no final newline)", ErrBadDist)
	}
	out := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for n := 1; sc.Scan(); n++ {
		sum, name, ok := strings.Cut(sc.Text(), "  ")
		if _, err := parseSHA256(sum); !ok || err != nil || !nameRe.MatchString(name) {
			return nil, fmt.Errorf("%w: checksums file line %d is not \"<sha256>  <name>\"", ErrBadDist, n)
		}
		if _, dup := out[name]; dup {
			return nil, fmt.Errorf("%w: checksums file lists %s twice", ErrBadDist, name)
		}
		out[name] = sum
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%w: checksums file: %w", ErrBadDist, err)
	}
	return out, nil
}

func parseSHA256(s string) ([]byte, error) {
	if len(s) != 64 || strings.ToLower(s) != s {
		return nil, errors.New("not 64 lower-case hex digits")
	}
	return hex.DecodeString(s)
}

// decodeStrict decodes exactly one JSON value with nothing after it.
func decodeStrict(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	if err := dec.Decode(v); err != nil {
		return err
	}
	if _, err := dec.Token(); err != io.EOF {
		return errors.New("trailing data after JSON value")
	}
	return nil
}

// readLimited reads a whole file, refusing files over max bytes.
func readLimited(path string, max int64) ([]byte, error) {
	b, err := signing.ReadFileLimited(path, max)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadDist, err)
	}
	return b, nil
}
