package release

import (
	"context"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
)

// Report is what a release did (or, for a dry run, would do).
type Report struct {
	Version  string          `json:"version,omitempty"`
	Commit   string          `json:"commit,omitempty"`
	Snapshot bool            `json:"snapshot,omitempty"`
	DryRun   bool            `json:"dry_run,omitempty"`
	Steps    []StepResult    `json:"steps"`
	Products []ProductReport `json:"products"`
	// Image is the pushed server image (--image with --image-repo).
	Image *ImageReport `json:"image,omitempty"`
}

// ImageReport is where the server image was pushed, signed with the
// release cosign key: verify with cosign verify --key cosign.pub <digest>.
type ImageReport struct {
	Tag    string `json:"tag"`    // registry/repo:version
	Digest string `json:"digest"` // registry/repo@sha256:...
}

// ProductReport is one product's release directory.
type ProductReport struct {
	Product string       `json:"product"`
	Version string       `json:"version"`
	Record  ObjectReport `json:"record"`
	// Missing counts objects of an already published release that were
	// missing from the store and uploaded again (a repair).
	Missing   int              `json:"missing,omitempty"`
	Artifacts []ArtifactReport `json:"artifacts"`
}

// ArtifactReport is one archive or checksums file and its signatures.
type ArtifactReport struct {
	ObjectReport
	Name       string                  `json:"name"`
	Target     string                  `json:"target"` // "linux/amd64", or "checksums"
	Size       int64                   `json:"size"`
	SHA256     string                  `json:"sha256"`
	Signatures map[string]ObjectReport `json:"signatures,omitempty"`
}

// ObjectReport is one stored object.
type ObjectReport struct {
	Key    string     `json:"key"`
	URL    string     `json:"url,omitempty"` // set once the object is in the store
	Status FileStatus `json:"status"`
}

// URLs lists the URL of every object in the store, release records last.
func (rep *Report) URLs() []string {
	var urls, records []string
	for _, p := range rep.Products {
		for _, a := range p.Artifacts {
			if a.URL != "" {
				urls = append(urls, a.URL)
			}
			for _, k := range sortedKeys(a.Signatures) {
				if u := a.Signatures[k].URL; u != "" {
					urls = append(urls, u)
				}
			}
		}
		if p.Record.URL != "" {
			records = append(records, p.Record.URL)
		}
	}
	return append(urls, records...)
}

// fill builds the per-product part of the report from the plans.
func (rep *Report) fill(ctx context.Context, r *run) {
	for _, pp := range r.plans {
		pr := ProductReport{Product: pp.Product, Version: pp.Record.Version, Missing: pp.Missing}
		pr.Record = r.object(ctx, Key(r.opts.Prefix, pp.Product, pp.Record.Version, RecordName), pp.RecordStatus)
		for _, f := range pp.Files {
			ar := ArtifactReport{ObjectReport: r.object(ctx, f.Key, f.Status), Name: f.Artifact.Name, Target: f.Artifact.targetLabel(), Size: f.Artifact.Size, SHA256: f.Artifact.SHA256}
			if len(f.SigStatus) > 0 {
				ar.Signatures = map[string]ObjectReport{}
			}
			for k, st := range f.SigStatus {
				ar.Signatures[k] = r.object(ctx, f.Key+sigExt(k), st)
			}
			pr.Artifacts = append(pr.Artifacts, ar)
		}
		rep.Products = append(rep.Products, pr)
	}
}

// object describes one key, with a URL when the object is in the store.
func (r *run) object(ctx context.Context, key string, st FileStatus) ObjectReport {
	o := ObjectReport{Key: key, Status: st}
	if st != StatusUploaded && st != StatusUnchanged {
		return o
	}
	if r.opts.PublicURL != "" {
		o.URL = strings.TrimSuffix(r.opts.PublicURL, "/") + "/" + key
		return o
	}
	u, err := r.opts.Store.URL(ctx, key, r.opts.URLTTL)
	if err != nil {
		r.log.Warn("no URL for object", "key", key, "error", err)
		return o
	}
	o.URL = u
	return o
}

// WriteText prints the per-target results and every published URL.
func (rep *Report) WriteText(w io.Writer) {
	for _, p := range rep.Products {
		fmt.Fprintf(w, "\n%s %s", p.Product, p.Version)
		if rep.Commit != "" {
			fmt.Fprintf(w, " (commit %s)", short(rep.Commit))
		}
		fmt.Fprintln(w)
		for _, a := range p.Artifacts {
			fmt.Fprintf(w, "  %-13s %-58s %9s  %-9s signatures: %s\n", a.Target, a.Name, humanSize(a.Size), a.Status, sigSummary(a.Signatures))
		}
		fmt.Fprintf(w, "  %-13s %-58s %9s  %s\n", "record", RecordName, "", p.Record.Status)
	}
	if rep.Image != nil {
		fmt.Fprintf(w, "\nImage (cosign-signed): %s\n  %s\n", rep.Image.Tag, rep.Image.Digest)
	}
	if urls := rep.URLs(); len(urls) > 0 {
		fmt.Fprintf(w, "\nPublished (%d objects):\n", len(urls))
		for _, u := range urls {
			fmt.Fprintf(w, "  %s\n", u)
		}
	}
}

func sigSummary(sigs map[string]ObjectReport) string {
	if len(sigs) == 0 {
		return "none"
	}
	var parts []string
	for _, k := range sortedKeys(sigs) {
		parts = append(parts, k+"="+string(sigs[k].Status))
	}
	return strings.Join(parts, " ")
}

func sortedKeys[V any](m map[string]V) []string { return slices.Sorted(maps.Keys(m)) }

func short(commit string) string {
	if len(commit) > 12 {
		return commit[:12]
	}
	return commit
}

func humanSize(n int64) string {
	switch {
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}
