package sqlite

import (
	"context"
	"database/sql"
	"time"

	"github.com/slipwayhq/slipway/server/store"
)

// CreateTenant inserts a tenant.
func (s *Store) CreateTenant(ctx context.Context, t store.Tenant) error {
	_, err := s.w.ExecContext(ctx, "INSERT INTO tenants (id, name, created_at) VALUES (?, ?, ?)",
		t.ID, t.Name, ms(t.CreatedAt))
	return wrap("create tenant", err)
}

// GetTenant reads one tenant.
func (s *Store) GetTenant(ctx context.Context, id string) (store.Tenant, error) {
	var t store.Tenant
	var created int64
	err := s.r.QueryRowContext(ctx, "SELECT id, name, created_at FROM tenants WHERE id = ?", id).
		Scan(&t.ID, &t.Name, &created)
	t.CreatedAt = tm(created)
	return t, wrap("get tenant", err)
}

// ListTenants lists every tenant by ID.
func (s *Store) ListTenants(ctx context.Context) ([]store.Tenant, error) {
	rows, err := s.r.QueryContext(ctx, "SELECT id, name, created_at FROM tenants ORDER BY id")
	if err != nil {
		return nil, wrap("list tenants", err)
	}
	defer rows.Close()
	var out []store.Tenant
	for rows.Next() {
		var t store.Tenant
		var created int64
		if err := rows.Scan(&t.ID, &t.Name, &created); err != nil {
			return nil, wrap("list tenants", err)
		}
		t.CreatedAt = tm(created)
		out = append(out, t)
	}
	return out, wrap("list tenants", rows.Err())
}

const secretCols = "id, tenant_id, kind, hash, hint, created_at, revoked_at"

type scanner interface{ Scan(...any) error }

func scanSecret(row scanner) (store.Secret, error) {
	var sc store.Secret
	var kind string
	var created, revoked int64
	err := row.Scan(&sc.ID, &sc.TenantID, &kind, &sc.Hash, &sc.Hint, &created, &revoked)
	sc.Kind, sc.CreatedAt, sc.RevokedAt = store.SecretKind(kind), tm(created), tm(revoked)
	return sc, err
}

// CreateSecret inserts a tenant secret.
func (s *Store) CreateSecret(ctx context.Context, sc store.Secret) error {
	_, err := s.w.ExecContext(ctx, "INSERT INTO secrets ("+secretCols+") VALUES (?, ?, ?, ?, ?, ?, ?)",
		sc.ID, sc.TenantID, string(sc.Kind), sc.Hash, sc.Hint, ms(sc.CreatedAt), ms(sc.RevokedAt))
	return wrap("create secret", err)
}

// FindSecret looks a secret up by hash.
func (s *Store) FindSecret(ctx context.Context, hash []byte) (store.Secret, error) {
	sc, err := scanSecret(s.r.QueryRowContext(ctx, "SELECT "+secretCols+" FROM secrets WHERE hash = ?", hash))
	return sc, wrap("find secret", err)
}

// ListSecrets lists a tenant's secrets, oldest first.
func (s *Store) ListSecrets(ctx context.Context, tenantID string) ([]store.Secret, error) {
	rows, err := s.r.QueryContext(ctx,
		"SELECT "+secretCols+" FROM secrets WHERE tenant_id = ? ORDER BY created_at, id", tenantID)
	if err != nil {
		return nil, wrap("list secrets", err)
	}
	defer rows.Close()
	var out []store.Secret
	for rows.Next() {
		sc, err := scanSecret(rows)
		if err != nil {
			return nil, wrap("list secrets", err)
		}
		out = append(out, sc)
	}
	return out, wrap("list secrets", rows.Err())
}

// RevokeSecret revokes a secret of the tenant (idempotent).
func (s *Store) RevokeSecret(ctx context.Context, tenantID, id string, at time.Time) error {
	res, err := s.w.ExecContext(ctx,
		"UPDATE secrets SET revoked_at = CASE WHEN revoked_at = 0 THEN ? ELSE revoked_at END WHERE tenant_id = ? AND id = ?",
		ms(at), tenantID, id)
	if err != nil {
		return wrap("revoke secret", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return wrap("revoke secret", sql.ErrNoRows)
	}
	return nil
}
