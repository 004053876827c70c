package sqlite

import (
	"context"
	"database/sql"

	"github.com/slipwayhq/slipway/server/store"
	"github.com/slipwayhq/slipway/server/store/sqlcol"
)

// finder looks machine IDs up inside tx for store.MatchIdentity.
func finder(tx *sql.Tx, tenantID string, unregistered bool) func(context.Context, store.Lookup) ([]string, error) {
	return func(ctx context.Context, l store.Lookup) ([]string, error) {
		q, err := sqlcol.MatchIDs(l, unregistered)
		if err != nil {
			return nil, err
		}
		rows, err := tx.QueryContext(ctx, q, tenantID, l.Value)
		if err != nil {
			return nil, err
		}
		defer rows.Close()
		var ids []string
		for rows.Next() {
			var id string
			if err := rows.Scan(&id); err != nil {
				return nil, err
			}
			ids = append(ids, id)
		}
		return ids, rows.Err()
	}
}

// adopt finds the inventory-only machine (from Fleet) with m's hardware
// identifiers and gives it m's fingerprint and source, so the registering
// machine continues that row. sql.ErrNoRows when there is none.
func adopt(ctx context.Context, tx *sql.Tx, m store.Machine) (store.Machine, error) {
	id := sqlcol.IdentityOf(m)
	if m.Fingerprint == "" || !id.Hardware() {
		return store.Machine{}, sql.ErrNoRows
	}
	match, err := store.MatchIdentity(ctx, id, finder(tx, m.TenantID, true))
	if err != nil {
		return store.Machine{}, err
	}
	if match.ID == "" {
		return store.Machine{}, sql.ErrNoRows
	}
	if _, err := tx.ExecContext(ctx, "UPDATE machines SET fingerprint = ?, source = ? WHERE id = ?",
		m.Fingerprint, m.Source, match.ID); err != nil {
		return store.Machine{}, err
	}
	return scanMachine(tx.QueryRowContext(ctx, "SELECT "+machineCols+" FROM machines WHERE id = ?", match.ID))
}

// MergeMachine matches id to one of the tenant's machines and writes what
// merge made of it, or a new inventory-only machine, in one transaction
// (SQLite's single writer serialises it with registrations).
func (s *Store) MergeMachine(ctx context.Context, tenantID, newID string, id store.Identity, merge store.MergeFunc) (store.Machine, store.Match, error) {
	s.settle()
	var out store.Machine
	var match store.Match
	err := s.tx(ctx, func(tx *sql.Tx) error {
		var err error
		out, match, err = sqlcol.Merge(ctx, tenantID, newID, id, merge, sqlcol.MergeOps{
			Find: finder(tx, tenantID, false),
			Get: func(ctx context.Context, id string) (store.Machine, error) {
				return scanMachine(tx.QueryRowContext(ctx, "SELECT "+machineCols+" FROM machines WHERE id = ?", id))
			},
			Insert: func(ctx context.Context, m store.Machine) error { return insertMachine(ctx, tx, m) },
			Update: func(ctx context.Context, m store.Machine, sourceChanged bool) error {
				if sourceChanged {
					if _, err := tx.ExecContext(ctx, "UPDATE machines SET source = ? WHERE id = ?", m.Source, m.ID); err != nil {
						return err
					}
				}
				_, err := updateDescriptive(ctx, tx, m)
				return err
			},
		})
		return err
	})
	return out, match, wrap("merge machine", err)
}
