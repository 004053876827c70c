-- Issue 14: admin identity and the sweep's findings.
-- sessions_revoked_at: machine sessions (JWTs, handshake cookies) issued
-- before this time (unix ms; 0 = never) are refused on every request, so
-- revoking or rotating a machine's token ends its sessions at once.
ALTER TABLE machines ADD COLUMN sessions_revoked_at INTEGER NOT NULL DEFAULT 0;

-- Admin token lifecycle: a role (viewer, release-manager, admin; '' is
-- admin, for tokens made before roles), an expiry (0 = never) and a short
-- non-secret hint shown in listings.
ALTER TABLE admin_tokens ADD COLUMN role TEXT NOT NULL DEFAULT '';
ALTER TABLE admin_tokens ADD COLUMN expires_at INTEGER NOT NULL DEFAULT 0;
ALTER TABLE admin_tokens ADD COLUMN hint TEXT NOT NULL DEFAULT '';
