package storetest

import (
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/slipwayhq/slipway/server/store"
)

// RunRolloutGates is the conformance suite of store.RolloutGateStore: the
// compare-and-swap lets exactly one of several concurrent savers win.
func RunRolloutGates(t *testing.T, newStore func(t *testing.T) store.Store) {
	s, ok := newStore(t).(store.RolloutGateStore)
	if !ok {
		t.Fatal("store does not implement RolloutGateStore")
	}
	ctx := t.Context()
	if st, rev, err := s.LoadRolloutGate(ctx, "agent", "stable"); st != nil || rev != 0 || err != nil {
		t.Fatalf("empty load: %q %d %v", st, rev, err)
	}
	// Eight replicas decide at once from revision 0: one wins.
	var wg sync.WaitGroup
	wins := make([]bool, 8)
	for i := range wins {
		wg.Go(func() {
			ok, err := s.SaveRolloutGate(ctx, "agent", "stable", 0, []byte(`{"replica":`+string(rune('0'+i))+`}`), t0)
			if err != nil {
				t.Error(err)
			}
			wins[i] = ok
		})
	}
	wg.Wait()
	n := 0
	for _, w := range wins {
		if w {
			n++
		}
	}
	if n != 1 {
		t.Fatalf("%d replicas won the first save, want 1", n)
	}
	st, rev, err := s.LoadRolloutGate(ctx, "agent", "stable")
	if err != nil || rev != 1 || !strings.HasPrefix(string(st), `{"replica":`) {
		t.Fatalf("after first save: %q %d %v", st, rev, err)
	}
	for i := range wins {
		wg.Go(func() {
			ok, err := s.SaveRolloutGate(ctx, "agent", "stable", 1, []byte(`{"step":2}`), t0)
			if err != nil {
				t.Error(err)
			}
			wins[i] = ok
		})
	}
	wg.Wait()
	n = 0
	for _, w := range wins {
		if w {
			n++
		}
	}
	if st, rev, _ := s.LoadRolloutGate(ctx, "agent", "stable"); n != 1 || rev != 2 || string(st) != `{"step":2}` {
		t.Fatalf("second round: %d winners, %q rev %d", n, st, rev)
	}
	if ok, err := s.SaveRolloutGate(ctx, "agent", "stable", 1, []byte(`{}`), t0); ok || err != nil {
		t.Fatalf("stale revision: %v %v", ok, err)
	}
	if _, rev, _ := s.LoadRolloutGate(ctx, "agent", "beta"); rev != 0 {
		t.Fatal("channels share a state")
	}
	for _, bad := range []struct {
		product string
		rev     int64
		state   []byte
	}{
		{"", 0, []byte(`{}`)},
		{"agent", -1, []byte(`{}`)},
		{"agent", 0, nil},
		{"agent", 0, make([]byte, store.MaxRolloutGateState+1)},
		{strings.Repeat("p", 65), 0, []byte(`{}`)},
	} {
		if _, err := s.SaveRolloutGate(ctx, bad.product, "stable", bad.rev, bad.state, t0); !errors.Is(err, store.ErrInvalid) {
			t.Errorf("save %q rev %d (%d bytes): %v", bad.product, bad.rev, len(bad.state), err)
		}
	}
}
