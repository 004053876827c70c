package release

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"time"

	"github.com/slipwayhq/slipway/signing"
)

// FileStatus is what happened (or would happen) to one published object.
type FileStatus string

// File statuses shown in the report.
const (
	StatusPlanned   FileStatus = "planned"   // to be uploaded (dry run: would be)
	StatusUploaded  FileStatus = "uploaded"  // written by this run
	StatusUnchanged FileStatus = "unchanged" // already published with the same content
	StatusConflict  FileStatus = "conflict"  // published with different bytes: refused
	StatusFailed    FileStatus = "failed"    // the upload failed
)

// Signature kinds used in Record.Artifacts[].Signatures, with the file
// extension each one has next to the artifact.
var sigKinds = []struct{ kind, ext string }{
	{"cosign", signing.CosignSigExt},
	{"sigstore", signing.CosignBundleExt},
	{"minisign", signing.MinisigExt},
	{"tauri", signing.TauriSigExt},
}

// backendKinds lists the signature kinds each artifact signer writes.
var backendKinds = map[string][]string{
	"cosign":   {"cosign", "sigstore"},
	"minisign": {"minisign", "tauri"},
}

// sigExt returns the extension of a signature kind.
func sigExt(kind string) string {
	for _, k := range sigKinds {
		if k.kind == kind {
			return k.ext
		}
	}
	return ""
}

// ProductPlan is everything published for one product and version.
type ProductPlan struct {
	Product string
	Record  Record
	Files   []*PlanFile
	// Done: release.json is already published with this content.
	Done bool
	// RecordStatus is the status of release.json.
	RecordStatus FileStatus
	// Missing counts the objects of a published release (release.json
	// present) that were not in the store; they are uploaded again.
	Missing int
}

// PlanFile is one artifact (archive or checksums file) and its signatures.
type PlanFile struct {
	Artifact *Artifact // points into ProductPlan.Record.Artifacts
	Path     string    // local file
	Key      string    // storage key of the artifact
	Status   FileStatus
	// SigStatus per signature kind; a signature that already exists is
	// kept (signatures are not deterministic, so they are never compared).
	SigStatus map[string]FileStatus
	// Provided: the file came with its own minisign/Tauri signature
	// (external artifacts), which is published instead of a new one.
	Provided bool
	// replace lists signature kinds already in the store that are written
	// again to stay consistent with their backend's other files.
	replace []string
}

// needsSigning reports whether any signature of the file must be written.
func (f *PlanFile) needsSigning() bool {
	if f.Status == StatusPlanned {
		return true
	}
	for _, s := range f.SigStatus {
		if s == StatusPlanned {
			return true
		}
	}
	return false
}

// productOf maps an archive to its product: the archive ID (this project's
// .goreleaser.yaml uses the ids "agent" and "desktop"), or the project name
// for GoReleaser's unnamed "default" archive.
func productOf(a DistArtifact, m Metadata) string {
	if a.Extra.ID == "" || a.Extra.ID == "default" {
		return m.ProjectName
	}
	return a.Extra.ID
}

// planDist turns a dist/ into one plan per product. The shared checksums
// file is attached to every product's record (it lists every archive of the
// build), so each release directory is self-contained.
func planDist(ctx context.Context, d *Dist, prefix string, kinds []string) ([]*ProductPlan, error) {
	byProduct := map[string]*ProductPlan{}
	generated := map[string]bool{} // files of Slipway's own steps, not in the checksums file
	var checksums []DistArtifact
	for _, a := range d.Artifacts {
		switch a.Type {
		case TypeChecksum:
			checksums = append(checksums, a)
		case TypeArchive, TypeLinuxPackage, typeInstaller, typeImage:
			if a.Type == typeInstaller || a.Type == typeImage {
				generated[a.Name] = true
			}
			p := productOf(a, d.Metadata)
			pp := byProduct[p]
			if pp == nil {
				pp = &ProductPlan{Product: p, Record: Record{Product: p, Version: d.Metadata.Version, Commit: d.Metadata.Commit, Date: d.Metadata.Date.UTC()}}
				byProduct[p] = pp
			}
			pp.Record.Artifacts = append(pp.Record.Artifacts, Artifact{Name: a.Name, OS: a.Goos, Arch: a.Goarch, Format: a.Extra.Format})
		case typeSBOM, typeProvenance:
			generated[a.Name] = true
			// Written by the attest step after the archives and packages
			// of the same product, so the plan exists already.
			if pp := byProduct[productOf(a, d.Metadata)]; pp != nil {
				pp.Record.Artifacts = append(pp.Record.Artifacts, Artifact{Name: a.Name, Format: a.Extra.Format})
			}
		}
	}
	if len(byProduct) == 0 {
		return nil, fmt.Errorf("%w: no archives or packages in artifacts.json", ErrBadDist)
	}
	var plans []*ProductPlan
	for _, pp := range byProduct {
		for _, c := range checksums {
			pp.Record.Artifacts = append(pp.Record.Artifacts, Artifact{Name: c.Name, Format: "checksums"})
		}
		if err := pp.fill(ctx, d.Dir, prefix, kinds, d.Checksums, generated); err != nil {
			return nil, err
		}
		plans = append(plans, pp)
	}
	sort.Slice(plans, func(i, j int) bool { return plans[i].Product < plans[j].Product })
	return plans, nil
}

