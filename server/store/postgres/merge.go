package postgres

import (
	"context"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/slipwayhq/slipway/server/store"
	"github.com/slipwayhq/slipway/server/store/sqlcol"
)

var dollars = strings.NewReplacer("?1", "$1", "?2", "$2")

// matchIDs is sqlcol.MatchIDs with PostgreSQL placeholders.
func matchIDs(l store.Lookup, unregistered bool) (string, error) {
	q, err := sqlcol.MatchIDs(l, unregistered)
	return dollars.Replace(q), err
}

// lockIdentities serialises, until the transaction ends, the writers that
// match machines by identity in the tenant (MergeMachine and the adoption
// in RegisterMachine), so two sources arriving at once make one row.
func lockIdentities(ctx context.Context, tx pgx.Tx, tenantID string) error {
	_, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock($1)", lockKey("identity:"+tenantID))
	return err
}

// finder looks machine IDs up inside tx for store.MatchIdentity.
func finder(tx pgx.Tx, tenantID string, unregistered bool) func(context.Context, store.Lookup) ([]string, error) {
	return func(ctx context.Context, l store.Lookup) ([]string, error) {
		q, err := matchIDs(l, unregistered)
		if err != nil {
			return nil, err
		}
		rows, err := tx.Query(ctx, q, tenantID, l.Value)
		if err != nil {
			return nil, err
		}
		return pgx.CollectRows(rows, pgx.RowTo[string])
	}
}

// adopt finds the inventory-only machine (from Fleet) with m's hardware
// identifiers and gives it m's fingerprint and source, so the registering
// machine continues that row. pgx.ErrNoRows when there is none.
func adopt(ctx context.Context, tx pgx.Tx, m store.Machine) (store.Machine, error) {
	id := sqlcol.IdentityOf(m)
	if m.Fingerprint == "" || !id.Hardware() {
		return store.Machine{}, pgx.ErrNoRows
	}
	match, err := store.MatchIdentity(ctx, id, finder(tx, m.TenantID, true))
	if err != nil {
		return store.Machine{}, err
	}
	if match.ID == "" {
		return store.Machine{}, pgx.ErrNoRows
	}
	return scanMachine(tx.QueryRow(ctx, "UPDATE machines SET fingerprint = $1, source = $2 WHERE id = $3 RETURNING "+
		machineCols, m.Fingerprint, m.Source, match.ID))
}

// MergeMachine matches id to one of the tenant's machines and writes what
// merge made of it, or a new inventory-only machine, in one transaction
// under the tenant's identity lock.
func (s *Store) MergeMachine(ctx context.Context, tenantID, newID string, id store.Identity, merge store.MergeFunc) (store.Machine, store.Match, error) {
	var out store.Machine
	var match store.Match
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if err := lockIdentities(ctx, tx, tenantID); err != nil {
			return err
		}
		var err error
		out, match, err = sqlcol.Merge(ctx, tenantID, newID, id, merge, sqlcol.MergeOps{
			Find: finder(tx, tenantID, false),
			Get: func(ctx context.Context, id string) (store.Machine, error) {
				return scanMachine(tx.QueryRow(ctx, "SELECT "+machineCols+" FROM machines WHERE id = $1 FOR UPDATE", id))
			},
			Insert: func(ctx context.Context, m store.Machine) error {
				_, err := insertMachine(ctx, tx, m, false)
				return err
			},
			Update: func(ctx context.Context, m store.Machine, sourceChanged bool) error {
				if sourceChanged {
					if _, err := tx.Exec(ctx, "UPDATE machines SET source = $1 WHERE id = $2", m.Source, m.ID); err != nil {
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
