// Package repo is Slipway's TUF repository (The Update Framework, through
// go-tuf/v2's metadata package): root (offline keys, threshold), targets
// (every served artifact with length, sha256 and sha512 and custom
// product/version/os/arch/channels fields), snapshot and timestamp (signed
// by the server's online key and re-signed automatically by Refresh), with
// consistent snapshots. Metadata lives in storage under <prefix>/tuf/.
package repo

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/theupdateframework/go-tuf/v2/metadata"

	"github.com/slipwayhq/slipway/storage"
	"github.com/slipwayhq/slipway/updater/catalog"
)

// Errors (match with errors.Is).
var (
	ErrNotInitialized = errors.New("TUF repository not initialised (run slipway tuf init or apply)")
	ErrNoKey          = errors.New("signing key missing")
	// ErrConflict: another writer (a server re-signing, another apply)
	// changed the metadata between Open and this write; nothing of this
	// writer's is visible. Open again and retry.
	ErrConflict = errors.New("TUF metadata changed by another writer; reload and retry")
)

// MaxMetadataSize bounds any metadata file read from storage. Default: 8 MiB.
const MaxMetadataSize = 8 << 20

// Options are the metadata lifetimes. The zero value uses the defaults.
type Options struct {
	// RootExpiry. Default: 365 days.
	RootExpiry time.Duration
	// TargetsExpiry. Default: 180 days.
	TargetsExpiry time.Duration
	// SnapshotExpiry. Default: 30 days.
	SnapshotExpiry time.Duration
	// TimestampExpiry (short: a frozen client notices within this time). Default: 24 hours.
	TimestampExpiry time.Duration
	// RootKeys is how many root keys Init generates into the keys
	// directory (tuf-root-1.key ...). Default: 1.
	RootKeys int
	// RootThreshold is how many root keys must sign a root. Default: all root keys given.
	RootThreshold int
}

func (o Options) withDefaults() Options {
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&o.RootExpiry, 365*24*time.Hour)
	def(&o.TargetsExpiry, 180*24*time.Hour)
	def(&o.SnapshotExpiry, 30*24*time.Hour)
	def(&o.TimestampExpiry, 24*time.Hour)
	return o
}

// Dir is the storage folder of the TUF metadata under prefix.
func Dir(prefix string) string {
	if prefix == "" {
		return "tuf"
	}
	return prefix + "/tuf"
}

// Repo is the current metadata of a repository in storage.
type Repo struct {
	st     storage.Store
	prefix string
	opts   Options

	Root      *metadata.Metadata[metadata.RootType]
	Targets   *metadata.Metadata[metadata.TargetsType]
	Snapshot  *metadata.Metadata[metadata.SnapshotType]
	Timestamp *metadata.Metadata[metadata.TimestampType]

	// tsRaw is timestamp.json as read or last written: a new timestamp
	// replaces exactly it (nil: create it).
	tsRaw []byte
}

func (r *Repo) key(name string) string { return Dir(r.prefix) + "/" + name }

// Init creates the repository if storage has none yet: it ensures the
// keys in keysDir (generating dev keys when absent) and writes version 1
// of every role, signed. It is idempotent: an existing repository is
// opened as is.
func Init(ctx context.Context, st storage.Store, prefix, keysDir string, now time.Time, opts Options) (*Repo, *Keys, error) {
	n := opts.RootKeys
	if n == 0 {
		n = 1
	}
	keys, err := EnsureKeys(keysDir, n)
	if err != nil {
		return nil, nil, err
	}
	r, err := Open(ctx, st, prefix, opts)
	if err == nil {
		return r, keys, nil
	}
	if !errors.Is(err, ErrNotInitialized) {
		return nil, nil, err
	}
	r, err = Create(ctx, st, prefix, keys, now, opts)
	return r, keys, err
}

// Create writes version 1 of every role, signed with keys (root keys
// included), to storage.
func Create(ctx context.Context, st storage.Store, prefix string, keys *Keys, now time.Time, opts Options) (*Repo, error) {
	r := &Repo{st: st, prefix: prefix, opts: opts.withDefaults()}
	if err := r.create(ctx, keys, now); err != nil {
		return nil, err
	}
	return r, nil
}