// fill hashes every local file, cross-checks it against the checksums file
// and derives keys and signature names.
func (pp *ProductPlan) fill(ctx context.Context, dir, prefix string, kinds []string, sums map[string]string, generated map[string]bool) error {
	if !nameRe.MatchString(pp.Product) || !versionRe.MatchString(pp.Record.Version) {
		return fmt.Errorf("%w: bad product %q or version %q", ErrBadDist, pp.Product, pp.Record.Version)
	}
	sort.SliceStable(pp.Record.Artifacts, func(i, j int) bool { return pp.Record.Artifacts[i].Name < pp.Record.Artifacts[j].Name })
	for i := range pp.Record.Artifacts {
		a := &pp.Record.Artifacts[i]
		path := filepath.Join(dir, a.Name)
		size, sum, err := hashFile(ctx, path)
		if err != nil {
			return fmt.Errorf("%w: %w", ErrBadDist, err)
		}
		// The checksums file lists GoReleaser's files; installers, SBOMs
		// and provenance come later (and are signed like every file).
		if want, ok := sums[a.Name]; a.Format != "checksums" && !generated[a.Name] && sums != nil && (!ok || want != sum) {
			return fmt.Errorf("%w: %s: sha256 %s does not match the checksums file", ErrBadDist, a.Name, sum)
		}
		a.Size, a.SHA256, a.URL = size, sum, a.Name
		f := &PlanFile{Artifact: a, Path: path, Key: Key(prefix, pp.Product, pp.Record.Version, a.Name), Status: StatusPlanned, SigStatus: map[string]FileStatus{}}
		if len(kinds) > 0 {
			a.Signatures = map[string]string{}
		}
		for _, k := range kinds {
			a.Signatures[k] = a.Name + sigExt(k)
			f.SigStatus[k] = StatusPlanned
		}
		pp.Files = append(pp.Files, f)
	}
	return nil
}

// hashFile returns the size and lower-case hex sha256 of a file.
func hashFile(ctx context.Context, path string) (int64, string, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, "", err
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, signing.ContextReader(ctx, f))
	if err != nil {
		return 0, "", fmt.Errorf("hash %s: %w", path, err)
	}
	return n, hex.EncodeToString(h.Sum(nil)), nil
}

// targetLabel is "linux/amd64", or the format for files without a target.
func (a *Artifact) targetLabel() string {
	if a.OS == "" {
		return a.Format
	}
	return a.OS + "/" + a.Arch
}

// sameRecord reports how a published record differs from the planned one
// (ignoring the date and signature files, which differ between runs).
func sameRecord(old, want *Record) []string {
	var diffs []string
	if old.Product != want.Product || old.Version != want.Version {
		diffs = append(diffs, fmt.Sprintf("record is for %s %s", old.Product, old.Version))
	}
	if old.Commit != want.Commit {
		diffs = append(diffs, fmt.Sprintf("published from commit %s, this build is %s", old.Commit, want.Commit))
	}
	oldBy := map[string]Artifact{}
	for _, a := range old.Artifacts {
		oldBy[a.Name] = a
	}
	for _, a := range want.Artifacts {
		o, ok := oldBy[a.Name]
		switch {
		case !ok:
			diffs = append(diffs, a.Name+": not in the published release")
		case o.SHA256 != a.SHA256 || o.Size != a.Size:
			diffs = append(diffs, fmt.Sprintf("%s: published sha256 %s, this build %s", a.Name, o.SHA256, a.SHA256))
		}
		delete(oldBy, a.Name)
	}
	for name := range oldBy {
		diffs = append(diffs, name+": published but not in this build")
	}
	sort.Strings(diffs)
	return diffs
}

// elapsed formats a duration for progress lines.
func elapsed(d time.Duration) string {
	if d < time.Second {
		return fmt.Sprintf("%dms", d.Milliseconds())
	}
	return d.Round(100 * time.Millisecond).String()
}
