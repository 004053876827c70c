-- Issue 14: session signing key rotation. retired_at: when the key
-- stopped signing (a newer key took over); expires_at: when it leaves the
-- JWKS and stops verifying, after the last token it signed has expired.
-- Unix milliseconds; 0 = not yet.
ALTER TABLE signing_keys ADD COLUMN retired_at bigint NOT NULL DEFAULT 0;
ALTER TABLE signing_keys ADD COLUMN expires_at bigint NOT NULL DEFAULT 0;
