package release

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/slipwayhq/slipway/storage"
)

// maxConfigSize bounds .goreleaser.yaml.
const maxConfigSize = 1 << 20

// publishedStep looks for an existing release of this exact commit before
// anything is built: when every product already has a release.json for the
// version being released and the same commit, and the working tree is
// clean, the release is complete and nothing is built, signed or written.
type publishedStep struct{}

func (publishedStep) Name() string { return "published" }

func (publishedStep) Run(ctx context.Context, r *run) error {
	if r.opts.SkipBuild || r.opts.DryRun {
		return skip("checked after reading dist/")
	}
	commit, err := git(ctx, r.opts.Dir, "rev-parse", "HEAD")
	if err != nil {
		return skip("no git commit: %v", err)
	}
	if dirty, err := git(ctx, r.opts.Dir, "status", "--porcelain", "--untracked-files=no"); err != nil || dirty != "" {
		return skip("working tree has changes")
	}
	products, err := configProducts(r.opts.Dir)
	if err != nil {
		return skip("%v", err)
	}
	if r.opts.Image {
		products = append(products, serverProduct) // not a GoReleaser archive
	}
	var plans []*ProductPlan
	for _, p := range products {
		rec, err := findRecord(ctx, r, p, commit)
		if err != nil {
			return err
		}
		if rec == nil {
			return skip("%s of commit %s not published yet", p, short(commit))
		}
		if missing, err := missingObjects(ctx, r.opts.Store, r.opts.Prefix, rec); err != nil {
			return err
		} else if len(missing) > 0 {
			return skip("%s %s is published but %d objects are missing (first: %s): building to repair", p, rec.Version, len(missing), missing[0])
		}
		plans = append(plans, donePlan(r.opts.Prefix, rec))
	}
	r.plans, r.done = plans, true
	r.report.Version, r.report.Commit = plans[0].Record.Version, commit
	return nil
}

// findRecord returns the published release.json of product for commit at
// the version being released, or nil.
func findRecord(ctx context.Context, r *run, product, commit string) (*Record, error) {
	var versions []string
	switch {
	case r.opts.Version != "":
		versions = []string{strings.TrimPrefix(r.opts.Version, "v")}
	case r.opts.Snapshot:
		// Snapshot versions end in -snapshot.g<short commit> (.goreleaser.yaml).
		list, err := r.opts.Store.List(ctx, ProductPrefix(r.opts.Prefix, product))
		if err != nil {
			return nil, fmt.Errorf("list releases of %s: %w", product, err)
		}
		for _, o := range list {
			dir, file := filepath.Split(o.Key)
			v := filepath.Base(dir)
			if _, abbrev, ok := strings.Cut(v, "-snapshot.g"); ok && file == RecordName && len(abbrev) >= 7 && strings.HasPrefix(commit, abbrev) {
				versions = append(versions, v)
			}
		}
	default:
		tag, err := git(ctx, r.opts.Dir, "describe", "--tags", "--exact-match", "HEAD")
		if err != nil {
			return nil, nil
		}
		versions = []string{strings.TrimPrefix(tag, "v")}
	}
	for _, v := range versions {
		rec, err := GetRecord(ctx, r.opts.Store, Key(r.opts.Prefix, product, v, RecordName))
		switch {
		case errors.Is(err, storage.ErrNotFound):
		case err != nil:
			return nil, err
		case rec.Commit == commit && rec.Product == product && rec.Version == v:
			return rec, nil
		}
	}
	return nil, nil
}

// missingObjects lists the keys of a published release's artifacts and
// signatures that are not in the store.
func missingObjects(ctx context.Context, st storage.Store, prefix string, rec *Record) ([]string, error) {
	var missing []string
	for _, a := range rec.Artifacts {
		artifact := Key(prefix, rec.Product, rec.Version, a.Name)
		keys := []string{artifact}
		for _, k := range sortedKeys(a.Signatures) {
			keys = append(keys, artifact+sigExt(k)) // known kinds only, as donePlan
		}
		for _, key := range keys {
			_, err := st.Stat(ctx, key)
			switch {
			case errors.Is(err, storage.ErrNotFound):
				missing = append(missing, key)
			case err != nil:
				return nil, fmt.Errorf("stat %s: %w", key, err)
			}
		}
	}
	return missing, nil
}

// donePlan describes an already published release for the report.
func donePlan(prefix string, rec *Record) *ProductPlan {
	pp := &ProductPlan{Product: rec.Product, Record: *rec, Done: true, RecordStatus: StatusUnchanged}
	for i := range pp.Record.Artifacts {
		a := &pp.Record.Artifacts[i]
		f := &PlanFile{Artifact: a, Key: Key(prefix, rec.Product, rec.Version, a.Name), Status: StatusUnchanged, SigStatus: map[string]FileStatus{}}
		for k := range a.Signatures {
			f.SigStatus[k] = StatusUnchanged
		}
		pp.Files = append(pp.Files, f)
	}
	return pp
}

// configProducts reads the archive ids (the products) of .goreleaser.yaml.
func configProducts(dir string) ([]string, error) {
	b, err := readLimited(filepath.Join(dir, ".goreleaser.yaml"), maxConfigSize)
	if err != nil {
		return nil, err
	}
	var cfg struct {
		ProjectName string `yaml:"project_name"`
		Archives    []struct {
			ID string `yaml:"id"`
		} `yaml:"archives"`
	}
	if err := yaml.Unmarshal(b, &cfg); err != nil {
		return nil, fmt.Errorf(".goreleaser.yaml: %w", err)
	}
	var out []string
	for _, a := range cfg.Archives {
		p := a.ID
		if p == "" || p == "default" {
			p = cfg.ProjectName
		}
		if !nameRe.MatchString(p) {
			return nil, fmt.Errorf(".goreleaser.yaml: archive id %q is not a product name", p)
		}
		out = append(out, p)
	}
	if len(out) == 0 {
		return nil, errors.New(".goreleaser.yaml: no archives")
	}
	return out, nil
}

func git(ctx context.Context, dir string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, "git", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GIT_OPTIONAL_LOCKS=0")
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("git %s: %w", args[0], err)
	}
	return strings.TrimSpace(string(out)), nil
}
