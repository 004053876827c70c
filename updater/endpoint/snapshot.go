package endpoint

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"path"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/theupdateframework/go-tuf/v2/metadata"

	"github.com/slipwayhq/slipway/release"
	"github.com/slipwayhq/slipway/storage"
	"github.com/slipwayhq/slipway/updater/catalog"
	"github.com/slipwayhq/slipway/updater/publish"
	"github.com/slipwayhq/slipway/updater/repo"
	"github.com/slipwayhq/slipway/updater/tauri"
)

// snapshot is everything the endpoints serve, loaded from storage and
// swapped atomically; requests never touch storage except to stream an
// artifact.
type snapshot struct {
	state    publish.State
	releases map[string]map[string]*releaseInfo // product -> version -> release
	tuf      map[string]file                    // metadata file name -> content
	targets  map[string]*metadata.TargetFiles   // TUF targets by path
	loaded   time.Time
	// version identifies the storage state this snapshot was built from.
	version string
	// roles are the TUF roles' versions and expiries.
	roles []repo.RoleStatus
	// timestamp is the TUF timestamp version served (0: none).
	timestamp int64
	// retired maps superseded snapshot/targets files kept in tuf to when
	// they stopped being current.
	retired map[string]time.Time
	// cache holds encoded update answers (key -> *body) for this snapshot.
	cache  sync.Map
	cacheN atomic.Int32
}

type releaseInfo struct {
	rec       *release.Record
	artifacts []*artifact
	// files are the release's other files (SBOMs, provenance, checksums):
	// downloadable, never offered as updates.
	files []*artifact
}

type artifact struct {
	release.Artifact
	key      string            // storage key
	minisig  string            // .minisig text ("" if none)
	tauriSig string            // .sig contents ("" if none, or unusable for Tauri)
	target   string            // TUF target path
	sigs     map[string]string // kind -> signature file name (for downloads)
}

type file struct {
	data []byte
	etag string
	mod  time.Time
}

func newFile(data []byte, mod time.Time) file {
	sum := sha256.Sum256(data)
	return file{data: data, etag: `"` + hex.EncodeToString(sum[:12]) + `"`, mod: mod}
}

