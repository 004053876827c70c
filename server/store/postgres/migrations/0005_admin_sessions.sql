-- Admin page sessions that were signed out before they expired. The
-- session cookie is signed, not stored; signing out records the session's
-- ID (a hash of its nonce) here until the cookie would have expired, and
-- every admin request checks it, so a copied cookie dies with the sign-out.
CREATE TABLE admin_session_revocations (
	id         bytea PRIMARY KEY,
	expires_at bigint NOT NULL
);
CREATE INDEX admin_session_revocations_expiry ON admin_session_revocations(expires_at);
