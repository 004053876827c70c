package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/slipwayhq/slipway/server/store"
	"github.com/slipwayhq/slipway/server/store/sqlcol"
)

func param(n int) string { return fmt.Sprintf("$%d", n) }

// query adapts the pool or a transaction to sqlcol.Query.
func query(q interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}) sqlcol.Query {
	return func(ctx context.Context, text string, args []any, row func(sqlcol.Scanner) error) error {
		rows, err := q.Query(ctx, text, args...)
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

// ReplaceSoftware stores a machine's list from one origin. The machine row
// is locked first, so two reports of one machine apply one after the other.
func (s *Store) ReplaceSoftware(ctx context.Context, r store.SoftwareReport) (store.SoftwareDiff, error) {
	if err := r.Validate(); err != nil {
		return store.SoftwareDiff{}, wrap("replace software", err)
	}
	diff, err := s.replaceSoftware(ctx, r)
	if err != nil && !errors.Is(err, store.ErrNotFound) && ctx.Err() == nil {
		// A cached software ID may name a row another replica collected:
		// forget them all and try once more.
		s.softwareIDs.Reset()
		diff, err = s.replaceSoftware(ctx, r)
	}
	return diff, err
}

func (s *Store) replaceSoftware(ctx context.Context, r store.SoftwareReport) (store.SoftwareDiff, error) {
	var diff store.SoftwareDiff
	var stx *sqlcol.SoftwareTx
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) (err error) {
		if _, err := tx.Exec(ctx, "SELECT 1 FROM machines WHERE id = $1 FOR UPDATE", r.MachineID); err != nil {
			return err
		}
		stx = &sqlcol.SoftwareTx{Query: query(tx), Param: param, Cache: s.softwareIDs,
			Exec: func(ctx context.Context, q string, args ...any) error {
				_, err := tx.Exec(ctx, q, args...)
				return err
			}}
		diff, err = store.ReplaceSoftwareIn(ctx, stx, r)
		return err
	})
	if err != nil {
		return store.SoftwareDiff{}, wrap("replace software", err)
	}
	stx.Commit()
	if r.Origin == store.OriginAgent {
		// Replicas caching the machine's hash forget it. Sent after the
		// commit, on its own: a NOTIFY inside the transaction would hold
		// PostgreSQL's notify lock through the commit (fsync included),
		// one uploading transaction at a time. If it fails, the caller
		// gets the error and the agent uploads again (and notifies).
		if _, err := s.pool.Exec(ctx, "SELECT pg_notify($1, $2)", softwareChannel, r.MachineID); err != nil {
			return store.SoftwareDiff{}, wrap("replace software: notify replicas", err)
		}
	}
	return diff, nil
}

// PruneSoftwareHistory deletes history older than before, then the
// software rows nothing refers to anymore (bounded). A row an upload links
// meanwhile makes that batch fail on the foreign key; the next pass
// retries.
func (s *Store) PruneSoftwareHistory(ctx context.Context, before time.Time) (int64, error) {
	tag, err := s.pool.Exec(ctx, "DELETE FROM software_history WHERE at < $1", ms(before))
	if err != nil {
		return 0, wrap("prune software history", err)
	}
	collected, err := sqlcol.CollectSoftware(ctx, func(ctx context.Context, q string) (int64, error) {
		tag, err := s.pool.Exec(ctx, q)
		return tag.RowsAffected(), err
	})
	if collected > 0 {
		s.softwareIDs.Reset()
	}
	return tag.RowsAffected() + collected, wrap("prune software history", err)
}
