package postgres

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/slipwayhq/slipway/server/store"
)

// PutSSOSession stores a single sign-on session's sealed grant.
func (s *Store) PutSSOSession(ctx context.Context, ss store.SSOSession, now time.Time) error {
	if err := store.CheckSSOSession(ss); err != nil {
		return wrap("put sso session", err)
	}
	if _, err := s.pool.Exec(ctx, "DELETE FROM sso_sessions WHERE expires_at < $1", ms(now)); err != nil {
		return wrap("put sso session", err)
	}
	_, err := s.pool.Exec(ctx, `INSERT INTO sso_sessions (id, grant_sealed, check_at, expires_at) VALUES ($1, $2, $3, $4)
		ON CONFLICT (id) DO UPDATE SET grant_sealed = excluded.grant_sealed, check_at = excluded.check_at, expires_at = excluded.expires_at`,
		ss.ID, ss.Grant, ms(ss.CheckAt), ms(ss.ExpiresAt))
	return wrap("put sso session", err)
}

// GetSSOSession returns a single sign-on session (read from the database
// every time, so a session ended through one replica ends on all).
func (s *Store) GetSSOSession(ctx context.Context, id []byte) (store.SSOSession, error) {
	ss := store.SSOSession{ID: id}
	if err := store.CheckAdminSessionID(id); err != nil {
		return ss, wrap("get sso session", err)
	}
	var check, exp int64
	err := s.pool.QueryRow(ctx, "SELECT grant_sealed, check_at, expires_at FROM sso_sessions WHERE id = $1", id).
		Scan(&ss.Grant, &check, &exp)
	ss.CheckAt, ss.ExpiresAt = tm(check), tm(exp)
	return ss, wrap("get sso session", err)
}

// ClaimSSOCheck moves a due check to next, if no one else (on any
// replica) did: a compare-and-set on check_at.
func (s *Store) ClaimSSOCheck(ctx context.Context, id []byte, due, next time.Time) (bool, error) {
	if err := store.CheckAdminSessionID(id); err != nil {
		return false, wrap("claim sso check", err)
	}
	tag, err := s.pool.Exec(ctx, "UPDATE sso_sessions SET check_at = $1 WHERE id = $2 AND check_at = $3", ms(next), id, ms(due))
	if err != nil {
		return false, wrap("claim sso check", err)
	}
	return tag.RowsAffected() == 1, nil
}

// SetSSOGrant replaces a session's sealed grant.
func (s *Store) SetSSOGrant(ctx context.Context, id, grant []byte) error {
	if err := store.CheckSSOSession(store.SSOSession{ID: id, Grant: grant, CheckAt: time.Unix(1, 0), ExpiresAt: time.Unix(1, 0)}); err != nil {
		return wrap("set sso grant", err)
	}
	tag, err := s.pool.Exec(ctx, "UPDATE sso_sessions SET grant_sealed = $1 WHERE id = $2", grant, id)
	if err == nil && tag.RowsAffected() == 0 {
		err = pgx.ErrNoRows
	}
	return wrap("set sso grant", err)
}

// DeleteSSOSession forgets a session.
func (s *Store) DeleteSSOSession(ctx context.Context, id []byte) error {
	if err := store.CheckAdminSessionID(id); err != nil {
		return wrap("delete sso session", err)
	}
	_, err := s.pool.Exec(ctx, "DELETE FROM sso_sessions WHERE id = $1", id)
	return wrap("delete sso session", err)
}