func (r *Repo) create(ctx context.Context, keys *Keys, now time.Time) error {
	if len(keys.Root) == 0 || keys.Targets == nil || keys.Online == nil {
		return fmt.Errorf("create repository: %w (need root, targets and online keys)", ErrNoKey)
	}
	root := metadata.Root(now.Add(r.opts.RootExpiry).UTC())
	for _, k := range keys.Root {
		if err := root.Signed.AddKey(k.Key, metadata.ROOT); err != nil {
			return err
		}
	}
	if t := r.opts.RootThreshold; t > 0 {
		if t > len(keys.Root) {
			return fmt.Errorf("root threshold %d > %d root keys", t, len(keys.Root))
		}
		root.Signed.Roles[metadata.ROOT].Threshold = t
	} else {
		root.Signed.Roles[metadata.ROOT].Threshold = len(keys.Root)
	}
	for role, k := range map[string]*Signer{metadata.TARGETS: keys.Targets, metadata.SNAPSHOT: keys.Online, metadata.TIMESTAMP: keys.Online} {
		if err := root.Signed.AddKey(k.Key, role); err != nil {
			return err
		}
	}
	for _, k := range keys.Root {
		if _, err := root.Sign(k); err != nil {
			return fmt.Errorf("sign root: %w", err)
		}
	}
	r.Root = root
	if err := r.putRoot(ctx); err != nil {
		return err
	}
	r.Targets = metadata.Targets(now.Add(r.opts.TargetsExpiry).UTC())
	return r.publish(ctx, keys, now, true)
}

// Open loads the current metadata from storage.
func Open(ctx context.Context, st storage.Store, prefix string, opts Options) (*Repo, error) {
	r := &Repo{st: st, prefix: prefix, opts: opts.withDefaults()}
	data, err := r.read(ctx, "root.json")
	if errors.Is(err, storage.ErrNotFound) {
		return nil, ErrNotInitialized
	}
	if err != nil {
		return nil, err
	}
	if r.Root, err = metadata.Root().FromBytes(data); err != nil {
		return nil, fmt.Errorf("root.json: %w", err)
	}
	if data, err = r.read(ctx, "timestamp.json"); err != nil {
		return nil, err
	}
	if r.Timestamp, err = metadata.Timestamp().FromBytes(data); err != nil {
		return nil, fmt.Errorf("timestamp.json: %w", err)
	}
	r.tsRaw = data
	sv := r.Timestamp.Signed.Meta["snapshot.json"].Version
	if data, err = r.read(ctx, strconv.FormatInt(sv, 10)+".snapshot.json"); err != nil {
		return nil, err
	}
	if r.Snapshot, err = metadata.Snapshot().FromBytes(data); err != nil {
		return nil, fmt.Errorf("snapshot: %w", err)
	}
	tv := r.Snapshot.Signed.Meta["targets.json"].Version
	if data, err = r.read(ctx, strconv.FormatInt(tv, 10)+".targets.json"); err != nil {
		return nil, err
	}
	if r.Targets, err = metadata.Targets().FromBytes(data); err != nil {
		return nil, fmt.Errorf("targets: %w", err)
	}
	return r, nil
}

func (r *Repo) read(ctx context.Context, name string) ([]byte, error) {
	data, _, err := catalog.ReadLimited(ctx, r.st, r.key(name), MaxMetadataSize)
	if errors.Is(err, storage.ErrPrecondition) {
		err = fmt.Errorf("%w: %w", ErrConflict, err) // replaced while read
	}
	return data, err
}

func (r *Repo) put(ctx context.Context, name string, data []byte) error {
	return r.st.Put(ctx, r.key(name), bytes.NewReader(data), int64(len(data)), "application/json")
}

// putIf writes name only if its content is prev (nil: only if absent),
// so versioned files are immutable and timestamp.json changes only from
// the state this writer read: concurrent writers (replicas re-signing,
// `slipway apply`) never lose each other's writes. A store without
// conditional writes gets a plain Put (no protection).
func (r *Repo) putIf(ctx context.Context, name string, data, prev []byte) error {
	c, ok := r.st.(storage.Conditional)
	if !ok {
		return r.put(ctx, name, data)
	}
	err := c.PutIf(ctx, r.key(name), data, "application/json", prev)
	if errors.Is(err, storage.ErrPrecondition) {
		return fmt.Errorf("%w: %s: %w", ErrConflict, name, err)
	}
	return err
}

