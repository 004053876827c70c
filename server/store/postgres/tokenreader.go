package postgres

import (
	"context"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	batchpkg "github.com/slipwayhq/slipway/internal/batch"
	"github.com/slipwayhq/slipway/server/store"
)

// tokenReader coalesces concurrent machine-token lookups into one query.
//
// Every heartbeat authenticates with its token, so one SELECT per request
// would be the largest database cost of heartbeat ingest (a round trip, a
// statement execution and two loopback syscalls each). Instead, a few
// workers each take one pending lookup, drain whatever else is already
// waiting (up to maxTokenBatch) and answer all of them from one
// `hash = ANY($1)` query. Nothing is cached and nothing waits for a timer:
// every lookup is read by a query that starts after the lookup was asked
// for, so a token revoked through another replica is refused at once, and
// an idle server answers a lone lookup with a lone query.
type tokenReader struct {
	pool    *pgxpool.Pool
	in      chan *tokenLookup
	quit    chan struct{}
	stop    sync.Once
	workers sync.WaitGroup
}

type tokenLookup struct {
	hash []byte
	done chan tokenResult
}

type tokenResult struct {
	tok store.Token
	err error
}

const (
	maxTokenBatch = 256
	// tokenWorkers is how many batch queries may be in flight at once. One
	// keeps batches largest: with two, heartbeat ingest on two replicas
	// was 10 % slower (more, smaller queries for the same lookups).
	tokenWorkers = 1
	// tokenBatchWait holds each lookup batch open this long for more
	// lookups: fewer, larger queries cost the shared database less CPU, for
	// at most this much more latency on machine-token requests.
	tokenBatchWait = 500 * time.Microsecond
	// tokenQueryTimeout bounds one batch query (the callers' contexts are
	// not the query's: one caller giving up must not fail the others).
	tokenQueryTimeout = 10 * time.Second
)

func newTokenReader(pool *pgxpool.Pool) *tokenReader {
	r := &tokenReader{pool: pool, in: make(chan *tokenLookup, 4*maxTokenBatch), quit: make(chan struct{})}
	for range tokenWorkers {
		r.workers.Go(r.run)
	}
	return r
}

// close stops the workers; lookups still queued are answered with an error.
func (r *tokenReader) close() {
	r.stop.Do(func() { close(r.quit) })
	r.workers.Wait()
}

// get looks one token up through the next batch.
func (r *tokenReader) get(ctx context.Context, hash []byte) (store.Token, error) {
	if err := ctx.Err(); err != nil {
		return store.Token{}, wrap("get token", err)
	}
	l := &tokenLookup{hash: hash, done: make(chan tokenResult, 1)}
	select {
	case r.in <- l:
	case <-r.quit:
		return store.Token{}, errStoreClosed
	case <-ctx.Done():
		return store.Token{}, wrap("get token", ctx.Err())
	}
	select {
	case res := <-l.done:
		return res.tok, res.err
	case <-r.quit: // closing: the workers may be gone before they see l
		return store.Token{}, errStoreClosed
	case <-ctx.Done():
		return store.Token{}, wrap("get token", ctx.Err())
	}
}

func (r *tokenReader) run() {
	batch := make([]*tokenLookup, 0, maxTokenBatch)
	for {
		select {
		case l := <-r.in:
			// Held open tokenBatchWait so more lookups share the query.
			batch = batchpkg.Gather(r.in, append(batch[:0], l), maxTokenBatch, tokenBatchWait, r.quit)
		case <-r.quit:
			r.drain()
			return
		}
		r.answer(batch)
		clear(batch)
	}
}

// drain fails the lookups left in the queue after close.
func (r *tokenReader) drain() {
	for {
		select {
		case l := <-r.in:
			l.done <- tokenResult{err: errStoreClosed}
		default:
			return
		}
	}
}

// answer reads every token of the batch in one query and answers each
// lookup: its row, or store.ErrNotFound.
func (r *tokenReader) answer(batch []*tokenLookup) {
	hashes := make([][]byte, len(batch))
	for i, l := range batch {
		hashes[i] = l.hash
	}
	ctx, cancel := context.WithTimeout(context.Background(), tokenQueryTimeout)
	defer cancel()
	found := make(map[string]store.Token, len(batch))
	rows, _ := r.pool.Query(ctx,
		"SELECT hash, machine_id, tenant_id, client, created_at, expires_at, revoked_at FROM tokens WHERE hash = ANY($1)", hashes)
	var t store.Token
	var created, expires, revoked int64
	_, err := pgx.ForEachRow(rows, []any{&t.Hash, &t.MachineID, &t.TenantID, &t.Client, &created, &expires, &revoked}, func() error {
		t.CreatedAt, t.ExpiresAt, t.RevokedAt = tm(created), tm(expires), tm(revoked)
		found[string(t.Hash)] = t
		t.Hash = nil // Scan reuses the slice otherwise
		return nil
	})
	for _, l := range batch {
		switch tok, ok := found[string(l.hash)]; {
		case err != nil:
			l.done <- tokenResult{err: wrap("get token", err)}
		case !ok:
			l.done <- tokenResult{err: wrap("get token", pgx.ErrNoRows)}
		default:
			l.done <- tokenResult{tok: tok}
		}
	}
}
