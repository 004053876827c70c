package postgres

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/slipwayhq/slipway/server/store"
)

// CreateTenant inserts a tenant.
func (s *Store) CreateTenant(ctx context.Context, t store.Tenant) error {
	_, err := s.pool.Exec(ctx, "INSERT INTO tenants (id, name, created_at) VALUES ($1, $2, $3)",
		t.ID, t.Name, ms(t.CreatedAt))
	return wrap("create tenant", err)
}

// GetTenant reads one tenant.
func (s *Store) GetTenant(ctx context.Context, id string) (store.Tenant, error) {
	var t store.Tenant
	var created int64
	err := s.pool.QueryRow(ctx, "SELECT id, name, created_at FROM tenants WHERE id = $1", id).
		Scan(&t.ID, &t.Name, &created)
	t.CreatedAt = tm(created)
	return t, wrap("get tenant", err)
}

// ListTenants lists every tenant by ID.
func (s *Store) ListTenants(ctx context.Context) ([]store.Tenant, error) {
	rows, _ := s.pool.Query(ctx, `SELECT id, name, created_at FROM tenants ORDER BY id COLLATE "C"`)
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (store.Tenant, error) {
		var t store.Tenant
		var created int64
		err := row.Scan(&t.ID, &t.Name, &created)
		t.CreatedAt = tm(created)
		return t, err
	})
	return out, wrap("list tenants", err)
}

const secretCols = "id, tenant_id, kind, hash, hint, created_at, revoked_at"

func scanSecret(row pgx.Row) (store.Secret, error) {
	var sc store.Secret
	var kind string
	var created, revoked int64
	err := row.Scan(&sc.ID, &sc.TenantID, &kind, &sc.Hash, &sc.Hint, &created, &revoked)
	sc.Kind, sc.CreatedAt, sc.RevokedAt = store.SecretKind(kind), tm(created), tm(revoked)
	return sc, err
}

// CreateSecret inserts a tenant secret.
func (s *Store) CreateSecret(ctx context.Context, sc store.Secret) error {
	_, err := s.pool.Exec(ctx, "INSERT INTO secrets ("+secretCols+") VALUES ($1, $2, $3, $4, $5, $6, $7)",
		sc.ID, sc.TenantID, string(sc.Kind), sc.Hash, sc.Hint, ms(sc.CreatedAt), ms(sc.RevokedAt))
	return wrap("create secret", err)
}

// FindSecret looks a secret up by hash.
func (s *Store) FindSecret(ctx context.Context, hash []byte) (store.Secret, error) {
	sc, err := scanSecret(s.pool.QueryRow(ctx, "SELECT "+secretCols+" FROM secrets WHERE hash = $1", hash))
	return sc, wrap("find secret", err)
}

// ListSecrets lists a tenant's secrets, oldest first.
func (s *Store) ListSecrets(ctx context.Context, tenantID string) ([]store.Secret, error) {
	rows, _ := s.pool.Query(ctx,
		"SELECT "+secretCols+` FROM secrets WHERE tenant_id = $1 ORDER BY created_at, id COLLATE "C"`, tenantID)
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (store.Secret, error) { return scanSecret(row) })
	return out, wrap("list secrets", err)
}

// RevokeSecret revokes a secret of the tenant (idempotent).
func (s *Store) RevokeSecret(ctx context.Context, tenantID, id string, at time.Time) error {
	tag, err := s.pool.Exec(ctx,
		"UPDATE secrets SET revoked_at = CASE WHEN revoked_at = 0 THEN $1 ELSE revoked_at END WHERE tenant_id = $2 AND id = $3",
		ms(at), tenantID, id)
	if err == nil && tag.RowsAffected() == 0 {
		err = pgx.ErrNoRows
	}
	return wrap("revoke secret", err)
}
