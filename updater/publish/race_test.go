package publish

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/slipwayhq/slipway/internal/s3test"
	"github.com/slipwayhq/slipway/storage"
	"github.com/slipwayhq/slipway/storage/fs"
	"github.com/slipwayhq/slipway/updater/catalog"
	"github.com/slipwayhq/slipway/updater/channel"
	"github.com/slipwayhq/slipway/updater/repo"
	"github.com/slipwayhq/slipway/updater/updatertest"
)

// plainStore hides PutIf: a store without conditional writes.
type plainStore struct{ storage.Store }

// raceStores are the real stores the race tests run against.
func raceStores(t *testing.T) map[string]func(t *testing.T) storage.Store {
	return map[string]func(t *testing.T) storage.Store{
		"fs": func(t *testing.T) storage.Store {
			st, err := fs.New(t.TempDir(), fs.Options{})
			if err != nil {
				t.Fatal(err)
			}
			return st
		},
		"s3": func(t *testing.T) storage.Store { return s3test.Start(t).Store(t, "") },
	}
}

type raceWorld struct {
	st   storage.Store
	cfg  Config
	keys *repo.Keys
	file *channel.File
}

func newRaceWorld(t *testing.T, st storage.Store, versions int) *raceWorld {
	t.Helper()
	pub := updatertest.New(t, st, "p", 1)
	for i := range versions {
		v := fmt.Sprintf("1.%d.0", i)
		pub.Publish(t, "agent", v, updatertest.Agent(v)...)
	}
	keys, err := repo.EnsureKeys(filepath.Join(t.TempDir(), "keys"), 1)
	if err != nil {
		t.Fatal(err)
	}
	w := &raceWorld{st: st, keys: keys, file: &channel.File{},
		cfg: Config{Store: st, Prefix: "p", Verifier: catalog.Minisign{Key: pub.PK}}}
	w.apply(t, "1.0.0", now)
	return w
}

func (w *raceWorld) apply(t *testing.T, version string, at time.Time) {
	t.Helper()
	if err := w.tryApply(version, at); err != nil {
		t.Errorf("apply %s: %v", version, err)
	}
}

func (w *raceWorld) tryApply(version string, at time.Time) error {
	if err := w.file.Promote("agent", "stable", version, 100); err != nil {
		return err
	}
	_, err := Apply(context.Background(), w.cfg, w.file, w.keys, at)
	return err
}

