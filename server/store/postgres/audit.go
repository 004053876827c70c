package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/slipwayhq/slipway/server/store"
	"github.com/slipwayhq/slipway/server/store/sqlcol"
)

// AppendAudit validates and stores an audit entry.
func (s *Store) AppendAudit(ctx context.Context, e store.AuditEntry) error {
	if err := e.Validate(); err != nil {
		return wrap("append audit", err)
	}
	_, err := s.pool.Exec(ctx, `INSERT INTO audit_log (at, tenant_id, actor_id, actor_name, action, target, detail, result)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
		ms(e.At), e.TenantID, e.ActorID, e.ActorName, e.Action, e.Target, e.Detail, e.Result)
	return wrap("append audit", err)
}

// ListAudit lists audit entries newest first.
func (s *Store) ListAudit(ctx context.Context, q store.AuditQuery) ([]store.AuditEntry, error) {
	if err := q.Validate(); err != nil {
		return nil, wrap("list audit", err)
	}
	query, args := sqlcol.ListAuditSQL(q, func(n int) string { return fmt.Sprintf("$%d", n) })
	rows, _ := s.pool.Query(ctx, query, args...)
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (store.AuditEntry, error) { return sqlcol.ScanAudit(row) })
	return out, wrap("list audit", err)
}

// PruneAudit deletes entries older than before.
func (s *Store) PruneAudit(ctx context.Context, before time.Time) (int64, error) {
	tag, err := s.pool.Exec(ctx, "DELETE FROM audit_log WHERE at < $1", ms(before))
	if err != nil {
		return 0, wrap("prune audit", err)
	}
	return tag.RowsAffected(), nil
}
