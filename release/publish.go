package release

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/slipwayhq/slipway/storage"
)

// maxRecordSize bounds a release.json read back from the store.
const maxRecordSize = 1 << 20

// checkStep plans the release from dist/ and compares it with what the store
// already holds: identical files are kept, missing ones planned, and any
// file published with different bytes refuses the whole release before
// anything is written.
type checkStep struct{}

func (checkStep) Name() string { return "check" }

func (checkStep) Run(ctx context.Context, r *run) error {
	if r.done {
		return errAlreadyPublished
	}
	if r.plans == nil {
		if r.dist == nil {
			return skip("nothing to plan")
		}
		plans, err := planDist(ctx, r.dist, r.opts.Prefix, r.kinds)
		if err != nil {
			return err
		}
		r.plans = plans
	}
	var conflicts []string
	for _, pp := range r.plans {
		c, err := checkProduct(ctx, r.opts.Store, r.opts.Prefix, pp)
		if err != nil {
			return err
		}
		conflicts = append(conflicts, c...)
	}
	if len(conflicts) > 0 {
		return fmt.Errorf("%w (nothing was written):\n    %s", ErrConflict, strings.Join(conflicts, "\n    "))
	}
	for _, pp := range r.plans {
		if pp.Missing > 0 {
			r.printf("  %s %s is published but %d of its objects are missing from the store: uploading them again\n",
				pp.Product, pp.Record.Version, pp.Missing)
		}
	}
	return nil
}

// checkProduct sets the status of every object of one product's release and
// returns the conflicts.
func checkProduct(ctx context.Context, st storage.Store, prefix string, pp *ProductPlan) ([]string, error) {
	version := pp.Record.Version
	old, err := GetRecord(ctx, st, Key(prefix, pp.Product, version, RecordName))
	switch {
	case errors.Is(err, storage.ErrNotFound):
	case err != nil:
		return nil, err
	default:
		if diffs := sameRecord(old, &pp.Record); len(diffs) > 0 {
			for i, d := range diffs {
				diffs[i] = pp.Product + " " + version + ": " + d
			}
			return diffs, nil
		}
		pp.RecordStatus = StatusUnchanged
		return checkPublished(ctx, st, pp)
	}
	pp.RecordStatus = StatusPlanned
	var conflicts []string
	for _, f := range pp.Files {
		if f.Status, err = checkObject(ctx, st, f.Key, f.Artifact.Size, f.Artifact.SHA256); err != nil {
			return nil, err
		}
		if f.Status == StatusConflict {
			conflicts = append(conflicts, fmt.Sprintf("%s %s: %s is already published with different bytes", pp.Product, version, f.Artifact.Name))
		}
		for k := range f.SigStatus {
			_, err := st.Stat(ctx, f.Key+sigExt(k))
			switch {
			case err == nil:
				f.SigStatus[k] = StatusUnchanged
			case !errors.Is(err, storage.ErrNotFound):
				return nil, fmt.Errorf("stat %s: %w", f.Key+sigExt(k), err)
			}
		}
		f.completeGroups()
	}
	return conflicts, nil
}

// checkPublished checks that every object named by a published release.json
// (identical to this build's, see sameRecord) is still in the store. Missing
// artifacts and signatures are planned again: this build's bytes are the
// recorded ones, so uploading them repairs the release without touching
// release.json. An object present with another size is a conflict. With
// nothing missing the product is done.
func checkPublished(ctx context.Context, st storage.Store, pp *ProductPlan) ([]string, error) {
	var conflicts []string
	missing := 0
	for _, f := range pp.Files {
		info, err := st.Stat(ctx, f.Key)
		switch {
		case errors.Is(err, storage.ErrNotFound):
			f.Status = StatusPlanned
			missing++
		case err != nil:
			return nil, fmt.Errorf("stat %s: %w", f.Key, err)
		case info.Size != f.Artifact.Size:
			f.Status = StatusConflict
			conflicts = append(conflicts, fmt.Sprintf("%s %s: %s in the store has %d bytes, release.json says %d",
				pp.Product, pp.Record.Version, f.Artifact.Name, info.Size, f.Artifact.Size))
		default:
			f.Status = StatusUnchanged
		}
		for k := range f.SigStatus {
			_, err := st.Stat(ctx, f.Key+sigExt(k))
			switch {
			case errors.Is(err, storage.ErrNotFound):
				f.SigStatus[k] = StatusPlanned
				missing++
			case err != nil:
				return nil, fmt.Errorf("stat %s: %w", f.Key+sigExt(k), err)
			default:
				f.SigStatus[k] = StatusUnchanged
			}
		}
		f.completeGroups()
	}
	pp.Missing = missing
	pp.Done = missing == 0 && len(conflicts) == 0
	return conflicts, nil
}

