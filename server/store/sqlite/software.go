package sqlite

import (
	"context"
	"database/sql"
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

// ReplaceSoftware stores a machine's list from one origin.
func (s *Store) ReplaceSoftware(ctx context.Context, r store.SoftwareReport) (store.SoftwareDiff, error) {
	if err := r.Validate(); err != nil {
		return store.SoftwareDiff{}, wrap("replace software", err)
	}
	var diff store.SoftwareDiff
	var stx *sqlcol.SoftwareTx
	err := s.tx(ctx, func(tx *sql.Tx) (err error) {
		stx = &sqlcol.SoftwareTx{Query: query(tx), Param: param, Cache: s.softwareIDs,
			Exec: func(ctx context.Context, q string, args ...any) error {
				_, err := tx.ExecContext(ctx, q, args...)
				return err
			}}
		diff, err = store.ReplaceSoftwareIn(ctx, stx, r)
		return err
	})
	if err != nil {
		return store.SoftwareDiff{}, wrap("replace software", err)
	}
	stx.Commit()
	return diff, nil
}

// PruneSoftwareHistory deletes history older than before.
func (s *Store) PruneSoftwareHistory(ctx context.Context, before time.Time) (int64, error) {
	res, err := s.w.ExecContext(ctx, "DELETE FROM software_history WHERE at < ?", ms(before))
	if err != nil {
		return 0, wrap("prune software history", err)
	}
	n, _ := res.RowsAffected()
	return n, nil
}
