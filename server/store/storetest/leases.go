package storetest

import (
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/slipwayhq/slipway/server/store"
)

// testLeases: one holder at a time; the holder renews; another takes
// over once it expired; concurrent takers have exactly one winner; bad
// arguments are refused.
func testLeases(t *testing.T, s store.Store) {
	ls, ok := s.(store.LeaseStore)
	if !ok {
		t.Fatal("store does not implement store.LeaseStore")
	}
	ctx := t.Context()
	acquire := func(holder string, at time.Time) bool {
		t.Helper()
		got, err := ls.AcquireLease(ctx, "tuf-sign", holder, at, time.Minute)
		must(t, err)
		return got
	}
	if !acquire("a", t0) {
		t.Fatal("free lease not taken")
	}
	if acquire("b", t0.Add(30*time.Second)) {
		t.Fatal("b took a's live lease")
	}
	if !acquire("a", t0.Add(50*time.Second)) { // renewal until t0+110s
		t.Fatal("holder could not renew")
	}
	if acquire("b", t0.Add(100*time.Second)) {
		t.Fatal("b took the renewed lease")
	}
	if !acquire("b", t0.Add(111*time.Second)) {
		t.Fatal("expired lease not taken over")
	}
	var wins atomic.Int32
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			got, err := ls.AcquireLease(ctx, "race", string(rune('a'+i)), t0, time.Minute)
			if err != nil {
				t.Error(err)
			}
			if got {
				wins.Add(1)
			}
		}()
	}
	wg.Wait()
	if wins.Load() != 1 {
		t.Fatalf("%d replicas won the same lease", wins.Load())
	}
	for _, bad := range []struct {
		name, holder string
		ttl          time.Duration
	}{{"", "a", time.Minute}, {"x", "", time.Minute}, {strings.Repeat("x", store.MaxLeaseName+1), "a", time.Minute},
		{"x", "a", 0}, {"x", "a", 25 * time.Hour}} {
		if _, err := ls.AcquireLease(ctx, bad.name, bad.holder, t0, bad.ttl); !errors.Is(err, store.ErrInvalid) {
			t.Errorf("AcquireLease(%q, %q, %v): %v", bad.name, bad.holder, bad.ttl, err)
		}
	}
}