// completeGroups decides which existing signature objects are written
// again before release.json exists (the release is not published yet, so
// they may be replaced):
//   - all of them when the artifact itself is missing: a signature left by
//     an interrupted run may belong to other bytes;
//   - all of a backend's files when only some are there (.minisig and .sig,
//     .cosign.sig and .sigstore.json must come from the same signing).
//
// uploads writes a file's signatures before the file, replaced ones first,
// so a present artifact always has the signatures of the same run.
func (f *PlanFile) completeGroups() {
	for _, kinds := range backendKinds {
		var have, missing int
		for _, k := range kinds {
			switch f.SigStatus[k] {
			case StatusPlanned:
				missing++
			case StatusUnchanged:
				have++
			}
		}
		if have == 0 || (missing == 0 && f.Status != StatusPlanned) {
			continue
		}
		for _, k := range kinds {
			if f.SigStatus[k] == StatusUnchanged {
				f.SigStatus[k] = StatusPlanned
				f.replace = append(f.replace, k)
			}
		}
	}
	sort.Strings(f.replace)
}

// checkObject compares a stored object with the local size and sha256.
func checkObject(ctx context.Context, st storage.Store, key string, size int64, sum string) (FileStatus, error) {
	info, err := st.Stat(ctx, key)
	if errors.Is(err, storage.ErrNotFound) {
		return StatusPlanned, nil
	}
	if err != nil {
		return "", fmt.Errorf("stat %s: %w", key, err)
	}
	if info.Size != size {
		return StatusConflict, nil
	}
	rc, _, err := st.Get(ctx, key)
	if err != nil {
		return "", fmt.Errorf("get %s: %w", key, err)
	}
	defer rc.Close()
	h := sha256.New()
	if _, err := io.Copy(h, io.LimitReader(rc, size+1)); err != nil {
		return "", fmt.Errorf("read %s: %w", key, err)
	}
	if hex.EncodeToString(h.Sum(nil)) != sum {
		return StatusConflict, nil
	}
	return StatusUnchanged, nil
}