// maxSkip bounds how many versions a writer skips over files left by a
// writer that lost a race or died (see putVersioned).
const maxSkip = 64

// putVersioned writes <version>.<role>.json create-only. A file of that
// version that exists was left by a writer that lost the timestamp race
// or died before writing it (or is being written by a concurrent writer,
// which the timestamp race settles): the version is skipped, as TUF only
// requires versions to grow. It returns the version written.
func (r *Repo) putVersioned(ctx context.Context, role string, version int64, sign func(version int64) ([]byte, error)) (int64, error) {
	for range maxSkip {
		data, err := sign(version)
		if err != nil {
			return 0, err
		}
		err = r.putIf(ctx, fmt.Sprintf("%d.%s.json", version, role), data, nil)
		if !errors.Is(err, ErrConflict) {
			return version, err
		}
		version++
	}
	return 0, fmt.Errorf("%w: %d versions of %s taken after the current one", ErrConflict, maxSkip, role)
}

func (r *Repo) putRoot(ctx context.Context) error {
	data, err := r.Root.ToBytes(false)
	if err != nil {
		return err
	}
	// Root versions must follow each other: a taken version is a
	// concurrent rotation, not something to skip.
	if err := r.putIf(ctx, fmt.Sprintf("%d.root.json", r.Root.Signed.Version), data, nil); err != nil {
		return err
	}
	return r.put(ctx, "root.json", data)
}

// RootJSON is the current root metadata: what a client must be given
// out of band as its initial trusted root.
func (r *Repo) RootJSON() ([]byte, error) { return r.Root.ToBytes(false) }

// SetTargets replaces the targets with want and, if anything differs,
// publishes new targets, snapshot and timestamp versions. It reports
// whether anything was written (so applying twice writes nothing).
func (r *Repo) SetTargets(ctx context.Context, keys *Keys, want map[string]*metadata.TargetFiles, now time.Time) (bool, error) {
	if Equal(r.Targets.Signed.Targets, want) {
		return false, nil
	}
	if keys.Targets == nil || keys.Online == nil {
		return false, fmt.Errorf("publish targets: %w (need targets and online keys)", ErrNoKey)
	}
	r.Targets.Signed.Targets = want
	return true, r.publish(ctx, keys, now, true)
}

// publish signs and writes targets (if withTargets), then a new snapshot
// and timestamp. Files are written in the order clients read them
// backwards: targets, snapshot, then timestamp last.
func (r *Repo) publish(ctx context.Context, keys *Keys, now time.Time, withTargets bool) error {
	if withTargets {
		t := r.Targets
		if r.Snapshot != nil {
			t.Signed.Version = r.Snapshot.Signed.Meta["targets.json"].Version + 1
		}
		t.Signed.Expires = now.Add(r.opts.TargetsExpiry).UTC()
		v, err := r.putVersioned(ctx, "targets", t.Signed.Version, func(v int64) ([]byte, error) {
			t.Signed.Version = v
			t.ClearSignatures()
			if _, err := t.Sign(keys.Targets); err != nil {
				return nil, fmt.Errorf("sign targets: %w", err)
			}
			return t.ToBytes(false)
		})
		if err != nil {
			return err
		}
		t.Signed.Version = v
	}
	return r.resignSnapshot(ctx, keys.Online, now)
}

// resignSnapshot writes a new snapshot version naming the current
// targets, then a new timestamp.
func (r *Repo) resignSnapshot(ctx context.Context, online *Signer, now time.Time) error {
	if online == nil {
		return fmt.Errorf("sign snapshot: %w (online key)", ErrNoKey)
	}
	snap := metadata.Snapshot(now.Add(r.opts.SnapshotExpiry).UTC())
	if r.Snapshot != nil {
		snap.Signed.Version = r.Snapshot.Signed.Version + 1
	}
	snap.Signed.Meta["targets.json"] = metadata.MetaFile(r.Targets.Signed.Version)
	v, err := r.putVersioned(ctx, "snapshot", snap.Signed.Version, func(v int64) ([]byte, error) {
		snap.Signed.Version = v
		snap.ClearSignatures()
		if _, err := snap.Sign(online); err != nil {
			return nil, fmt.Errorf("sign snapshot: %w", err)
		}
		return snap.ToBytes(false)
	})
	if err != nil {
		return err
	}
	snap.Signed.Version = v
	r.Snapshot = snap
	return r.resignTimestamp(ctx, online, now)
}

