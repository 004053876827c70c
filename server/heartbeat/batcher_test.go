package heartbeat

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/slipwayhq/slipway/server/store"
)

// recorder is a HeartbeatStore that records committed batches.
type recorder struct {
	store.HeartbeatStore
	mu      sync.Mutex
	batches [][]store.Heartbeat
	fail    error
}

func (r *recorder) RecordHeartbeats(_ context.Context, hbs []store.Heartbeat) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.fail != nil {
		return r.fail
	}
	r.batches = append(r.batches, append([]store.Heartbeat(nil), hbs...))
	return nil
}

func start(t *testing.T, st store.HeartbeatStore, opts Options) (*Batcher, context.CancelFunc, chan error) {
	t.Helper()
	b := New(st, opts)
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- b.Run(ctx) }()
	return b, cancel, done
}

func TestEveryAckIsCommitted(t *testing.T) {
	rec := &recorder{}
	b, cancel, done := start(t, rec, Options{MaxBatch: 16})
	var wg sync.WaitGroup
	for i := range 200 {
		wg.Go(func() {
			if err := b.Submit(t.Context(), store.Heartbeat{MachineID: fmt.Sprint(i)}); err != nil {
				t.Errorf("submit %d: %v", i, err)
			}
		})
	}
	wg.Wait()
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, batch := range rec.batches {
		if len(batch) > 16 {
			t.Fatalf("batch of %d exceeds MaxBatch", len(batch))
		}
		for _, h := range batch {
			seen[h.MachineID] = true
		}
	}
	if len(seen) != 200 {
		t.Fatalf("%d heartbeats committed, want 200", len(seen))
	}
	if err := b.Submit(t.Context(), store.Heartbeat{}); !errors.Is(err, ErrClosed) {
		t.Fatalf("submit after stop: %v", err)
	}
}

func TestCommitFailureReachesCallers(t *testing.T) {
	boom := errors.New("disk full")
	var observed error
	b, cancel, _ := start(t, &recorder{fail: boom}, Options{OnCommit: func(_ int, _ time.Duration, err error) { observed = err }})
	defer cancel()
	if err := b.Submit(t.Context(), store.Heartbeat{MachineID: "m"}); !errors.Is(err, boom) {
		t.Fatalf("Submit = %v, want %v", err, boom)
	}
	cancel()
	if !errors.Is(observed, boom) {
		t.Fatalf("OnCommit saw %v", observed)
	}
}

func TestSubmitHonoursContext(t *testing.T) {
	b := New(&recorder{}, Options{MaxBatch: 1, Queue: 1}) // not running: the queue fills
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if err := b.Submit(ctx, store.Heartbeat{}); !errors.Is(err, context.Canceled) {
		t.Fatalf("Submit = %v", err)
	}
}

// TestMaxWaitGathers: with MaxWait, heartbeats submitted one after another
// share one commit; a full batch commits without waiting out MaxWait.
func TestMaxWaitGathers(t *testing.T) {
	rec := &recorder{}
	b, cancel, done := start(t, rec, Options{MaxBatch: 3, MaxWait: time.Hour})
	var wg sync.WaitGroup
	for i := range 3 {
		wg.Go(func() {
			if err := b.Submit(t.Context(), store.Heartbeat{MachineID: fmt.Sprint(i)}); err != nil {
				t.Errorf("submit %d: %v", i, err)
			}
		})
		time.Sleep(5 * time.Millisecond) // arrive one by one, not queued together
	}
	wg.Wait() // returns only because the third heartbeat filled the batch
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if len(rec.batches) != 1 || len(rec.batches[0]) != 3 {
		t.Fatalf("batches %v, want one of 3", rec.batches)
	}
}

// TestMaxWaitEndsAtShutdown: a batch held open by MaxWait is committed when
// the batcher stops, not abandoned.
func TestMaxWaitEndsAtShutdown(t *testing.T) {
	rec := &recorder{}
	b, cancel, done := start(t, rec, Options{MaxBatch: 10, MaxWait: time.Hour})
	errc := make(chan error, 1)
	go func() { errc <- b.Submit(t.Context(), store.Heartbeat{MachineID: "m"}) }()
	time.Sleep(20 * time.Millisecond) // let Run take it into the held batch
	cancel()
	if err := <-errc; err != nil {
		t.Fatalf("held heartbeat: %v", err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if len(rec.batches) != 1 || len(rec.batches[0]) != 1 {
		t.Fatalf("batches %v, want the held heartbeat committed", rec.batches)
	}
}
