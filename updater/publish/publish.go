package publish

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/theupdateframework/go-tuf/v2/metadata"

	"github.com/slipwayhq/slipway/release"
	"github.com/slipwayhq/slipway/storage"
	"github.com/slipwayhq/slipway/updater/catalog"
	"github.com/slipwayhq/slipway/updater/channel"
	"github.com/slipwayhq/slipway/updater/repo"
)

// Config says where the published state lives and how to check releases.
type Config struct {
	Store  storage.Store
	Prefix string
	// Verifier checks each artifact's minisign signature. Required by
	// Apply for versions not yet served; Plan does not verify.
	Verifier catalog.Verifier
	// Repo are the TUF metadata lifetimes.
	Repo repo.Options
	// Logger. Default: discard.
	Logger *slog.Logger
}

func (c Config) logger() *slog.Logger {
	if c.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return c.Logger
}

// Custom is the custom field of every TUF target: which product, version
// and platform the file is, and which channels currently serve it (with
// their rollout). A version a channel only serves as "previous" or through
// a pin has no entry for that channel.
type Custom struct {
	Product  string                   `json:"product"`
	Version  string                   `json:"version"`
	OS       string                   `json:"os"`
	Arch     string                   `json:"arch"`
	Format   string                   `json:"format,omitempty"`
	Channels map[string]ChannelCustom `json:"channels,omitempty"`
	// Keys are the minisign public keys (line-2 form) the product's
	// artifacts may be signed with, when the channels file lists them: a
	// client accepts a signature by one of them that it trusts or that
	// Endorsements lead to from a key it trusts, and no other.
	Keys []string `json:"keys,omitempty"`
	// Endorsements are the product's key endorsements (minisign.Endorse).
	Endorsements []string `json:"endorsements,omitempty"`
}

// ChannelCustom is a channel's entry in a target's custom field.
type ChannelCustom struct {
	Rollout float64 `json:"rollout"`
	// Revoked are versions rolled back on the product: a client running
	// one accepts this target even though it is older (the signed
	// rollback decision). Absent when nothing was revoked.
	Revoked []string `json:"revoked,omitempty"`
}

// TargetPath is a target's TUF path: <product>/<version>/<file>.
func TargetPath(product, version, file string) string {
	return product + "/" + version + "/" + file
}

// Plan is the difference between the channels file and storage.
type Plan struct {
	// Changes, one line each ("+", "-", "~" prefixes), sorted.
	Changes []string
	// New lists product/version pairs not served yet (to verify).
	New []*release.Record

	state   State
	targets map[string]*metadata.TargetFiles
}

// Empty reports whether storage already matches the file.
func (p *Plan) Empty() bool { return len(p.Changes) == 0 }

// String renders the plan for humans.
func (p *Plan) String() string {
	if p.Empty() {
		return "No changes: storage matches the channels file.\n"
	}
	return strings.Join(p.Changes, "\n") + "\n"
}

// MakePlan compares the file with the published state and TUF targets.
// It fails if a referenced version was never published.
func MakePlan(ctx context.Context, cfg Config, f *channel.File) (*Plan, error) {
	have, err := loadState(ctx, cfg)
	if err != nil {
		return nil, err
	}
	current := map[string]*metadata.TargetFiles{}
	r, err := repo.Open(ctx, cfg.Store, cfg.Prefix, cfg.Repo)
	switch {
	case err == nil:
		current = r.Targets.Signed.Targets
	case !errors.Is(err, repo.ErrNotInitialized):
		return nil, err
	}
	want := StateOf(f)
	p := &Plan{state: want, Changes: diffChannels(have, want)}
	if p.targets, p.New, err = wantTargets(ctx, cfg, f, want, current); err != nil {
		return nil, err
	}
	p.Changes = append(p.Changes, diffTargets(current, p.targets)...)
	if r == nil {
		p.Changes = append([]string{"+ TUF repository (not initialised)"}, p.Changes...)
	}
	return p, nil
}

