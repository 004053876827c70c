package sqlite

import (
	"context"
	"database/sql"
	"time"

	"github.com/slipwayhq/slipway/server/store"
	"github.com/slipwayhq/slipway/server/store/sqlcol"
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
		if _, err := tx.ExecContext(ctx, "UPDATE machines SET sessions_revoked_at = ? WHERE id = ?",
			ms(tok.CreatedAt), tok.MachineID); err != nil {
			return err
		}
		return replaceToken(ctx, tx, tok, false)
	})
	s.tokens.forget(tok.MachineID)
	return wrap("replace token", err)
}

// RevokeTokens revokes every active token of a machine.
func (s *Store) RevokeTokens(ctx context.Context, machineID string, at time.Time) (int, error) {
	var n int64
	err := s.tx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, "UPDATE machines SET sessions_revoked_at = ? WHERE id = ?", ms(at), machineID); err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, "UPDATE tokens SET revoked_at = ? WHERE machine_id = ? AND revoked_at = 0",
			ms(at), machineID)
		if err != nil {
			return err
		}
		n, _ = res.RowsAffected()
		return nil
	})
	s.tokens.forget(machineID)
	if err != nil {
		return 0, wrap("revoke tokens", err)
	}
	return int(n), nil
}

// SessionsRevokedAt reads when the machine's sessions were last revoked.
func (s *Store) SessionsRevokedAt(ctx context.Context, machineID string) (time.Time, error) {
	var v int64
	err := s.r.QueryRowContext(ctx, "SELECT sessions_revoked_at FROM machines WHERE id = ?", machineID).Scan(&v)
	return sqlcol.Time(v), wrap("sessions revoked at", err)
}
