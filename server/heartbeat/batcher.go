// Package heartbeat persists machine heartbeats through one writer goroutine
// with group commit: concurrent heartbeats are gathered into one database
// transaction, and each caller is answered only after its batch committed.
package heartbeat

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	batchpkg "github.com/slipwayhq/slipway/internal/batch"
	"github.com/slipwayhq/slipway/server/store"
)

// ErrClosed: the batcher has stopped.
var ErrClosed = errors.New("heartbeat: batcher stopped")

// Options tunes batching; the zero value is safe.
type Options struct {
	// MaxBatch is the most heartbeats per transaction. Default: 512.
	MaxBatch int
	// Queue is the pending-heartbeat buffer. Default: 4 × MaxBatch.
	Queue int
	// MaxWait, when positive, holds a batch open for up to this long after
	// its first heartbeat (or until MaxBatch), so more heartbeats share the
	// commit. Zero commits at once with whatever is already queued, which
	// is best when the database is in process (SQLite); a shared database
	// server that is the bottleneck does more with fewer, larger
	// transactions (docs/benchmarks/postgres.md).
	MaxWait time.Duration
	// Logger for commit failures. Default: discard.
	Logger *slog.Logger
	// OnCommit, if set, observes each committed batch (for metrics).
	OnCommit func(size int, took time.Duration, err error)
}

type request struct {
	hb   store.Heartbeat
	done chan error
}

// Batcher is the single heartbeat writer.
type Batcher struct {
	st      store.HeartbeatStore
	opts    Options
	in      chan request
	stopped chan struct{}
}

// New returns a batcher writing to st; start it with Run.
func New(st store.HeartbeatStore, opts Options) *Batcher {
	if opts.MaxBatch <= 0 {
		opts.MaxBatch = 512
	}
	if opts.Queue <= 0 {
		opts.Queue = 4 * opts.MaxBatch
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	return &Batcher{st: st, opts: opts, in: make(chan request, opts.Queue), stopped: make(chan struct{})}
}

// Submit queues a heartbeat and waits until it is persisted (nil) or failed.
func (b *Batcher) Submit(ctx context.Context, hb store.Heartbeat) error {
	req := request{hb: hb, done: make(chan error, 1)}
	select {
	case b.in <- req:
	case <-b.stopped:
		return ErrClosed
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case err := <-req.done:
		return err
	case <-b.stopped:
		// Run drains and answers everything queued before it returns.
		select {
		case err := <-req.done:
			return err
		default:
			return ErrClosed
		}
	case <-ctx.Done():
		// The write may still commit; the caller only learns it was not acknowledged.
		return ctx.Err()
	}
}

// Run writes batches until ctx is done, then commits what is queued and returns.
func (b *Batcher) Run(ctx context.Context) error {
	defer close(b.stopped)
	batch := make([]request, 0, b.opts.MaxBatch)
	for {
		select {
		case <-ctx.Done():
			b.drain(batch)
			return nil
		case req := <-b.in:
			// Take whatever else is already waiting: this is the group commit.
			b.commit(batchpkg.Gather(b.in, append(batch[:0], req), b.opts.MaxBatch, b.opts.MaxWait, ctx.Done()))
		}
	}
}

// drain commits everything still queued.
func (b *Batcher) drain(batch []request) {
	for {
		batch = batchpkg.Take(b.in, batch[:0], b.opts.MaxBatch)
		if len(batch) == 0 {
			return
		}
		b.commit(batch)
	}
}

func (b *Batcher) commit(batch []request) {
	hbs := make([]store.Heartbeat, len(batch))
	for i, r := range batch {
		hbs[i] = r.hb
	}
	start := time.Now()
	// The commit must finish even while shutting down: callers wait for it.
	err := b.st.RecordHeartbeats(context.Background(), hbs)
	if err != nil {
		err = fmt.Errorf("heartbeat: commit %d: %w", len(hbs), err)
		b.opts.Logger.Error("heartbeat batch failed", "size", len(hbs), "err", err)
	}
	if b.opts.OnCommit != nil {
		b.opts.OnCommit(len(hbs), time.Since(start), err)
	}
	for _, r := range batch {
		r.done <- err
	}
}
