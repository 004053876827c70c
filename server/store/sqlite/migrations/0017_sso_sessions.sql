-- Issue 14: single sign-on sessions are rechecked with the identity
-- provider every SLIPWAY_OIDC_RECHECK. grant_sealed: the provider's refresh
-- (or access) token, AES-GCM sealed by the admin page (never in clear);
-- check_at: when the provider is next asked; expires_at: when the session
-- ends anyway. Unix milliseconds.
CREATE TABLE sso_sessions (
	id           BLOB    PRIMARY KEY,
	grant_sealed BLOB    NOT NULL,
	check_at     INTEGER NOT NULL,
	expires_at   INTEGER NOT NULL
);
CREATE INDEX sso_sessions_expiry ON sso_sessions(expires_at);
