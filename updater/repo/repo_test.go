package repo

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/theupdateframework/go-tuf/v2/metadata"
	"github.com/theupdateframework/go-tuf/v2/metadata/config"
	"github.com/theupdateframework/go-tuf/v2/metadata/updater"

	"github.com/slipwayhq/slipway/updater/internal/memstore"
)

var now = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// storeFetcher serves the repository straight from the store, as the
// /tuf/ endpoint does.
type storeFetcher struct{ st *memstore.Store }

func (f storeFetcher) DownloadFile(url string, maxLength int64, _ time.Duration) ([]byte, error) {
	key := "tuf/" + url[strings.LastIndex(url, "/")+1:]
	data := f.st.Bytes(key)
	if data == nil {
		return nil, &metadata.ErrDownloadHTTP{StatusCode: 404, URL: url}
	}
	if int64(len(data)) > maxLength {
		return nil, &metadata.ErrDownloadLengthMismatch{Msg: "too long"}
	}
	return data, nil
}

// refresh runs a real go-tuf client that trusts root and has cacheDir.
func refresh(t *testing.T, st *memstore.Store, root []byte, cacheDir string, at time.Time) (*updater.Updater, error) {
	t.Helper()
	cfg, err := config.New("https://repo.invalid/tuf/", root)
	if err != nil {
		t.Fatal(err)
	}
	cfg.LocalMetadataDir = cacheDir
	cfg.LocalTargetsDir = filepath.Join(cacheDir, "targets")
	cfg.Fetcher = storeFetcher{st}
	up, err := updater.New(cfg)
	if err != nil {
		return nil, err
	}
	up.UnsafeSetRefTime(at)
	return up, up.Refresh()
}

