-- Issue 14: admin identity and the sweep's findings.
-- sessions_revoked_at: machine sessions (JWTs, handshake cookies) issued
-- before this time (unix ms; 0 = never) are refused on every request, so
-- revoking or rotating a machine's token ends its sessions at once.
ALTER TABLE machines ADD COLUMN sessions_revoked_at bigint NOT NULL DEFAULT 0;
