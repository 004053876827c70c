-- Initial schema. Times are unix milliseconds; 0 means "not set".
CREATE TABLE tenants (
	id         TEXT PRIMARY KEY,
	name       TEXT NOT NULL,
	created_at INTEGER NOT NULL
);

CREATE TABLE secrets (
	id         TEXT PRIMARY KEY,
	tenant_id  TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
	kind       TEXT NOT NULL,
	hash       BLOB NOT NULL UNIQUE,
	hint       TEXT NOT NULL,
	created_at INTEGER NOT NULL,
	revoked_at INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX secrets_tenant ON secrets(tenant_id);

CREATE TABLE machines (
	id            TEXT PRIMARY KEY,
	tenant_id     TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
	fingerprint   TEXT NOT NULL,
	hostname      TEXT NOT NULL,
	os_name       TEXT NOT NULL,
	os_version    TEXT NOT NULL,
	os_arch       TEXT NOT NULL,
	macs          TEXT NOT NULL,
	serials       TEXT NOT NULL,
	hardware_uuid TEXT NOT NULL,
	source        TEXT NOT NULL,
	fleet         TEXT,
	agent_version TEXT NOT NULL DEFAULT '',
	status        TEXT NOT NULL DEFAULT '',
	inventory     TEXT,
	metrics       TEXT,
	last_seen_at  INTEGER NOT NULL DEFAULT 0,
	created_at    INTEGER NOT NULL,
	updated_at    INTEGER NOT NULL
);
CREATE UNIQUE INDEX machines_fingerprint ON machines(tenant_id, fingerprint) WHERE fingerprint <> '';
CREATE INDEX machines_tenant ON machines(tenant_id, id);
CREATE INDEX machines_hostname ON machines(tenant_id, lower(hostname));
CREATE INDEX machines_uuid ON machines(tenant_id, lower(hardware_uuid));

-- One row per serial number, for Fleet matching.
CREATE TABLE machine_serials (
	tenant_id  TEXT NOT NULL,
	serial     TEXT NOT NULL,
	machine_id TEXT NOT NULL REFERENCES machines(id) ON DELETE CASCADE,
	PRIMARY KEY (tenant_id, serial, machine_id)
);
CREATE INDEX machine_serials_machine ON machine_serials(machine_id);

CREATE TABLE tokens (
	hash       BLOB PRIMARY KEY,
	machine_id TEXT NOT NULL REFERENCES machines(id) ON DELETE CASCADE,
	tenant_id  TEXT NOT NULL,
	created_at INTEGER NOT NULL,
	expires_at INTEGER NOT NULL,
	revoked_at INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX tokens_machine ON tokens(machine_id);

CREATE TABLE heartbeats (
	id            INTEGER PRIMARY KEY,
	machine_id    TEXT NOT NULL REFERENCES machines(id) ON DELETE CASCADE,
	at            INTEGER NOT NULL,
	status        TEXT NOT NULL,
	agent_version TEXT NOT NULL,
	metrics       TEXT
);
CREATE INDEX heartbeats_machine ON heartbeats(machine_id, at);
CREATE INDEX heartbeats_at ON heartbeats(at);

CREATE TABLE handshakes (
	code_hash  BLOB PRIMARY KEY,
	machine_id TEXT NOT NULL REFERENCES machines(id) ON DELETE CASCADE,
	tenant_id  TEXT NOT NULL,
	redirect   TEXT NOT NULL,
	created_at INTEGER NOT NULL,
	expires_at INTEGER NOT NULL
);

CREATE TABLE admin_tokens (
	id         TEXT PRIMARY KEY,
	name       TEXT NOT NULL,
	tenant_id  TEXT NOT NULL,
	hash       BLOB NOT NULL UNIQUE,
	created_at INTEGER NOT NULL,
	revoked_at INTEGER NOT NULL DEFAULT 0
);

CREATE TABLE signing_keys (
	id         TEXT PRIMARY KEY,
	seed       BLOB NOT NULL,
	created_at INTEGER NOT NULL
);
