package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/slipwayhq/slipway/server/store"
	"github.com/slipwayhq/slipway/server/store/sqlcol"
)

func param(int) string { return "?" }

// query adapts a connection pool or transaction to sqlcol.Query.
func query(q interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}) sqlcol.Query {
	return func(ctx context.Context, text string, args []any, row func(sqlcol.Scanner) error) error {
		rows, err := q.QueryContext(ctx, text, args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			if err := row(rows); err != nil {
				return err
			}
		}
		return rows.Err()
	}
}

// Group commit of software reports. A machine's first list writes ~300
// links at ~300 places of the search index; one transaction (and one
// fsync, and one WAL frame per dirty page) per report made the ingest of a
// whole fleet slow down as the index grew. Reports arriving while a
// transaction commits wait, and the next transaction applies all of them
// (up to softwareBatch), each in its own savepoint: a bad report fails
// alone. Every caller is answered after the commit.

// softwareBatch is the most reports one transaction applies.
const softwareBatch = 64

// maxBatchStmts bounds the statements a batch keeps prepared.
const maxBatchStmts = 32

type softwareReq struct {
	ctx  context.Context
	r    store.SoftwareReport
	done chan softwareRes // buffered: the loop never waits for a caller
}

type softwareRes struct {
	diff store.SoftwareDiff
	err  error
}

// softwareLoop applies the reports sent to s.swReqs until s.swStop closes.
func (s *Store) softwareLoop() {
	defer close(s.swDone)
	for {
		var batch []*softwareReq
		select {
		case req := <-s.swReqs:
			batch = append(batch, req)
		case <-s.swStop:
			return
		}
	fill:
		for len(batch) < softwareBatch {
			select {
			case req := <-s.swReqs:
				batch = append(batch, req)
			default:
				break fill
			}
		}
		s.applySoftware(batch)
	}
}

// applySoftware applies a batch in one transaction and answers each report.
func (s *Store) applySoftware(batch []*softwareReq) {
	ctx := context.Background() // the batch is not any one caller's
	res := make([]softwareRes, len(batch))
	var stx *sqlcol.SoftwareTx
	err := s.tx(ctx, func(tx *sql.Tx) error {
		// Statements prepared once per batch: the reports of a batch run
		// the same few multi-row statements (parsing one of 1,400
		// parameters costs more than running it). Closed with tx.
		stmts := map[string]*sql.Stmt{}
		exec := func(ctx context.Context, q string, args ...any) error {
			st, ok := stmts[q]
			if !ok && len(stmts) < maxBatchStmts {
				var err error
				if st, err = tx.PrepareContext(ctx, q); err != nil {
					return err
				}
				stmts[q] = st
			}
			var err error
			if st != nil {
				_, err = st.ExecContext(ctx, args...)
			} else {
				_, err = tx.ExecContext(ctx, q, args...)
			}
			return err
		}
		stx = &sqlcol.SoftwareTx{Query: query(tx), Param: param, Cache: s.softwareIDs, Exec: exec}
		for i, req := range batch {
			if err := req.ctx.Err(); err != nil {
				res[i].err = err
				continue
			}
			if err := exec(ctx, "SAVEPOINT report"); err != nil {
				return err
			}
			stx.Mark()
			res[i].diff, res[i].err = store.ReplaceSoftwareIn(ctx, stx, req.r)
			if res[i].err != nil {
				stx.Undo()
				if err := exec(ctx, "ROLLBACK TO report"); err != nil {
					return err
				}
			}
			if err := exec(ctx, "RELEASE report"); err != nil {
				return err
			}
		}
		return nil
	})
	if err == nil {
		stx.Commit()
	}
	for i, req := range batch {
		if err != nil {
			res[i] = softwareRes{err: err}
		}
		req.done <- res[i]
	}
}

// ReplaceSoftware stores a machine's list from one origin; it returns once
// the transaction that applied it committed. A canceled caller's report
// may still be applied.
func (s *Store) ReplaceSoftware(ctx context.Context, r store.SoftwareReport) (store.SoftwareDiff, error) {
	if err := r.Validate(); err != nil {
		return store.SoftwareDiff{}, wrap("replace software", err)
	}
	diff, err := s.replaceSoftware(ctx, r)
	if err != nil && !errors.Is(err, store.ErrNotFound) && ctx.Err() == nil && !errors.Is(err, errStoreClosed) {
		// A cached software ID may name a row collected since: forget
		// them all and try once more.
		s.softwareIDs.Reset()
		diff, err = s.replaceSoftware(ctx, r)
	}
	return diff, wrap("replace software", err)
}

var errStoreClosed = errors.New("store closed")

func (s *Store) replaceSoftware(ctx context.Context, r store.SoftwareReport) (store.SoftwareDiff, error) {
	req := &softwareReq{ctx: ctx, r: r, done: make(chan softwareRes, 1)}
	select {
	case s.swReqs <- req:
	case <-s.swStop:
		return store.SoftwareDiff{}, errStoreClosed
	case <-ctx.Done():
		return store.SoftwareDiff{}, ctx.Err()
	}
	select {
	case res := <-req.done:
		return res.diff, res.err
	case <-ctx.Done():
		return store.SoftwareDiff{}, ctx.Err()
	}
}

// PruneSoftwareHistory deletes history older than before, then the
// software rows nothing refers to anymore (bounded).
func (s *Store) PruneSoftwareHistory(ctx context.Context, before time.Time) (int64, error) {
	res, err := s.w.ExecContext(ctx, "DELETE FROM software_history WHERE at < ?", ms(before))
	if err != nil {
		return 0, wrap("prune software history", err)
	}
	n, _ := res.RowsAffected()
	collected, err := sqlcol.CollectSoftware(ctx, func(ctx context.Context, q string) (int64, error) {
		res, err := s.w.ExecContext(ctx, q)
		if err != nil {
			return 0, err
		}
		return res.RowsAffected()
	})
	if collected > 0 {
		s.softwareIDs.Reset()
	}
	return n + collected, wrap("prune software history", err)
}
