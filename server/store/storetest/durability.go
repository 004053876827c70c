package storetest

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/slipwayhq/slipway/server/heartbeat"
	"github.com/slipwayhq/slipway/server/store"
)

// testAckedHeartbeatsStored sends heartbeats from concurrent callers through
// the real group-commit batcher into the store and stops the batcher while
// they are still sending: every heartbeat whose Submit returned nil (what the
// server acknowledges) must be in the history of its machine, and nothing
// that was never sent may be.
func testAckedHeartbeatsStored(t *testing.T, s store.Store) {
	const machines, senders, perSender = 12, 8, 60
	tenant(t, s, "a")
	for i := range machines {
		register(t, s, machine("a", fmt.Sprint("m", i), fmt.Sprint("fp", i)), fmt.Sprint("t", i))
	}
	b := heartbeat.New(s, heartbeat.Options{MaxBatch: 16})
	runCtx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- b.Run(runCtx) }()
	var acked [machines]atomic.Int64
	var sent atomic.Int64
	var wg sync.WaitGroup
	for w := range senders {
		wg.Go(func() {
			for i := range perSender {
				if w == 0 && i == perSender/2 {
					stop() // the others are mid-flight
				}
				m := (w*perSender + i) % machines
				sent.Add(1)
				err := b.Submit(t.Context(), store.Heartbeat{MachineID: fmt.Sprint("m", m),
					At: t0.Add(time.Duration(w*perSender+i) * time.Millisecond), Status: "ok", AgentVersion: "1.0.0",
					Metrics: []byte(fmt.Sprintf(`{"sender":%d,"i":%d}`, w, i))})
				if err == nil {
					acked[m].Add(1)
				}
			}
		})
	}
	wg.Wait()
	stop()
	must(t, <-done)
	var total int64
	for m := range machines {
		hist, err := s.ListHeartbeats(t.Context(), fmt.Sprint("m", m), 1000)
		must(t, err)
		if got, want := int64(len(hist)), acked[m].Load(); got < want {
			t.Errorf("machine m%d: %d heartbeats stored, %d acknowledged", m, got, want)
		}
		total += acked[m].Load()
	}
	n, err := s.CountHeartbeats(t.Context())
	must(t, err)
	if n < total || n > sent.Load() {
		t.Fatalf("stored %d heartbeats: %d acknowledged, %d sent", n, total, sent.Load())
	}
	if total == 0 {
		t.Fatal("no heartbeat was acknowledged")
	}
}