func loadState(ctx context.Context, cfg Config) (State, error) {
	data, _, err := catalog.ReadLimited(ctx, cfg.Store, StateKey(cfg.Prefix), MaxStateSize)
	if errors.Is(err, storage.ErrNotFound) {
		return State{Products: map[string]map[string]Channel{}}, nil
	}
	if err != nil {
		return State{}, err
	}
	return ParseState(data)
}

// wantTargets builds the TUF targets for every version the state serves.
// Hashes of files already in current are reused (artifacts are
// immutable); new files are read once to compute sha512.
func wantTargets(ctx context.Context, cfg Config, f *channel.File, s State, current map[string]*metadata.TargetFiles) (map[string]*metadata.TargetFiles, []*release.Record, error) {
	out := map[string]*metadata.TargetFiles{}
	var fresh []*release.Record
	for prod, versions := range s.Versions() {
		keys, err := f.TrustedKeys(prod)
		if err != nil {
			return nil, nil, err
		}
		var announced []string
		for _, k := range keys {
			announced = append(announced, k.String())
		}
		for _, v := range versions {
			rec, err := catalog.Load(ctx, cfg.Store, cfg.Prefix, prod, v)
			if err != nil {
				return nil, nil, err
			}
			isNew := false
			for _, a := range rec.Artifacts {
				if !catalog.Installable(a) {
					continue
				}
				path := TargetPath(prod, v, a.Name)
				tf, err := targetFor(ctx, cfg, rec, a, current[path])
				if err != nil {
					return nil, nil, err
				}
				isNew = isNew || current[path] == nil
				custom := Custom{Product: prod, Version: v, OS: a.OS, Arch: a.Arch, Format: a.Format,
					Channels: channelsServing(s.Products[prod], v), Keys: announced, Endorsements: f.Endorsements[prod]}
				raw, err := json.Marshal(custom)
				if err != nil {
					return nil, nil, err
				}
				rm := json.RawMessage(raw)
				tf.Custom = &rm
				out[path] = tf
			}
			if isNew {
				fresh = append(fresh, rec)
			}
		}
	}
	return out, fresh, nil
}

func channelsServing(chans map[string]Channel, version string) map[string]ChannelCustom {
	m := map[string]ChannelCustom{}
	for name, c := range chans {
		if c.Version == version {
			m[name] = ChannelCustom{Rollout: c.Rollout, Revoked: c.Revoked}
		}
	}
	if len(m) == 0 {
		return nil
	}
	return m
}

func targetFor(ctx context.Context, cfg Config, rec *release.Record, a release.Artifact, cur *metadata.TargetFiles) (*metadata.TargetFiles, error) {
	want, err := hex.DecodeString(a.SHA256)
	if err != nil {
		return nil, err
	}
	if cur != nil && cur.Length == a.Size && bytes.Equal(cur.Hashes["sha256"], want) && len(cur.Hashes["sha512"]) == sha512.Size {
		return &metadata.TargetFiles{Length: cur.Length, Hashes: metadata.Hashes{"sha256": want, "sha512": cur.Hashes["sha512"]}}, nil
	}
	rc, _, err := cfg.Store.Get(ctx, release.Key(cfg.Prefix, rec.Product, rec.Version, a.Name))
	if err != nil {
		return nil, fmt.Errorf("%s %s %s: %w", rec.Product, rec.Version, a.Name, err)
	}
	defer rc.Close()
	h256, h512 := sha256.New(), sha512.New()
	n, err := io.Copy(io.MultiWriter(h256, h512), io.LimitReader(rc, a.Size+1))
	if err != nil {
		return nil, err
	}
	if n != a.Size || !bytes.Equal(h256.Sum(nil), want) {
		return nil, fmt.Errorf("%s %s %s: %w", rec.Product, rec.Version, a.Name, catalog.ErrMismatch)
	}
	return &metadata.TargetFiles{Length: n, Hashes: metadata.Hashes{"sha256": want, "sha512": h512.Sum(nil)}}, nil
}

