package sqlite

import (
	"context"
	"time"

	"github.com/slipwayhq/slipway/server/store"
	"github.com/slipwayhq/slipway/server/store/sqlcol"
)

// AppendAudit validates and stores an audit entry.
func (s *Store) AppendAudit(ctx context.Context, e store.AuditEntry) error {
	if err := e.Validate(); err != nil {
		return wrap("append audit", err)
	}
	_, err := s.w.ExecContext(ctx, `INSERT INTO audit_log (at, tenant_id, actor_id, actor_name, action, target, detail, result)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
		ms(e.At), e.TenantID, e.ActorID, e.ActorName, e.Action, e.Target, e.Detail, e.Result)
	return wrap("append audit", err)
}

// ListAudit lists audit entries newest first.
func (s *Store) ListAudit(ctx context.Context, q store.AuditQuery) ([]store.AuditEntry, error) {
	if err := q.Validate(); err != nil {
		return nil, wrap("list audit", err)
	}
	query, args := sqlcol.ListAuditSQL(q, func(int) string { return "?" })
	rows, err := s.r.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, wrap("list audit", err)
	}
	defer rows.Close()
	var out []store.AuditEntry
	for rows.Next() {
		e, err := sqlcol.ScanAudit(rows)
		if err != nil {
			return nil, wrap("list audit", err)
		}
		out = append(out, e)
	}
	return out, wrap("list audit", rows.Err())
}

// PruneAudit deletes entries older than before.
func (s *Store) PruneAudit(ctx context.Context, before time.Time) (int64, error) {
	res, err := s.w.ExecContext(ctx, "DELETE FROM audit_log WHERE at < ?", ms(before))
	if err != nil {
		return 0, wrap("prune audit", err)
	}
	n, err := res.RowsAffected()
	return n, wrap("prune audit", err)
}