// serves reports whether the stored TUF targets put version on stable.
func serves(t *testing.T, st storage.Store, version string) bool {
	t.Helper()
	r, err := repo.Open(t.Context(), st, "p", repo.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for path, tf := range r.Targets.Signed.Targets {
		if c := customOf(tf); tf.Custom != nil && bytes.Contains([]byte(c), []byte(`"stable"`)) && bytes.Contains([]byte(path), []byte("/"+version+"/")) {
			return true
		}
	}
	return false
}

// TestApplyRacesServerResign reproduces issue 12's "replicas re-sign with
// no coordination" for `slipway apply`, which takes no lease: a server
// that opened the metadata before an apply landed re-signs the timestamp
// after it and, with plain writes, puts back a timestamp that names the
// old snapshot: the apply is lost. With conditional writes (create-only
// versioned files, compare-and-swap timestamp.json) the late re-sign is
// refused (repo.ErrConflict) and the apply stands. Then an apply loop
// and a re-signing loop run concurrently: every apply is kept, timestamp
// versions only grow and the final timestamp pins its snapshot's hash.
func TestApplyRacesServerResign(t *testing.T) {
	for name, open := range raceStores(t) {
		t.Run(name, func(t *testing.T) {
			ctx := t.Context()
			w := newRaceWorld(t, open(t), 8)
			day := 24 * time.Hour

			// Without conditional writes: the apply is lost.
			plain := plainStore{w.st}
			stale, err := repo.Open(ctx, plain, "p", repo.Options{})
			if err != nil {
				t.Fatal(err)
			}
			w.apply(t, "1.1.0", now.Add(time.Minute))
			if _, err := stale.Refresh(ctx, w.keys.Online, now.Add(40*day)); err != nil {
				t.Fatal(err)
			}
			if serves(t, w.st, "1.1.0") {
				t.Fatal("plain writes: the apply survived the stale re-sign (reproduction broken)")
			}
			// With them: the stale re-sign is refused.
			stale, err = repo.Open(ctx, w.st, "p", repo.Options{})
			if err != nil {
				t.Fatal(err)
			}
			w.apply(t, "1.2.0", now.Add(41*day))
			if _, err := stale.Refresh(ctx, w.keys.Online, now.Add(80*day)); !errors.Is(err, repo.ErrConflict) {
				t.Fatalf("stale re-sign after an apply: %v, want ErrConflict", err)
			}
			if !serves(t, w.st, "1.2.0") {
				t.Fatal("the apply was lost to a stale re-sign")
			}

			// Concurrently.
			// An apply that gives up (repo.ErrConflict after its retries)
			// must say so; one that succeeds must stay visible.
			var wg sync.WaitGroup
			done := make(chan struct{})
			applied, gaveUp := "", 0
			wg.Go(func() {
				defer close(done)
				for i := 3; i < 8; i++ {
					v := fmt.Sprintf("1.%d.0", i)
					switch err := w.tryApply(v, now.Add(100*day)); {
					case err == nil:
						applied = v
					case errors.Is(err, repo.ErrConflict):
						gaveUp++
					default:
						t.Errorf("apply %s: %v", v, err)
					}
				}
			})
			resigns, conflicts := 0, 0
			wg.Go(func() { resigns, conflicts = resignLoop(t, w, now.Add(100*day), done) })
			var seen []int64
			wg.Go(func() { seen = pollTimestamps(t, w.st, done) })
			wg.Wait()
			t.Logf("applies: last applied %s, %d gave up; %d re-signs, %d refused as conflicts, %d timestamps seen",
				applied, gaveUp, resigns, conflicts, len(seen))
			// Safety, whatever the interleaving (a loaded machine may
			// starve applies against this tight re-signing loop; a real
			// server re-signs every few hours): nothing acknowledged is lost.
			if applied == "" {
				applied = "1.2.0"
			}
			for i := 1; i < len(seen); i++ {
				if seen[i] < seen[i-1] {
					t.Fatalf("timestamp went back from version %d to %d", seen[i-1], seen[i])
				}
			}
			if !serves(t, w.st, applied) {
				t.Fatalf("the last successful apply (%s) was lost", applied)
			}
			checkPinned(t, w.st)
			// With the re-signing stopped, an apply lands.
			w.apply(t, "1.7.0", now.Add(200*day))
			if !serves(t, w.st, "1.7.0") {
				t.Fatal("apply after the race not visible")
			}
			checkPinned(t, w.st)
		})
	}
}

// resignLoop re-signs timestamp (and snapshot) as a server would, each
// time a little later, until done.
func resignLoop(t *testing.T, w *raceWorld, at time.Time, done <-chan struct{}) (resigns, conflicts int) {
	for {
		select {
		case <-done:
			return resigns, conflicts
		default:
		}
		at = at.Add(13 * time.Hour)
		time.Sleep(50 * time.Millisecond) // a very busy server (a real one re-signs every few hours)
		r, err := repo.Open(context.Background(), w.st, "p", repo.Options{})
		if err != nil {
			continue // a file replaced while read (S3): try again
		}
		_, err = r.Refresh(context.Background(), w.keys.Online, at)
		switch {
		case errors.Is(err, repo.ErrConflict):
			conflicts++
		case err != nil:
			t.Error(err)
			return resigns, conflicts
		default:
			resigns++
		}
	}
}

func pollTimestamps(t *testing.T, st storage.Store, done <-chan struct{}) []int64 {
	var out []int64
	for {
		select {
		case <-done:
			return out
		default:
		}
		r, err := repo.Open(context.Background(), st, "p", repo.Options{})
		if err == nil {
			out = append(out, r.Timestamp.Signed.Version)
		}
		time.Sleep(time.Millisecond)
	}
}

// checkPinned: timestamp.json names a snapshot whose bytes match its hash.
func checkPinned(t *testing.T, st storage.Store) {
	t.Helper()
	r, err := repo.Open(t.Context(), st, "p", repo.Options{})
	if err != nil {
		t.Fatal(err)
	}
	mf := r.Timestamp.Signed.Meta["snapshot.json"]
	data, _, err := catalog.ReadLimited(t.Context(), st, "p/tuf/"+strconv.FormatInt(mf.Version, 10)+".snapshot.json", repo.MaxMetadataSize)
	if err != nil {
		t.Fatal(err)
	}
	if sum := sha256.Sum256(data); !bytes.Equal(sum[:], mf.Hashes["sha256"]) || int64(len(data)) != mf.Length {
		t.Fatalf("timestamp pins snapshot %d with another hash or length", mf.Version)
	}
}