// fingerprint summarises what a reload depends on: the ETags of the
// channel state and of the TUF metadata. Release files are immutable.
func fingerprint(ctx context.Context, st storage.Store, prefix string) (string, error) {
	h := sha256.New()
	for _, dir := range []string{path.Dir(publish.StateKey(prefix)) + "/", repo.Dir(prefix) + "/"} {
		infos, err := st.List(ctx, dir)
		if err != nil {
			return "", err
		}
		for _, in := range infos {
			fmt.Fprintf(h, "%s\x00%s\x00%d\x00%d\n", in.Key, in.ETag, in.Size, in.ModTime.UnixNano())
		}
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// load reads a complete snapshot. Any error leaves the caller's previous
// snapshot in place.
func load(ctx context.Context, st storage.Store, prefix string, log *slog.Logger) (*snapshot, error) {
	fp, err := fingerprint(ctx, st, prefix)
	if err != nil {
		return nil, err
	}
	s := &snapshot{releases: map[string]map[string]*releaseInfo{}, tuf: map[string]file{}, loaded: time.Now(), version: fp,
		retired: map[string]time.Time{}}
	data, _, err := catalog.ReadLimited(ctx, st, publish.StateKey(prefix), publish.MaxStateSize)
	switch {
	case errors.Is(err, storage.ErrNotFound):
		s.state = publish.State{Products: map[string]map[string]publish.Channel{}}
	case err != nil:
		return nil, err
	default:
		if s.state, err = publish.ParseState(data); err != nil {
			return nil, err
		}
	}
	if err := s.loadTUF(ctx, st, prefix); err != nil {
		return nil, err
	}
	for prod, versions := range s.state.Versions() {
		s.releases[prod] = map[string]*releaseInfo{}
		for _, v := range versions {
			ri, err := loadRelease(ctx, st, prefix, prod, v, log)
			if err != nil {
				return nil, err
			}
			s.releases[prod][v] = ri
		}
	}
	return s, nil
}

func (s *snapshot) loadTUF(ctx context.Context, st storage.Store, prefix string) error {
	r, err := repo.Open(ctx, st, prefix, repo.Options{})
	if errors.Is(err, repo.ErrNotInitialized) {
		s.targets = map[string]*metadata.TargetFiles{}
		return nil
	}
	if err != nil {
		return err
	}
	s.targets = r.Targets.Signed.Targets
	s.roles, s.timestamp = r.Status(), r.Timestamp.Signed.Version
	// Serve every root version (clients walk the chain) and the current
	// timestamp, snapshot and targets.
	want := map[string]bool{
		"timestamp.json": true,
		fmt.Sprintf("%d.snapshot.json", r.Snapshot.Signed.Version): true,
		fmt.Sprintf("%d.targets.json", r.Targets.Signed.Version):   true,
	}
	infos, err := st.List(ctx, repo.Dir(prefix)+"/")
	if err != nil {
		return err
	}
	for _, in := range infos {
		name := strings.TrimPrefix(in.Key, repo.Dir(prefix)+"/")
		if !want[name] && !strings.HasSuffix(name, ".root.json") && name != "root.json" {
			continue
		}
		if !repo.IsMetadataName(name) {
			continue
		}
		data, info, err := catalog.ReadLimited(ctx, st, in.Key, repo.MaxMetadataSize)
		if err != nil {
			return err
		}
		s.tuf[name] = newFile(data, info.ModTime)
	}
	return nil
}

// keepPrevious keeps serving the snapshot and targets files prev served
// and s does not, for grace after they were superseded: a client that
// read the previous timestamp just before a reload, or from a replica
// that has not reloaded yet, still finds the files it names.
func (s *snapshot) keepPrevious(prev *snapshot, now time.Time, grace time.Duration) {
	for name, f := range prev.tuf {
		if _, ok := s.tuf[name]; ok || !isVersionedRole(name) {
			continue
		}
		since, ok := prev.retired[name]
		if !ok {
			since = now
		}
		if now.Sub(since) < grace {
			s.tuf[name], s.retired[name] = f, since
		}
	}
}

// isVersionedRole: N.snapshot.json or N.targets.json.
func isVersionedRole(name string) bool {
	return repo.IsMetadataName(name) && (strings.HasSuffix(name, ".snapshot.json") || strings.HasSuffix(name, ".targets.json"))
}

func loadRelease(ctx context.Context, st storage.Store, prefix, product, version string, log *slog.Logger) (*releaseInfo, error) {
	rec, err := catalog.Load(ctx, st, prefix, product, version)
	if err != nil {
		return nil, err
	}
	ri := &releaseInfo{rec: rec}
	for _, a := range rec.Artifacts {
		if !catalog.Installable(a) {
			ri.files = append(ri.files, &artifact{Artifact: a, key: release.Key(prefix, product, version, a.Name), sigs: a.Signatures})
			continue
		}
		art := &artifact{Artifact: a, key: release.Key(prefix, product, version, a.Name),
			target: publish.TargetPath(product, version, a.Name), sigs: a.Signatures}
		minisig, err := catalog.Signature(ctx, st, prefix, rec, a, "minisign")
		if err != nil {
			return nil, err
		}
		art.minisig = string(minisig)
		sig, err := catalog.Signature(ctx, st, prefix, rec, a, "tauri")
		if err != nil {
			return nil, err
		}
		art.tauriSig = usableTauriSig(string(sig), version, a.Name, log)
		ri.artifacts = append(ri.artifacts, art)
	}
	return ri, nil
}

// usableTauriSig returns sig if Tauri clients will accept it for version:
// the base64 of a minisign text whose signed `version:` (if any) equals the
// announced version. Otherwise the artifact is not offered to Tauri.
func usableTauriSig(sig, version, name string, log *slog.Logger) string {
	if sig == "" {
		return ""
	}
	signed, ok, err := tauri.SignedVersion(sig)
	if err != nil {
		log.Error("tauri signature unusable", "version", version, "artifact", name, "err", err)
		return ""
	}
	if ok && signed != version {
		log.Error("tauri signature is for another version", "version", version, "signed", signed, "artifact", name)
		return ""
	}
	return sig
}

// artifactFor picks the artifact of a release for a platform: the given
// format if any, else the first in prefer order, else any.
func (ri *releaseInfo) artifactFor(goos, goarch, format string, prefer []string, needTauri bool) *artifact {
	var cands []*artifact
	for _, a := range ri.artifacts {
		if catalog.ArchMatches(a.OS, a.Arch, goos, goarch) && (!needTauri || a.tauriSig != "") {
			cands = append(cands, a)
		}
	}
	if format != "" {
		prefer = []string{format}
	}
	for _, f := range prefer {
		for _, a := range cands {
			if a.Format == f {
				return a
			}
		}
	}
	if format != "" || len(cands) == 0 {
		return nil
	}
	return cands[0]
}
