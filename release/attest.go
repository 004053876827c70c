package release

import (
	"bytes"
	"context"
	"debug/buildinfo"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"time"

	"github.com/slipwayhq/slipway/signing"
	"github.com/slipwayhq/slipway/signing/cosign"
	"github.com/slipwayhq/slipway/storage"
)

// Files the attest step adds to a release (they are not GoReleaser
// artifacts, so the types are Slipway's own).
const (
	typeSBOM       = "Slipway SBOM"
	typeProvenance = "Slipway Provenance"
	// FormatSBOM and FormatProvenance are their release.json formats.
	FormatSBOM       = "sbom"
	FormatProvenance = "provenance"
	// ProvenanceExt ends the provenance file of a product:
	// slipway-<product>_<version>.intoto.jsonl, a DSSE envelope (one line)
	// of an in-toto statement with an SLSA v1 predicate.
	ProvenanceExt = ".intoto.jsonl"
	// PredicateSLSA1 is the statement's predicate type (cosign
	// verify-blob-attestation --type slsaprovenance1).
	PredicateSLSA1 = "https://slsa.dev/provenance/v1"
)

// attestStep writes an SPDX SBOM next to every archive and package (the Go
// modules of the binary inside, read from its build information) and, per
// product, an SLSA provenance statement naming every file of the release,
// signed with the release cosign key.
type attestStep struct{}

func (attestStep) Name() string { return "attest" }

func (attestStep) Run(ctx context.Context, r *run) error {
	switch {
	case r.done:
		return errAlreadyPublished
	case r.external || r.dist == nil:
		return skip("no build to describe")
	case r.opts.SkipAttest:
		return skip("--skip-attest: no SBOMs or provenance")
	case r.opts.DryRun:
		return skip("dry run: SBOMs and provenance are written when building")
	}
	signer := cosignSigner(r.signers)
	if signer == nil {
		return errors.New("provenance is signed with the release cosign key, and no cosign signer is configured")
	}
	d := r.dist
	bins, err := binaries(d)
	if err != nil {
		return err
	}
	var arts []DistArtifact
	for _, a := range d.Artifacts {
		if a.Type == TypeArchive || a.Type == TypeLinuxPackage || a.Type == typeInstaller || a.Type == typeImage {
			arts = append(arts, a)
		}
	}
	// Side by side: each SBOM hashes its artifact and reads a binary.
	sboms := make([]DistArtifact, len(arts))
	err = parallel(ctx, runtime.GOMAXPROCS(0), len(arts), func(ctx context.Context, i int) error {
		a := arts[i]
		bin := bins[a.Extra.ID+"/"+a.Goos+"/"+a.Goarch]
		if a.Type == typeImage {
			bin = bins[serverProduct+"/linux/amd64"] // both platforms' binaries have the same modules
		}
		var err error
		sboms[i], err = ensureSBOM(ctx, d, a, bin)
		return err
	})
	if err != nil {
		return err
	}
	byProduct := map[string][]DistArtifact{}
	for i, a := range arts {
		p := productOf(a, d.Metadata)
		byProduct[p] = append(byProduct[p], a, sboms[i])
	}
	products := slices.Sorted(maps.Keys(byProduct))
	cv, err := cosign.NewVerifier(signer.PublicKeyPEM())
	if err != nil {
		return err
	}
	provs := make([]DistArtifact, len(products))
	err = parallel(ctx, runtime.GOMAXPROCS(0), len(products), func(ctx context.Context, i int) error {
		var err error
		provs[i], err = writeProvenance(ctx, d, products[i], byProduct[products[i]], signer, cv, r.publishedEnvelope)
		return err
	})
	if err != nil {
		return err
	}
	d.Artifacts = append(append(d.Artifacts, sboms...), provs...)
	return nil
}

func cosignSigner(signers []signing.Backend) *cosign.Signer {
	for _, s := range signers {
		if c, ok := s.(*cosign.Signer); ok {
			return c
		}
	}
	return nil
}