func (r *Repo) resignTimestamp(ctx context.Context, online *Signer, now time.Time) error {
	ts := metadata.Timestamp(now.Add(r.opts.TimestampExpiry).UTC())
	if r.Timestamp != nil {
		ts.Signed.Version = r.Timestamp.Signed.Version + 1
	}
	// Pin the snapshot's length and hash, not only its version, so a
	// timestamp can only ever be combined with the exact snapshot file.
	snapData, err := r.read(ctx, fmt.Sprintf("%d.snapshot.json", r.Snapshot.Signed.Version))
	if err != nil {
		return fmt.Errorf("timestamp: read snapshot: %w", err)
	}
	sum := sha256.Sum256(snapData)
	mf := metadata.MetaFile(r.Snapshot.Signed.Version)
	mf.Length, mf.Hashes = int64(len(snapData)), metadata.Hashes{"sha256": sum[:]}
	ts.Signed.Meta["snapshot.json"] = mf
	if _, err := ts.Sign(online); err != nil {
		return fmt.Errorf("sign timestamp: %w", err)
	}
	data, err := ts.ToBytes(false)
	if err != nil {
		return err
	}
	if err := r.putIf(ctx, "timestamp.json", data, r.tsRaw); err != nil {
		return err
	}
	r.Timestamp, r.tsRaw = ts, data
	return nil
}

// Refresh re-signs, with the online key, a timestamp (and snapshot) that
// has used half its lifetime, so clients always see fresh metadata while
// the server runs. It reports whether it wrote anything.
func (r *Repo) Refresh(ctx context.Context, online *Signer, now time.Time) (bool, error) {
	switch {
	case halfUsed(r.Snapshot.Signed.Expires, r.opts.SnapshotExpiry, now):
		return true, r.resignSnapshot(ctx, online, now)
	case halfUsed(r.Timestamp.Signed.Expires, r.opts.TimestampExpiry, now):
		return true, r.resignTimestamp(ctx, online, now)
	}
	return false, nil
}

// RefreshDue reports whether Refresh would re-sign anything at now.
func (r *Repo) RefreshDue(now time.Time) bool {
	return halfUsed(r.Snapshot.Signed.Expires, r.opts.SnapshotExpiry, now) ||
		halfUsed(r.Timestamp.Signed.Expires, r.opts.TimestampExpiry, now)
}

// halfUsed: metadata expiring at exp has used half its lifetime.
func halfUsed(exp time.Time, life time.Duration, now time.Time) bool {
	return now.Add(life / 2).After(exp)
}

// Equal reports whether two target sets are the same (paths, lengths,
// hashes and custom fields).
func Equal(a, b map[string]*metadata.TargetFiles) bool {
	if len(a) != len(b) {
		return false
	}
	for p, ta := range a {
		tb, ok := b[p]
		if !ok || !ta.Equal(*tb) || !bytes.Equal(rawCustom(ta), rawCustom(tb)) {
			return false
		}
	}
	return true
}

func rawCustom(t *metadata.TargetFiles) []byte {
	if t.Custom == nil {
		return nil
	}
	return bytes.TrimSpace(*t.Custom)
}

// IsMetadataName reports whether name is a file of the TUF metadata
// directory clients may fetch (N.root.json, timestamp.json, N.snapshot.json,
// N.targets.json, root.json).
func IsMetadataName(name string) bool {
	if name == "root.json" || name == "timestamp.json" {
		return true
	}
	v, role, ok := strings.Cut(name, ".")
	if !ok {
		return false
	}
	if _, err := strconv.ParseUint(v, 10, 63); err != nil || strings.HasPrefix(v, "0") {
		return false
	}
	return role == "root.json" || role == "snapshot.json" || role == "targets.json"
}
