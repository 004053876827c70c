package sqlite

import (
	"context"
	"database/sql"
	"time"

	"github.com/slipwayhq/slipway/server/store"
)

// PutSSOSession stores a single sign-on session's sealed grant.
func (s *Store) PutSSOSession(ctx context.Context, ss store.SSOSession, now time.Time) error {
	if err := store.CheckSSOSession(ss); err != nil {
		return wrap("put sso session", err)
	}
	if _, err := s.w.ExecContext(ctx, "DELETE FROM sso_sessions WHERE expires_at < ?", ms(now)); err != nil {
		return wrap("put sso session", err)
	}
	_, err := s.w.ExecContext(ctx, `INSERT INTO sso_sessions (id, grant_sealed, check_at, expires_at) VALUES (?, ?, ?, ?)
		ON CONFLICT (id) DO UPDATE SET grant_sealed = excluded.grant_sealed, check_at = excluded.check_at, expires_at = excluded.expires_at`,
		ss.ID, ss.Grant, ms(ss.CheckAt), ms(ss.ExpiresAt))
	return wrap("put sso session", err)
}

// GetSSOSession returns a single sign-on session.
func (s *Store) GetSSOSession(ctx context.Context, id []byte) (store.SSOSession, error) {
	ss := store.SSOSession{ID: id}
	if err := store.CheckAdminSessionID(id); err != nil {
		return ss, wrap("get sso session", err)
	}
	var check, exp int64
	err := s.r.QueryRowContext(ctx, "SELECT grant_sealed, check_at, expires_at FROM sso_sessions WHERE id = ?", id).
		Scan(&ss.Grant, &check, &exp)
	ss.CheckAt, ss.ExpiresAt = tm(check), tm(exp)
	return ss, wrap("get sso session", err)
}

// ClaimSSOCheck moves a due check to next, if no one else did.
func (s *Store) ClaimSSOCheck(ctx context.Context, id []byte, due, next time.Time) (bool, error) {
	if err := store.CheckAdminSessionID(id); err != nil {
		return false, wrap("claim sso check", err)
	}
	res, err := s.w.ExecContext(ctx, "UPDATE sso_sessions SET check_at = ? WHERE id = ? AND check_at = ?", ms(next), id, ms(due))
	if err != nil {
		return false, wrap("claim sso check", err)
	}
	n, err := res.RowsAffected()
	return n == 1, wrap("claim sso check", err)
}

// SetSSOGrant replaces a session's sealed grant.
func (s *Store) SetSSOGrant(ctx context.Context, id, grant []byte) error {
	if err := store.CheckSSOSession(store.SSOSession{ID: id, Grant: grant, CheckAt: time.Unix(1, 0), ExpiresAt: time.Unix(1, 0)}); err != nil {
		return wrap("set sso grant", err)
	}
	res, err := s.w.ExecContext(ctx, "UPDATE sso_sessions SET grant_sealed = ? WHERE id = ?", grant, id)
	if err != nil {
		return wrap("set sso grant", err)
	}
	n, err := res.RowsAffected()
	if err == nil && n == 0 {
		err = sql.ErrNoRows
	}
	return wrap("set sso grant", err)
}

// DeleteSSOSession forgets a session.
func (s *Store) DeleteSSOSession(ctx context.Context, id []byte) error {
	if err := store.CheckAdminSessionID(id); err != nil {
		return wrap("delete sso session", err)
	}
	_, err := s.w.ExecContext(ctx, "DELETE FROM sso_sessions WHERE id = ?", id)
	return wrap("delete sso session", err)
}