// binaries maps "<build id>/<os>/<arch>" to the binary's path in dist/
// (dist/<build dir>/<binary>, the layout GoReleaser writes).
func binaries(d *Dist) (map[string]string, error) {
	out := map[string]string{}
	for _, a := range d.Artifacts {
		if a.Type != "Binary" {
			continue
		}
		dir, name := filepath.Base(filepath.Dir(a.Path)), filepath.Base(a.Path)
		if !nameRe.MatchString(dir) || !nameRe.MatchString(name) {
			return nil, fmt.Errorf("%w: binary path %q", ErrBadDist, a.Path)
		}
		out[a.Extra.ID+"/"+a.Goos+"/"+a.Goarch] = filepath.Join(d.Dir, dir, name)
	}
	return out, nil
}

// ensureSBOM writes the SBOM of a, or keeps the one an earlier run wrote
// when it describes these bytes (publishing a copied dist/ with
// --skip-build, where the binaries are not at hand).
func ensureSBOM(ctx context.Context, d *Dist, a DistArtifact, bin string) (DistArtifact, error) {
	name := a.Name + SBOMExt
	art := DistArtifact{Name: name, Path: name, Type: typeSBOM, Extra: DistExtra{ID: a.Extra.ID, Format: FormatSBOM}}
	_, sum, err := hashFile(ctx, filepath.Join(d.Dir, a.Name))
	if err != nil {
		return DistArtifact{}, fmt.Errorf("%w: %w", ErrBadDist, err)
	}
	if old, err := signing.ReadFileLimited(filepath.Join(d.Dir, name), maxSBOM); err == nil {
		if doc, err := ParseSBOM(old); err == nil && doc.Packages[0].Name == a.Name &&
			len(doc.Packages[0].Checksums) == 1 && doc.Packages[0].Checksums[0].ChecksumValue == sum {
			return art, nil
		}
	}
	if bin == "" {
		return DistArtifact{}, fmt.Errorf("%w: %s: no binary of build %q for %s/%s", ErrBadDist, a.Name, a.Extra.ID, a.Goos, a.Goarch)
	}
	bi, err := buildinfo.ReadFile(bin)
	if err != nil {
		return DistArtifact{}, fmt.Errorf("%w: %s: build information: %w", ErrBadDist, bin, err)
	}
	doc, err := sbomFor(a.Name, sum, a.Extra.Format, bi, d.Metadata.Date)
	if err != nil {
		return DistArtifact{}, err
	}
	if err := signing.WriteFileAtomic(filepath.Join(d.Dir, name), doc, 0o644); err != nil {
		return DistArtifact{}, err
	}
	return art, nil
}

// Statement is an in-toto v1 statement.
type Statement struct {
	Type          string          `json:"_type"`
	Subject       []Subject       `json:"subject"`
	PredicateType string          `json:"predicateType"`
	Predicate     json.RawMessage `json:"predicate"`
}

// Subject is one file the statement is about.
type Subject struct {
	Name   string            `json:"name"`
	Digest map[string]string `json:"digest"`
}

