package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/slipwayhq/slipway/server/store"
	"github.com/slipwayhq/slipway/server/store/sqlcol"
)

// CreateHandshake stores a handshake code.
func (s *Store) CreateHandshake(ctx context.Context, h store.Handshake) error {
	_, err := s.w.ExecContext(ctx, `INSERT INTO handshakes (code_hash, machine_id, tenant_id, redirect, created_at, expires_at)
		VALUES (?, ?, ?, ?, ?, ?)`, h.CodeHash, h.MachineID, h.TenantID, h.Redirect, ms(h.CreatedAt), ms(h.ExpiresAt))
	return wrap("create handshake", err)
}

// ConsumeHandshake deletes and returns an unexpired code.
func (s *Store) ConsumeHandshake(ctx context.Context, codeHash []byte, now time.Time) (store.Handshake, error) {
	var h store.Handshake
	err := s.tx(ctx, func(tx *sql.Tx) error {
		// Expired codes are useless: clear them while we hold the writer.
		if _, err := tx.ExecContext(ctx, "DELETE FROM handshakes WHERE expires_at <= ?", ms(now)); err != nil {
			return err
		}
		var created, expires int64
		err := tx.QueryRowContext(ctx, `DELETE FROM handshakes WHERE code_hash = ?
			RETURNING code_hash, machine_id, tenant_id, redirect, created_at, expires_at`, codeHash).
			Scan(&h.CodeHash, &h.MachineID, &h.TenantID, &h.Redirect, &created, &expires)
		h.CreatedAt, h.ExpiresAt = tm(created), tm(expires)
		return err
	})
	return h, wrap("consume handshake", err)
}

// CreateAdminToken stores an admin token.
func (s *Store) CreateAdminToken(ctx context.Context, t store.AdminToken) error {
	_, err := s.w.ExecContext(ctx, "INSERT INTO admin_tokens ("+sqlcol.AdminTokenColumns+") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
		sqlcol.AdminTokenArgs(t)...)
	return wrap("create admin token", err)
}

// GetAdminToken looks an admin token up by hash.
func (s *Store) GetAdminToken(ctx context.Context, hash []byte) (store.AdminToken, error) {
	t, err := sqlcol.ScanAdminToken(s.r.QueryRowContext(ctx, "SELECT "+sqlcol.AdminTokenColumns+" FROM admin_tokens WHERE hash = ?", hash))
	return t, wrap("get admin token", err)
}

// ListAdminTokens returns every admin token, oldest first.
func (s *Store) ListAdminTokens(ctx context.Context) ([]store.AdminToken, error) {
	rows, err := s.r.QueryContext(ctx, "SELECT "+sqlcol.AdminTokenColumns+" FROM admin_tokens ORDER BY created_at, id")
	if err != nil {
		return nil, wrap("list admin tokens", err)
	}
	defer rows.Close()
	var out []store.AdminToken
	for rows.Next() {
		t, err := sqlcol.ScanAdminToken(rows)
		if err != nil {
			return nil, wrap("list admin tokens", err)
		}
		out = append(out, t)
	}
	return out, wrap("list admin tokens", rows.Err())
}

// RevokeAdminToken marks an active admin token revoked.
func (s *Store) RevokeAdminToken(ctx context.Context, id string, at time.Time) error {
	res, err := s.w.ExecContext(ctx, "UPDATE admin_tokens SET revoked_at = ? WHERE id = ? AND revoked_at = 0", ms(at), id)
	if err != nil {
		return wrap("revoke admin token", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return store.ErrNotFound
	}
	return nil
}

// CreateSigningKey stores a session signing key.
func (s *Store) CreateSigningKey(ctx context.Context, k store.SigningKey) error {
	_, err := s.w.ExecContext(ctx, "INSERT INTO signing_keys (id, seed, created_at) VALUES (?, ?, ?)",
		k.ID, k.Seed, ms(k.CreatedAt))
	return wrap("create signing key", err)
}

// ReplaceSigningKeySeed swaps a key's seed if it is still old.
func (s *Store) ReplaceSigningKeySeed(ctx context.Context, id string, old, seed []byte) error {
	res, err := s.w.ExecContext(ctx, "UPDATE signing_keys SET seed = ? WHERE id = ? AND seed = ?", seed, id, old)
	if err != nil {
		return wrap("replace signing key seed", err)
	}
	if n, err := res.RowsAffected(); err != nil || n == 0 {
		return wrap("replace signing key seed", errors.Join(err, store.ErrConflict))
	}
	return nil
}

// SigningKeys lists the signing keys, newest first.
func (s *Store) SigningKeys(ctx context.Context) ([]store.SigningKey, error) {
	rows, err := s.r.QueryContext(ctx, "SELECT id, seed, created_at, retired_at, expires_at FROM signing_keys ORDER BY created_at DESC, id DESC")
	if err != nil {
		return nil, wrap("signing keys", err)
	}
	defer rows.Close()
	var out []store.SigningKey
	for rows.Next() {
		var k store.SigningKey
		var created, retired, expires int64
		if err := rows.Scan(&k.ID, &k.Seed, &created, &retired, &expires); err != nil {
			return nil, wrap("signing keys", err)
		}
		k.CreatedAt, k.RetiredAt, k.ExpiresAt = tm(created), tm(retired), tm(expires)
		out = append(out, k)
	}
	return out, wrap("signing keys", rows.Err())
}

// RotateSigningKey adds k as the signing key, retires the others and
// deletes the dropped ones, in one transaction.
func (s *Store) RotateSigningKey(ctx context.Context, k store.SigningKey, dropAfter time.Time) error {
	return wrap("rotate signing key", s.tx(ctx, func(tx *sql.Tx) error {
		at := ms(k.CreatedAt)
		if _, err := tx.ExecContext(ctx, "DELETE FROM signing_keys WHERE expires_at <> 0 AND expires_at <= ?", at); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, "UPDATE signing_keys SET retired_at = ?, expires_at = ? WHERE retired_at = 0",
			at, ms(dropAfter)); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, "INSERT INTO signing_keys (id, seed, created_at) VALUES (?, ?, ?)", k.ID, k.Seed, at)
		return err
	}))
}