// GetRecord reads and decodes a published release.json (size-limited,
// strict). storage.ErrNotFound when absent.
func GetRecord(ctx context.Context, st storage.Store, key string) (*Record, error) {
	rc, _, err := st.Get(ctx, key)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	b, err := io.ReadAll(io.LimitReader(rc, maxRecordSize+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", key, err)
	}
	if len(b) > maxRecordSize {
		return nil, fmt.Errorf("%s: larger than %d bytes", key, maxRecordSize)
	}
	var rec Record
	if err := decodeStrict(b, &rec); err != nil {
		return nil, fmt.Errorf("%s: %w", key, err)
	}
	return &rec, nil
}

// signStep signs every file that has a signature still to publish, once per
// local file (the checksums file is shared by the products).
type signStep struct{}

func (signStep) Name() string { return "sign" }

func (signStep) Run(ctx context.Context, r *run) error {
	if r.plans == nil {
		return skip("nothing to sign")
	}
	byPath := map[string]*PlanFile{}
	for _, pp := range r.plans {
		for _, f := range pp.Files {
			if f.needsSigning() {
				byPath[f.Path] = f
			}
		}
	}
	if len(byPath) == 0 {
		return skip("every signature is already published")
	}
	if r.opts.DryRun {
		return skip("dry run: would sign %d files with %s", len(byPath), signerNames(r))
	}
	paths := make([]string, 0, len(byPath))
	for p := range byPath {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	return parallel(ctx, r.opts.Parallelism, len(paths), func(ctx context.Context, i int) error {
		return signFile(ctx, r, byPath[paths[i]])
	})
}

func signFile(ctx context.Context, r *run, f *PlanFile) error {
	for _, s := range r.signers {
		if f.Provided && s.String() == "minisign" {
			continue // keep the file's own Tauri signature
		}
		if _, err := s.Sign(ctx, f.Path); err != nil {
			return fmt.Errorf("%s: sign %s: %w", s, f.Path, err)
		}
	}
	for k := range f.SigStatus {
		if _, err := os.Stat(f.Path + sigExt(k)); err != nil {
			return fmt.Errorf("signers wrote no %s signature for %s: %w", k, f.Path, err)
		}
	}
	r.log.Debug("signed", slog.String("file", f.Path))
	return nil
}

func signerNames(r *run) string {
	names := make([]string, len(r.signers))
	for i, s := range r.signers {
		names[i] = s.String()
	}
	return strings.Join(names, "+")
}

// publishStep uploads every planned object, then each product's
// release.json once all of that product's files are in place. A failing
// upload does not stop the others: every target is reported.
type publishStep struct{}

func (publishStep) Name() string { return "publish" }

func (publishStep) Run(ctx context.Context, r *run) error {
	if r.plans == nil {
		return skip("nothing to publish")
	}
	n := 0
	for _, pp := range r.plans {
		if !pp.Done {
			n += objects(pp.uploads())
			if pp.RecordStatus != StatusUnchanged {
				n++ // release.json
			}
		}
	}
	if n == 0 {
		return skip("already published, nothing changed")
	}
	if r.opts.DryRun {
		return skip("dry run: would upload %d objects", n)
	}
	var errs []error
	for _, pp := range r.plans {
		if !pp.Done {
			errs = append(errs, publishProduct(ctx, r, pp))
		}
	}
	return errors.Join(errs...)
}

// upload is a sequence of objects written one after the other: one
// artifact's replaced signatures, its missing signatures, then the artifact.
type upload []uploadItem

// uploadItem is one object to write: a local file and its key.
type uploadItem struct {
	path, key string
	set       func(FileStatus)
}

// uploads lists the planned objects of a product, one sequence per file.
func (pp *ProductPlan) uploads() []upload {
	var ups []upload
	for _, f := range pp.Files {
		var up upload
		for _, k := range append(slices.Clone(f.replace), sortedKeys(f.SigStatus)...) {
			if f.SigStatus[k] != StatusPlanned || slices.ContainsFunc(up, func(u uploadItem) bool { return u.key == f.Key+sigExt(k) }) {
				continue
			}
			up = append(up, uploadItem{f.Path + sigExt(k), f.Key + sigExt(k), func(s FileStatus) { f.SigStatus[k] = s }})
		}
		if f.Status == StatusPlanned {
			up = append(up, uploadItem{f.Path, f.Key, func(s FileStatus) { f.Status = s }})
		}
		if len(up) > 0 {
			ups = append(ups, up)
		}
	}
	return ups
}

// objects counts the objects of a list of uploads.
func objects(ups []upload) int {
	n := 0
	for _, u := range ups {
		n += len(u)
	}
	return n
}

func publishProduct(ctx context.Context, r *run, pp *ProductPlan) error {
	ups := pp.uploads()
	var mu sync.Mutex
	err := parallel(ctx, r.opts.Parallelism, len(ups), func(ctx context.Context, i int) error {
		for _, it := range ups[i] {
			err := putFile(ctx, r.opts.Store, it.path, it.key)
			mu.Lock()
			if err != nil {
				it.set(StatusFailed)
			} else {
				it.set(StatusUploaded)
			}
			mu.Unlock()
			if err != nil {
				return err
			}
			r.log.Debug("uploaded", slog.String("product", pp.Product), slog.String("key", it.key))
		}
		return nil
	})
	if err != nil {
		pp.RecordStatus = StatusFailed
		return fmt.Errorf("%s %s: %w (release.json not written; re-run to resume)", pp.Product, pp.Record.Version, err)
	}
	if pp.RecordStatus == StatusUnchanged {
		// A repair of a published release: its release.json stays.
		r.log.Info("repaired", slog.String("product", pp.Product), slog.String("version", pp.Record.Version), slog.Int("objects", objects(ups)))
		return nil
	}
	b, err := json.MarshalIndent(pp.Record, "", "  ")
	if err != nil {
		return err
	}
	b = append(b, '\n')
	key := Key(r.opts.Prefix, pp.Product, pp.Record.Version, RecordName)
	if err := r.opts.Store.Put(ctx, key, strings.NewReader(string(b)), int64(len(b)), "application/json"); err != nil {
		pp.RecordStatus = StatusFailed
		return fmt.Errorf("put %s: %w", key, err)
	}
	pp.RecordStatus = StatusUploaded
	r.log.Info("published", slog.String("product", pp.Product), slog.String("version", pp.Record.Version), slog.Int("objects", objects(ups)+1))
	return nil
}

func putFile(ctx context.Context, st storage.Store, path, key string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return err
	}
	if err := st.Put(ctx, key, f, info.Size(), contentType(key)); err != nil {
		return fmt.Errorf("put %s: %w", key, err)
	}
	return nil
}

func contentType(name string) string {
	switch {
	case strings.HasSuffix(name, ".tar.gz"), strings.HasSuffix(name, ".tgz"):
		return "application/gzip"
	case strings.HasSuffix(name, ".zip"):
		return "application/zip"
	case strings.HasSuffix(name, ".json"):
		return "application/json"
	case strings.HasSuffix(name, ".txt"), strings.HasSuffix(name, ".sig"), strings.HasSuffix(name, ".minisig"):
		return "text/plain; charset=utf-8"
	}
	return "application/octet-stream"
}

// parallel runs fn for 0..n-1 with at most limit at a time. Every call runs
// (unless ctx is cancelled); all errors are joined.
func parallel(ctx context.Context, limit, n int, fn func(ctx context.Context, i int) error) error {
	sem := make(chan struct{}, limit)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			errs[i] = ctx.Err()
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			errs[i] = fn(ctx, i)
		}()
	}
	wg.Wait()
	// One cancellation error is enough, not one per call.
	var out []error
	cancelled := false
	for _, err := range errs {
		isCtx := errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)
		if err == nil || (isCtx && cancelled) {
			continue
		}
		cancelled = cancelled || isCtx
		out = append(out, err)
	}
	return errors.Join(out...)
}