func TestInitIdempotentAndTargets(t *testing.T) {
	ctx := t.Context()
	st := memstore.New()
	keysDir := filepath.Join(t.TempDir(), "keys")
	r, keys, err := Init(ctx, st, "", keysDir, now, Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{TargetsKeyFile, OnlineKeyFile, "tuf-root-1.key"} {
		st, err := os.Stat(filepath.Join(keysDir, f))
		if err != nil || st.Mode().Perm() != 0o600 {
			t.Fatalf("%s: %v %v", f, st, err)
		}
	}
	before := st.Keys()
	if _, _, err := Init(ctx, st, "", keysDir, now.Add(time.Hour), Options{}); err != nil {
		t.Fatal(err)
	}
	if after := st.Keys(); len(after) != len(before) {
		t.Fatalf("second Init wrote files: %v -> %v", before, after)
	}
	want := map[string]*metadata.TargetFiles{"agent/1.0.0/a.tar.gz": {Length: 3, Hashes: metadata.Hashes{"sha256": bytes.Repeat([]byte{1}, 32)}}}
	if changed, err := r.SetTargets(ctx, keys, want, now); err != nil || !changed {
		t.Fatalf("SetTargets: %v %v", changed, err)
	}
	if changed, err := r.SetTargets(ctx, keys, want, now); err != nil || changed {
		t.Fatalf("same targets again: %v %v", changed, err)
	}
	root, _ := r.RootJSON()
	up, err := refresh(t, st, root, t.TempDir(), now.Add(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	if tf, err := up.GetTargetInfo("agent/1.0.0/a.tar.gz"); err != nil || tf.Length != 3 {
		t.Fatalf("target %v %v", tf, err)
	}
	// The server's online key keeps the timestamp fresh; without it a
	// client sees expired metadata after a day.
	if _, err := refresh(t, st, root, t.TempDir(), now.Add(30*time.Hour)); !errors.Is(err, &metadata.ErrExpiredMetadata{}) {
		t.Fatalf("stale timestamp: %v", err)
	}
	r2, err := Open(ctx, st, "", Options{})
	if err != nil {
		t.Fatal(err)
	}
	if did, err := r2.Refresh(ctx, keys.Online, now.Add(time.Hour)); err != nil || did {
		t.Fatalf("young timestamp re-signed: %v %v", did, err)
	}
	if did, err := r2.Refresh(ctx, keys.Online, now.Add(29*time.Hour)); err != nil || !did {
		t.Fatalf("old timestamp not re-signed: %v %v", did, err)
	}
	if _, err := refresh(t, st, root, t.TempDir(), now.Add(30*time.Hour)); err != nil {
		t.Fatalf("after Refresh: %v", err)
	}
}

func TestRotateKeys(t *testing.T) {
	ctx := t.Context()
	st := memstore.New()
	keysDir := filepath.Join(t.TempDir(), "keys")
	r, _, err := Init(ctx, st, "", keysDir, now, Options{})
	if err != nil {
		t.Fatal(err)
	}
	root1, _ := r.RootJSON()
	cache := t.TempDir() // a client that trusted root v1 and keeps its cache
	if _, err := refresh(t, st, root1, cache, now); err != nil {
		t.Fatal(err)
	}
	for i, role := range []string{RoleTargets, RoleOnline, RoleRoot} {
		if err := r.RotateKey(ctx, keysDir, role, now.Add(time.Duration(i+1)*time.Minute)); err != nil {
			t.Fatalf("rotate %s: %v", role, err)
		}
		cached, _ := os.ReadFile(filepath.Join(cache, "root.json"))
		if _, err := refresh(t, st, cached, cache, now.Add(time.Duration(i+1)*time.Minute)); err != nil {
			t.Fatalf("client after %s rotation: %v", role, err)
		}
		// A fresh client shipped with root v1 also follows the chain.
		if _, err := refresh(t, st, root1, t.TempDir(), now.Add(time.Duration(i+1)*time.Minute)); err != nil {
			t.Fatalf("new client after %s rotation: %v", role, err)
		}
	}
	if r.Root.Signed.Version != 4 {
		t.Fatalf("root version %d", r.Root.Signed.Version)
	}
	retired, _ := filepath.Glob(filepath.Join(keysDir, "*.retired-*"))
	if len(retired) != 3 {
		t.Fatalf("retired keys %v", retired)
	}
	if err := r.RotateKey(ctx, keysDir, "admin", now); err == nil {
		t.Fatal("unknown role rotated")
	}
}

func TestIsMetadataName(t *testing.T) {
	for name, want := range map[string]bool{"1.root.json": true, "timestamp.json": true, "12.targets.json": true,
		"root.json": true, "0.root.json": false, "01.root.json": false, "../x.json": false, "1.keys.json": false, "snapshot.json": false} {
		if IsMetadataName(name) != want {
			t.Errorf("%s: want %v", name, want)
		}
	}
}

// TestRootThreshold: a 2-of-3 root verifies for clients, and a root
// signed by only one of the three keys is refused.
func TestRootThreshold(t *testing.T) {
	ctx := t.Context()
	st := memstore.New()
	keysDir := filepath.Join(t.TempDir(), "keys")
	r, keys, err := Init(ctx, st, "", keysDir, now, Options{RootKeys: 3, RootThreshold: 2})
	if err != nil {
		t.Fatal(err)
	}
	if len(keys.Root) != 3 || r.Root.Signed.Roles[metadata.ROOT].Threshold != 2 || len(r.Root.Signatures) != 3 {
		t.Fatalf("root: %d keys, threshold %d, %d signatures", len(keys.Root), r.Root.Signed.Roles[metadata.ROOT].Threshold, len(r.Root.Signatures))
	}
	root, _ := r.RootJSON()
	if _, err := refresh(t, st, root, t.TempDir(), now); err != nil {
		t.Fatal(err)
	}
	// Root v2 signed by one key only: clients must refuse it.
	r.Root.Signed.Version = 2
	r.Root.ClearSignatures()
	if _, err := r.Root.Sign(keys.Root[0]); err != nil {
		t.Fatal(err)
	}
	if err := r.putRoot(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := refresh(t, st, root, t.TempDir(), now); !errors.Is(err, &metadata.ErrUnsignedMetadata{}) {
		t.Fatalf("under-signed root: %v", err)
	}
	if _, _, err := Init(ctx, memstore.New(), "", t.TempDir(), now, Options{RootKeys: 1, RootThreshold: 2}); err == nil {
		t.Fatal("threshold above the number of keys accepted")
	}
}
