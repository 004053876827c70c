package release

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/slipwayhq/slipway/signing"
)

// maxTauriSig bounds an existing Tauri .sig file.
const maxTauriSig = 8 << 10

// ExternalOptions publishes prebuilt artifacts of another product (for
// example Tauri bundles built on the company's own runners).
type ExternalOptions struct {
	// Options: Store, Prefix, Version (required), Signers, DryRun, Out...
	// Build options are ignored.
	Options
	// Product is the product name in every key. Required.
	Product string
	// Files are paths or globs, each optionally prefixed with the target
	// its files are for, "TARGET=GLOB" (see ParseFileSpec), for names that
	// do not say it (Tauri's MyApp.app.tar.gz). A file's existing Tauri
	// signature (<file>.sig) is published as is (with its .minisig form)
	// instead of a new minisign signature; the other signers (cosign) still
	// sign it.
	Files []string
}

// PublishFiles signs and publishes prebuilt files as Product at Version,
// with the same immutability, resume and release.json-last rules as Run.
func PublishFiles(ctx context.Context, eo ExternalOptions) (*Report, error) {
	o := eo.Options
	o.SkipBuild, o.Snapshot = true, false
	if err := o.setDefaults(); err != nil {
		return nil, err
	}
	version := strings.TrimPrefix(o.Version, "v")
	if version == "" || !nameRe.MatchString(eo.Product) {
		return nil, errors.New("release: --files needs --product and --version")
	}
	r := &run{opts: o, log: o.Logger, signers: o.Signers, external: true, report: &Report{Version: version, DryRun: o.DryRun}}
	files := &filesStep{product: eo.Product, version: version, globs: eo.Files}
	steps := []Step{
		keysStep{},    // the artifact signers (keys from the environment)
		files,         // expand globs, classify bundles (or take the stated target), stage them with their own signatures
		checkStep{},   // compare with what is already published; refuse conflicts
		signStep{},    // sign what is not published yet
		publishStep{}, // upload, then release.json last
	}
	r.printf("slipway release: %s %s from %d pattern(s), store %s\n", eo.Product, version, len(eo.Files), storeName(o.Store))
	err := runSteps(ctx, r, steps)
	if files.staging != "" {
		os.RemoveAll(files.staging)
	}
	r.report.fill(ctx, r)
	r.report.WriteText(r.opts.Out)
	return r.report, err
}

// filesStep plans the external files: each is copied into a staging
// directory (signatures are written there, never next to the user's files).
type filesStep struct {
	product, version string
	globs            []string
	staging          string
}

func (*filesStep) Name() string { return "files" }

func (s *filesStep) Run(ctx context.Context, r *run) error {
	inputs, err := expandFiles(s.globs)
	if err != nil {
		return err
	}
	if s.staging, err = os.MkdirTemp("", "slipway-release-"); err != nil {
		return err
	}
	pp := &ProductPlan{Product: s.product, Record: Record{Product: s.product, Version: s.version, Date: r.now().UTC()}}
	provided := map[string]bool{}
	for _, in := range inputs {
		a := in.artifact
		pp.Record.Artifacts = append(pp.Record.Artifacts, a)
		if err := copyFile(in.path, filepath.Join(s.staging, a.Name)); err != nil {
			return err
		}
		ok, err := stageTauriSig(in.path+signing.TauriSigExt, filepath.Join(s.staging, a.Name))
		if err != nil {
			return err
		}
		provided[a.Name] = ok
	}
	if err := pp.fill(ctx, s.staging, r.opts.Prefix, r.kinds, nil, nil); err != nil {
		return err
	}
	for _, f := range pp.Files {
		if f.Provided = provided[f.Artifact.Name]; f.Provided {
			if f.Artifact.Signatures == nil {
				f.Artifact.Signatures = map[string]string{}
			}
			for _, k := range []string{"minisign", "tauri"} {
				f.Artifact.Signatures[k] = f.Artifact.Name + sigExt(k)
				f.SigStatus[k] = StatusPlanned
			}
		}
	}
	r.plans = []*ProductPlan{pp}
	return nil
}

func isSignatureFile(name string) bool {
	for _, k := range sigKinds {
		if strings.HasSuffix(name, k.ext) {
			return true
		}
	}
	return false
}

// stageTauriSig copies an existing Tauri .sig next to the staged file and
// writes the .minisig it encodes. It reports whether there was one.
func stageTauriSig(src, staged string) (bool, error) {
	b, err := signing.ReadFileLimited(src, maxTauriSig)
	if errors.Is(err, os.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	text, err := base64.StdEncoding.DecodeString(strings.TrimSpace(string(b)))
	if err != nil || !strings.HasPrefix(string(text), "untrusted comment:") {
		return false, fmt.Errorf("%s is not a Tauri signature (base64 of a .minisig)", src)
	}
	if err := os.WriteFile(staged+signing.TauriSigExt, b, 0o644); err != nil {
		return false, err
	}
	return true, os.WriteFile(staged+signing.MinisigExt, text, 0o644)
}

func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}
