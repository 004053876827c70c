package postgres

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
	_, err := s.pool.Exec(ctx, `INSERT INTO admin_session_revocations (id, expires_at) VALUES ($1, $2)
		ON CONFLICT (id) DO UPDATE SET expires_at = greatest(admin_session_revocations.expires_at, excluded.expires_at)`,
		id, ms(expiresAt))
	return wrap("revoke admin session", err)
}

// AdminSessionRevoked reports whether the session was signed out (read
// from the database every time: a sign-out through one replica counts on
// all of them at once).
func (s *Store) AdminSessionRevoked(ctx context.Context, id []byte) (bool, error) {
	if err := store.CheckAdminSessionID(id); err != nil {
		return false, wrap("admin session revoked", err)
	}
	var revoked bool
	err := s.pool.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM admin_session_revocations WHERE id = $1)", id).Scan(&revoked)
	return revoked, wrap("admin session revoked", err)
}

// PruneAdminSessions forgets revocations that expired before before.
func (s *Store) PruneAdminSessions(ctx context.Context, before time.Time) (int64, error) {
	tag, err := s.pool.Exec(ctx, "DELETE FROM admin_session_revocations WHERE expires_at < $1", ms(before))
	if err != nil {
		return 0, wrap("prune admin sessions", err)
	}
	return tag.RowsAffected(), nil
}
