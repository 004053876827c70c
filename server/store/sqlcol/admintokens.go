package sqlcol

import "github.com/slipwayhq/slipway/server/store"

// AdminTokenColumns are the admin_tokens columns ScanAdminToken reads.
const AdminTokenColumns = "id, name, tenant_id, role, hint, hash, created_at, expires_at, revoked_at"

// AdminTokenArgs are t's values in AdminTokenColumns order.
func AdminTokenArgs(t store.AdminToken) []any {
	return []any{t.ID, t.Name, t.TenantID, t.Role, t.Hint, t.Hash, Millis(t.CreatedAt), Millis(t.ExpiresAt), Millis(t.RevokedAt)}
}

// ScanAdminToken reads one admin token row.
func ScanAdminToken(row Scanner) (store.AdminToken, error) {
	var t store.AdminToken
	var created, expires, revoked int64
	err := row.Scan(&t.ID, &t.Name, &t.TenantID, &t.Role, &t.Hint, &t.Hash, &created, &expires, &revoked)
	t.CreatedAt, t.ExpiresAt, t.RevokedAt = Time(created), Time(expires), Time(revoked)
	return t, err
}
