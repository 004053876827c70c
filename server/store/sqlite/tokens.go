package sqlite

import (
	"context"
	"database/sql"
	"time"

	"github.com/slipwayhq/slipway/server/store"
)

const getTokenSQL = "SELECT hash, machine_id, tenant_id, client, created_at, expires_at, revoked_at FROM tokens WHERE hash = ?"

// GetToken looks a machine token up by hash.
func (s *Store) GetToken(ctx context.Context, hash []byte) (store.Token, error) {
	t, gen, ok := s.tokens.get(hash)
	if ok {
		return t, nil
	}
	var created, expires, revoked int64
	err := s.getToken.QueryRowContext(ctx, hash).Scan(&t.Hash, &t.MachineID, &t.TenantID, &t.Client, &created, &expires, &revoked)
	t.CreatedAt, t.ExpiresAt, t.RevokedAt = tm(created), tm(expires), tm(revoked)
	if err == nil {
		s.tokens.put(t, gen)
	}
	return t, wrap("get token", err)
}

// replaceToken revokes the machine's active tokens (only those of tok's
// client kind when sameClient) and stores tok.
func replaceToken(ctx context.Context, tx *sql.Tx, tok store.Token, sameClient bool) error {
	client := store.ClientOf(tok)
	if _, err := tx.ExecContext(ctx, `UPDATE tokens SET revoked_at = ?1
		WHERE machine_id = ?2 AND revoked_at = 0 AND (NOT ?3 OR client = ?4)`,
		ms(tok.CreatedAt), tok.MachineID, sameClient, client); err != nil {
		return err
	}
	_, err := tx.ExecContext(ctx, `INSERT INTO tokens (hash, machine_id, tenant_id, client, created_at, expires_at, revoked_at)
		VALUES (?, ?, ?, ?, ?, ?, 0)`, tok.Hash, tok.MachineID, tok.TenantID, client, ms(tok.CreatedAt), ms(tok.ExpiresAt))
	return err
}

// ReplaceToken revokes the machine's active tokens of every client kind and stores tok.
func (s *Store) ReplaceToken(ctx context.Context, tok store.Token) error {
	err := s.tx(ctx, func(tx *sql.Tx) error {
		var n int
		if err := tx.QueryRowContext(ctx, "SELECT count(*) FROM machines WHERE id = ?", tok.MachineID).Scan(&n); err != nil {
			return err
		}
		if n == 0 {
			return sql.ErrNoRows
		}
		return replaceToken(ctx, tx, tok, false)
	})
	s.tokens.forget(tok.MachineID)
	return wrap("replace token", err)
}

// RevokeTokens revokes every active token of a machine.
func (s *Store) RevokeTokens(ctx context.Context, machineID string, at time.Time) (int, error) {
	res, err := s.w.ExecContext(ctx, "UPDATE tokens SET revoked_at = ? WHERE machine_id = ? AND revoked_at = 0",
		ms(at), machineID)
	s.tokens.forget(machineID)
	if err != nil {
		return 0, wrap("revoke tokens", err)
	}
	n, _ := res.RowsAffected()
	return int(n), nil
}
