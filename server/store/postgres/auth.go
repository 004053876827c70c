package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/slipwayhq/slipway/server/store"
	"github.com/slipwayhq/slipway/server/store/sqlcol"
)

// CreateHandshake stores a handshake code.
func (s *Store) CreateHandshake(ctx context.Context, h store.Handshake) error {
	_, err := s.pool.Exec(ctx, `INSERT INTO handshakes (code_hash, machine_id, tenant_id, redirect, created_at, expires_at)
		VALUES ($1, $2, $3, $4, $5, $6)`, h.CodeHash, h.MachineID, h.TenantID, h.Redirect, ms(h.CreatedAt), ms(h.ExpiresAt))
	return wrap("create handshake", err)
}

// ConsumeHandshake deletes and returns an unexpired code; the DELETE is
// atomic, so concurrent callers (on any replica) get it at most once.
func (s *Store) ConsumeHandshake(ctx context.Context, codeHash []byte, now time.Time) (store.Handshake, error) {
	var h store.Handshake
	var created, expires int64
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, "DELETE FROM handshakes WHERE expires_at <= $1", ms(now)); err != nil {
			return err
		}
		return tx.QueryRow(ctx, `DELETE FROM handshakes WHERE code_hash = $1 AND expires_at > $2
			RETURNING code_hash, machine_id, tenant_id, redirect, created_at, expires_at`, codeHash, ms(now)).
			Scan(&h.CodeHash, &h.MachineID, &h.TenantID, &h.Redirect, &created, &expires)
	})
	h.CreatedAt, h.ExpiresAt = tm(created), tm(expires)
	return h, wrap("consume handshake", err)
}

// CreateAdminToken stores an admin token.
func (s *Store) CreateAdminToken(ctx context.Context, t store.AdminToken) error {
	_, err := s.pool.Exec(ctx, "INSERT INTO admin_tokens ("+sqlcol.AdminTokenColumns+") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
		sqlcol.AdminTokenArgs(t)...)
	return wrap("create admin token", err)
}

// GetAdminToken looks an admin token up by hash.
func (s *Store) GetAdminToken(ctx context.Context, hash []byte) (store.AdminToken, error) {
	t, err := sqlcol.ScanAdminToken(s.pool.QueryRow(ctx, "SELECT "+sqlcol.AdminTokenColumns+" FROM admin_tokens WHERE hash = $1", hash))
	return t, wrap("get admin token", err)
}

// ListAdminTokens returns every admin token, oldest first.
func (s *Store) ListAdminTokens(ctx context.Context) ([]store.AdminToken, error) {
	rows, err := s.pool.Query(ctx, "SELECT "+sqlcol.AdminTokenColumns+" FROM admin_tokens ORDER BY created_at, id")
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
	res, err := s.pool.Exec(ctx, "UPDATE admin_tokens SET revoked_at = $1 WHERE id = $2 AND revoked_at = 0", ms(at), id)
	if err != nil {
		return wrap("revoke admin token", err)
	}
	if res.RowsAffected() == 0 {
		return store.ErrNotFound
	}
	return nil
}

// CreateSigningKey stores a session signing key.
func (s *Store) CreateSigningKey(ctx context.Context, k store.SigningKey) error {
	_, err := s.pool.Exec(ctx, "INSERT INTO signing_keys (id, seed, created_at) VALUES ($1, $2, $3)",
		k.ID, k.Seed, ms(k.CreatedAt))
	return wrap("create signing key", err)
}

// ReplaceSigningKeySeed swaps a key's seed if it is still old.
func (s *Store) ReplaceSigningKeySeed(ctx context.Context, id string, old, seed []byte) error {
	tag, err := s.pool.Exec(ctx, "UPDATE signing_keys SET seed = $1 WHERE id = $2 AND seed = $3", seed, id, old)
	if err != nil {
		return wrap("replace signing key seed", err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("postgres: replace signing key seed: %w", store.ErrConflict)
	}
	return nil
}

// SigningKeys lists the signing keys, newest first.
func (s *Store) SigningKeys(ctx context.Context) ([]store.SigningKey, error) {
	rows, _ := s.pool.Query(ctx, `SELECT id, seed, created_at, retired_at, expires_at FROM signing_keys
		ORDER BY created_at DESC, id COLLATE "C" DESC`)
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (store.SigningKey, error) {
		var k store.SigningKey
		var created, retired, expires int64
		err := row.Scan(&k.ID, &k.Seed, &created, &retired, &expires)
		k.CreatedAt, k.RetiredAt, k.ExpiresAt = tm(created), tm(retired), tm(expires)
		return k, err
	})
	return out, wrap("signing keys", err)
}

// RotateSigningKey adds k as the signing key, retires the others and
// deletes the dropped ones, in one transaction.
func (s *Store) RotateSigningKey(ctx context.Context, k store.SigningKey, dropAfter time.Time) error {
	return wrap("rotate signing key", pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		at := ms(k.CreatedAt)
		if _, err := tx.Exec(ctx, "DELETE FROM signing_keys WHERE expires_at <> 0 AND expires_at <= $1", at); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, "UPDATE signing_keys SET retired_at = $1, expires_at = $2 WHERE retired_at = 0",
			at, ms(dropAfter)); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, "INSERT INTO signing_keys (id, seed, created_at) VALUES ($1, $2, $3)", k.ID, k.Seed, at)
		return err
	}))
}
