package sqlite

import (
	"context"
	"time"

	"github.com/slipwayhq/slipway/server/store"
)

// RevokeAdminSession records a signed-out admin session.
func (s *Store) RevokeAdminSession(ctx context.Context, id []byte, expiresAt time.Time) error {
	if err := store.CheckAdminSessionID(id); err != nil {
		return wrap("revoke admin session", err)
	}
	_, err := s.w.ExecContext(ctx, `INSERT INTO admin_session_revocations (id, expires_at) VALUES (?, ?)
		ON CONFLICT (id) DO UPDATE SET expires_at = max(expires_at, excluded.expires_at)`, id, ms(expiresAt))
	return wrap("revoke admin session", err)
}

// AdminSessionRevoked reports whether the session was signed out.
func (s *Store) AdminSessionRevoked(ctx context.Context, id []byte) (bool, error) {
	if err := store.CheckAdminSessionID(id); err != nil {
		return false, wrap("admin session revoked", err)
	}
	var n int
	err := s.r.QueryRowContext(ctx, "SELECT count(*) FROM admin_session_revocations WHERE id = ?", id).Scan(&n)
	return n > 0, wrap("admin session revoked", err)
}

// PruneAdminSessions forgets revocations that expired before before.
func (s *Store) PruneAdminSessions(ctx context.Context, before time.Time) (int64, error) {
	res, err := s.w.ExecContext(ctx, "DELETE FROM admin_session_revocations WHERE expires_at < ?", ms(before))
	if err != nil {
		return 0, wrap("prune admin sessions", err)
	}
	n, err := res.RowsAffected()
	return n, wrap("prune admin sessions", err)
}
