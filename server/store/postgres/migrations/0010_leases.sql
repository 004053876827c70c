-- Leases: one holder at a time for a named job across replicas (the TUF
-- online-key re-signing). A lease is taken when free or expired and
-- renewed by its holder; expires_at is Unix milliseconds.
CREATE TABLE leases (
	name       TEXT PRIMARY KEY,
	holder     TEXT NOT NULL,
	expires_at bigint NOT NULL
);
