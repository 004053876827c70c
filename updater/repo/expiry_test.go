package repo

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/theupdateframework/go-tuf/v2/metadata"

	"github.com/slipwayhq/slipway/updater/internal/memstore"
)

// followWorkflow simulates days of operation: the server's online key
// refreshes every day and, if weekly is set, the scheduled
// `slipway tuf refresh --within 60d` runs every 7 days. A client with a
// cache checks 23 hours after every server tick. It returns the first
// day a client refresh failed (-1 if none).
func followWorkflow(t *testing.T, days int, weekly bool) (int, error) {
	t.Helper()
	ctx := t.Context()
	st := memstore.New()
	keysDir := filepath.Join(t.TempDir(), "keys")
	r, keys, err := Init(ctx, st, "", keysDir, now, Options{})
	if err != nil {
		t.Fatal(err)
	}
	root, _ := r.RootJSON()
	cache := t.TempDir()
	for step := 0; step < days; step++ {
		at := now.Add(time.Duration(step) * 24 * time.Hour)
		server, err := Open(ctx, st, "", Options{})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := server.Refresh(ctx, keys.Online, at); err != nil {
			t.Fatal(err)
		}
		if weekly && step%7 == 0 {
			job, err := Open(ctx, st, "", Options{})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := job.RefreshOffline(ctx, keys, at, 60*24*time.Hour); err != nil {
				t.Fatal(err)
			}
		}
		cached, _ := os.ReadFile(filepath.Join(cache, "root.json"))
		if cached == nil {
			cached = root
		}
		if _, err := refresh(t, st, cached, cache, at.Add(23*time.Hour)); err != nil {
			return step, err
		}
	}
	return -1, nil
}

// TestMetadataExpiresWithoutOfflineRefresh reproduces the fleet-wide
// outage: the online key keeps timestamp and snapshot fresh, but targets
// (180 days) expire and every client stops updating.
func TestMetadataExpiresWithoutOfflineRefresh(t *testing.T) {
	day, err := followWorkflow(t, 200, false)
	if day < 0 || day > 180 || !errors.Is(err, &metadata.ErrExpiredMetadata{}) {
		t.Fatalf("want expiry by day 180, got day %d: %v", day, err)
	}
}

// TestWorkflowKeepsMetadataFresh: with the weekly refresh job, 400 days
// pass (root expires after 365) without a client ever seeing expired
// metadata.
func TestWorkflowKeepsMetadataFresh(t *testing.T) {
	if day, err := followWorkflow(t, 400, true); day >= 0 {
		t.Fatalf("client failed on day %d: %v", day, err)
	}
}

func TestRefreshOffline(t *testing.T) {
	ctx := t.Context()
	st := memstore.New()
	keysDir := filepath.Join(t.TempDir(), "keys")
	r, keys, err := Init(ctx, st, "", keysDir, now, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if done, err := r.RefreshOffline(ctx, keys, now, 60*24*time.Hour); err != nil || len(done) != 0 {
		t.Fatalf("fresh repository re-signed %v: %v", done, err)
	}
	at := now.Add(330 * 24 * time.Hour)
	done, err := r.RefreshOffline(ctx, keys, at, 60*24*time.Hour)
	if err != nil || !slices.Equal(done, []string{"root", "targets", "snapshot", "timestamp"}) {
		t.Fatalf("due roles: %v %v", done, err)
	}
	for _, s := range r.Status()[:2] {
		if s.Left(at) < 29*24*time.Hour {
			t.Errorf("%s still expires in %v", s.Role, s.Left(at))
		}
	}
	// Without the root and targets keys (only the online key), due roles
	// are reported, not silently skipped.
	later := at.Add(340 * 24 * time.Hour)
	done, err = r.RefreshOffline(ctx, &Keys{Online: keys.Online}, later, 60*24*time.Hour)
	if !errors.Is(err, ErrNoKey) || len(done) != 0 {
		t.Fatalf("missing keys: %v %v", done, err)
	}
	// A root key the root does not trust is not enough.
	stranger, _, _ := GenerateKey()
	if err := r.resignRoot(ctx, []*Signer{stranger}, later); !errors.Is(err, ErrNoKey) {
		t.Fatalf("untrusted root key: %v", err)
	}
	if !r.CanSign(keys.Online, metadata.TIMESTAMP) || r.CanSign(stranger, metadata.TIMESTAMP) || r.CanSign(nil, metadata.ROOT) {
		t.Fatal("CanSign")
	}
}