// provenance builds the SLSA v1 statement of a product's files.
func provenance(ctx context.Context, d *Dist, product string, files []DistArtifact) ([]byte, error) {
	st := Statement{Type: "https://in-toto.io/Statement/v1", PredicateType: PredicateSLSA1}
	for _, f := range files {
		_, sum, err := hashFile(ctx, filepath.Join(d.Dir, f.Name))
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrBadDist, err)
		}
		st.Subject = append(st.Subject, Subject{Name: f.Name, Digest: map[string]string{"sha256": sum}})
	}
	sort.Slice(st.Subject, func(i, j int) bool { return st.Subject[i].Name < st.Subject[j].Name })
	m := d.Metadata
	pred := map[string]any{
		"buildDefinition": map[string]any{
			"buildType": "https://github.com/slipwayhq/slipway/blob/main/docs/release.md#provenance",
			"externalParameters": map[string]any{
				"product": product, "version": m.Version, "tag": m.Tag, "config": ".goreleaser.yaml",
			},
			"resolvedDependencies": []any{map[string]any{
				"uri": "git+" + m.ProjectName + "@" + m.Commit, "digest": map[string]string{"gitCommit": m.Commit},
			}},
		},
		"runDetails": map[string]any{
			"builder":  map[string]any{"id": "https://github.com/slipwayhq/slipway/tree/main/release"},
			"metadata": map[string]any{"invocationId": product + "@" + m.Version, "startedOn": m.Date.UTC().Format(time.RFC3339)},
		},
	}
	var err error
	if st.Predicate, err = json.Marshal(pred); err != nil {
		return nil, err
	}
	return json.Marshal(st)
}

// envelopeSource returns an already published copy of a provenance file
// (product, file name), or nil when there is none.
type envelopeSource func(ctx context.Context, product, version, name string) ([]byte, error)

// writeProvenance signs the product's statement into its .intoto.jsonl. An
// envelope that carries the same statement under this key is kept: the one
// already in dist/, else the one already published (signatures differ
// between runs, and the published file must not: a release re-run on a
// cached build, as `dagger call release` does, would otherwise conflict
// with itself).
func writeProvenance(ctx context.Context, d *Dist, product string, files []DistArtifact, s *cosign.Signer, v *cosign.Verifier, published envelopeSource) (DistArtifact, error) {
	payload, err := provenance(ctx, d, product, files)
	if err != nil {
		return DistArtifact{}, err
	}
	name := fmt.Sprintf("%s-%s_%s%s", d.Metadata.ProjectName, product, d.Metadata.Version, ProvenanceExt)
	path := filepath.Join(d.Dir, name)
	art := DistArtifact{Name: name, Path: name, Type: typeProvenance, Extra: DistExtra{ID: product, Format: FormatProvenance}}
	same := func(env []byte) bool {
		typ, got, err := v.VerifyDSSE(bytes.TrimSpace(env))
		return err == nil && typ == cosign.InTotoPayloadType && bytes.Equal(got, payload)
	}
	if old, err := signing.ReadFileLimited(path, cosign.MaxEnvelope); err == nil {
		if same(old) {
			return art, nil
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		return DistArtifact{}, err
	}
	if published != nil {
		old, err := published(ctx, product, d.Metadata.Version, name)
		if err != nil {
			return DistArtifact{}, err
		}
		if old != nil && same(old) {
			return art, signing.WriteFileAtomic(path, old, 0o644)
		}
	}
	env, err := s.SignDSSE(ctx, cosign.InTotoPayloadType, payload)
	if err != nil {
		return DistArtifact{}, err
	}
	if err := signing.WriteFileAtomic(path, append(env, '\n'), 0o644); err != nil {
		return DistArtifact{}, err
	}
	return art, nil
}

// publishedEnvelope reads a provenance file of this version from the store,
// if one is published there (nil otherwise, and for dry runs and builds
// without a store).
func (r *run) publishedEnvelope(ctx context.Context, product, version, name string) ([]byte, error) {
	if r.opts.Store == nil {
		return nil, nil
	}
	rc, _, err := r.opts.Store.Get(ctx, Key(r.opts.Prefix, product, version, name))
	if errors.Is(err, storage.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read the published %s: %w", name, err)
	}
	defer rc.Close()
	b, err := io.ReadAll(io.LimitReader(rc, cosign.MaxEnvelope+1))
	if err != nil {
		return nil, fmt.Errorf("read the published %s: %w", name, err)
	}
	if len(b) > cosign.MaxEnvelope {
		return nil, nil // not ours to reuse; the conflict check reports it
	}
	return b, nil
}
