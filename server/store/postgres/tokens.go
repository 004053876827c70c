package postgres

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/slipwayhq/slipway/server/store"
	"github.com/slipwayhq/slipway/server/store/sqlcol"
)

// GetToken looks a machine token up by hash. There is deliberately no
// cache (another replica may have revoked the token a moment ago);
// concurrent lookups share one query instead (tokenreader.go).
func (s *Store) GetToken(ctx context.Context, hash []byte) (store.Token, error) {
	return s.tokens.get(ctx, hash)
}

// replaceToken revokes the machine's active tokens (only those of tok's
// client kind when sameClient) and stores tok.
func replaceToken(ctx context.Context, tx pgx.Tx, tok store.Token, sameClient bool) error {
	client := store.ClientOf(tok)
	if _, err := tx.Exec(ctx, `UPDATE tokens SET revoked_at = $1
		WHERE machine_id = $2 AND revoked_at = 0 AND (NOT $3::boolean OR client = $4)`,
		ms(tok.CreatedAt), tok.MachineID, sameClient, client); err != nil {
		return err
	}
	_, err := tx.Exec(ctx, `INSERT INTO tokens (hash, machine_id, tenant_id, client, created_at, expires_at, revoked_at)
		VALUES ($1, $2, $3, $4, $5, $6, 0)`, tok.Hash, tok.MachineID, tok.TenantID, client, ms(tok.CreatedAt), ms(tok.ExpiresAt))
	return err
}

// ReplaceToken revokes the machine's active tokens of every client kind and stores tok.
func (s *Store) ReplaceToken(ctx context.Context, tok store.Token) error {
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		var id string
		// Lock the machine row: concurrent rotations of one machine serialise.
		if err := tx.QueryRow(ctx, "SELECT id FROM machines WHERE id = $1 FOR UPDATE", tok.MachineID).Scan(&id); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, "UPDATE machines SET sessions_revoked_at = $1 WHERE id = $2",
			ms(tok.CreatedAt), tok.MachineID); err != nil {
			return err
		}
		return replaceToken(ctx, tx, tok, false)
	})
	return wrap("replace token", err)
}

// RevokeTokens revokes every active token of a machine.
func (s *Store) RevokeTokens(ctx context.Context, machineID string, at time.Time) (int, error) {
	// One statement, so the sessions and tokens are revoked together.
	tag, err := s.pool.Exec(ctx, `WITH m AS (UPDATE machines SET sessions_revoked_at = $1 WHERE id = $2)
		UPDATE tokens SET revoked_at = $1 WHERE machine_id = $2 AND revoked_at = 0`, ms(at), machineID)
	if err != nil {
		return 0, wrap("revoke tokens", err)
	}
	return int(tag.RowsAffected()), nil
}

// SessionsRevokedAt reads when the machine's sessions were last revoked.
func (s *Store) SessionsRevokedAt(ctx context.Context, machineID string) (time.Time, error) {
	var v int64
	err := s.pool.QueryRow(ctx, "SELECT sessions_revoked_at FROM machines WHERE id = $1", machineID).Scan(&v)
	return sqlcol.Time(v), wrap("sessions revoked at", err)
}