func diffTargets(have, want map[string]*metadata.TargetFiles) []string {
	var out []string
	for _, p := range sortedKeys(union(have, want)) {
		h, w := have[p], want[p]
		switch {
		case h == nil:
			out = append(out, "+ target "+p)
		case w == nil:
			out = append(out, "- target "+p)
		case !repo.Equal(map[string]*metadata.TargetFiles{p: h}, map[string]*metadata.TargetFiles{p: w}):
			out = append(out, fmt.Sprintf("~ target %s: %s -> %s", p, customOf(h), customOf(w)))
		}
	}
	return out
}

func customOf(t *metadata.TargetFiles) string {
	if t.Custom == nil {
		return "{}"
	}
	return string(*t.Custom)
}

// maxApplyAttempts bounds how often Apply writes the TUF metadata again
// when another writer changed it meanwhile (repo.ErrConflict).
const maxApplyAttempts = 10

// Apply makes storage match the channels file: it verifies every release
// not yet served, then writes the TUF metadata (creating the repository
// with keys from keys on first use) and the channel state, and reports
// the plan it carried out. Applying an unchanged file writes nothing.
// When a server re-signs the timestamp (or another apply lands) while it
// writes, the metadata writes are conditional (see repo.ErrConflict):
// Apply opens the metadata again and writes its targets on top, so
// neither write is lost; after maxApplyAttempts it gives up with
// repo.ErrConflict, having changed nothing clients see.
func Apply(ctx context.Context, cfg Config, f *channel.File, keys *repo.Keys, now time.Time) (*Plan, error) {
	p, err := MakePlan(ctx, cfg, f)
	if err != nil || p.Empty() {
		return p, err
	}
	if cfg, err = WithTrust(cfg, f); err != nil {
		return nil, err
	}
	if err := verifyNew(ctx, cfg, p.New); err != nil {
		return nil, err
	}
	// TUF first: a client must never be offered a version its metadata
	// does not list yet.
	if err := writeTargets(ctx, cfg, keys, p.targets, now); err != nil {
		return nil, err
	}
	data, err := p.state.Marshal()
	if err != nil {
		return nil, err
	}
	if err := cfg.Store.Put(ctx, StateKey(cfg.Prefix), bytes.NewReader(data), int64(len(data)), "application/json"); err != nil {
		return nil, fmt.Errorf("write channel state: %w", err)
	}
	cfg.logger().InfoContext(ctx, "applied channels", "changes", len(p.Changes))
	return p, nil
}

// writeTargets publishes targets on top of the stored metadata, opening it
// again when a concurrent writer changed it (repo.ErrConflict).
func writeTargets(ctx context.Context, cfg Config, keys *repo.Keys, targets map[string]*metadata.TargetFiles, now time.Time) error {
	for attempt := 1; ; attempt++ {
		r, err := repo.Open(ctx, cfg.Store, cfg.Prefix, cfg.Repo)
		if errors.Is(err, repo.ErrNotInitialized) {
			r, err = repo.Create(ctx, cfg.Store, cfg.Prefix, keys, now, cfg.Repo)
		}
		if err == nil {
			_, err = r.SetTargets(ctx, keys, targets, now)
		}
		if !errors.Is(err, repo.ErrConflict) || attempt == maxApplyAttempts {
			return err
		}
		cfg.logger().InfoContext(ctx, "TUF metadata changed while applying; writing again on top", "attempt", attempt, "err", err)
		// Back off with jitter so two writers do not collide in lock-step.
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Duration(attempt) * time.Duration(5+rand.IntN(20)) * time.Millisecond):
		}
	}
}

func verifyNew(ctx context.Context, cfg Config, recs []*release.Record) error {
	if len(recs) == 0 {
		return nil
	}
	if cfg.Verifier == nil {
		return errors.New("apply: no signature verifier configured (minisign public key)")
	}
	var errs []error
	for _, rec := range recs {
		errs = append(errs, catalog.Check(ctx, cfg.Store, cfg.Prefix, rec, cfg.Verifier))
	}
	return errors.Join(errs...)
}
