-- Initial schema. Times are unix milliseconds; 0 means "not set". JSON is
-- kept as text so stored documents come back byte for byte.
CREATE TABLE tenants (
	id         text PRIMARY KEY,
	name       text NOT NULL,
	created_at bigint NOT NULL
);

CREATE TABLE secrets (
	id         text PRIMARY KEY,
	tenant_id  text NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
	kind       text NOT NULL,
	hash       bytea NOT NULL UNIQUE,
	hint       text NOT NULL,
	created_at bigint NOT NULL,
	revoked_at bigint NOT NULL DEFAULT 0
);
CREATE INDEX secrets_tenant ON secrets(tenant_id);

CREATE TABLE machines (
	id             text COLLATE "C" PRIMARY KEY,
	tenant_id      text NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
	fingerprint    text NOT NULL,
	hostname       text NOT NULL,
	os_name        text NOT NULL,
	os_version     text NOT NULL,
	os_arch        text NOT NULL,
	macs           text NOT NULL,
	serials        text NOT NULL,
	hardware_uuid  text NOT NULL,
	source         text NOT NULL,
	fleet          text,
	agent_version  text NOT NULL DEFAULT '',
	status         text NOT NULL DEFAULT '',
	inventory      text,
	metrics        text,
	last_seen_at   bigint NOT NULL DEFAULT 0,
	created_at     bigint NOT NULL,
	updated_at     bigint NOT NULL,
	-- The agent's last self-update outcome (inventory.agent.update), kept
	-- in columns so rollout health is an index-friendly aggregate.
	update_result  text NOT NULL DEFAULT '',
	update_version text NOT NULL DEFAULT '',
	update_at      bigint NOT NULL DEFAULT 0
-- Heartbeats rewrite a machine row every minute: free space on each page
-- and no index on the columns they change keep those updates HOT (no
-- index writes).
) WITH (fillfactor = 70);
CREATE UNIQUE INDEX machines_fingerprint ON machines(tenant_id, fingerprint) WHERE fingerprint <> '';
CREATE INDEX machines_tenant ON machines(tenant_id, id);
CREATE INDEX machines_hostname ON machines(tenant_id, lower(hostname));
CREATE INDEX machines_uuid ON machines(tenant_id, lower(hardware_uuid));

CREATE TABLE machine_serials (
	tenant_id  text NOT NULL,
	serial     text NOT NULL,
	machine_id text NOT NULL REFERENCES machines(id) ON DELETE CASCADE,
	PRIMARY KEY (tenant_id, serial, machine_id)
);
CREATE INDEX machine_serials_machine ON machine_serials(machine_id);

CREATE TABLE tokens (
	hash       bytea PRIMARY KEY,
	machine_id text NOT NULL REFERENCES machines(id) ON DELETE CASCADE,
	tenant_id  text NOT NULL,
	created_at bigint NOT NULL,
	expires_at bigint NOT NULL,
	revoked_at bigint NOT NULL DEFAULT 0
);
CREATE INDEX tokens_machine ON tokens(machine_id);

CREATE TABLE heartbeats (
	id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	machine_id    text NOT NULL REFERENCES machines(id) ON DELETE CASCADE,
	at            bigint NOT NULL,
	status        text NOT NULL,
	agent_version text NOT NULL,
	metrics       text
);
CREATE INDEX heartbeats_machine ON heartbeats(machine_id, at);
CREATE INDEX heartbeats_at ON heartbeats(at);

CREATE TABLE handshakes (
	code_hash  bytea PRIMARY KEY,
	machine_id text NOT NULL REFERENCES machines(id) ON DELETE CASCADE,
	tenant_id  text NOT NULL,
	redirect   text NOT NULL,
	created_at bigint NOT NULL,
	expires_at bigint NOT NULL
);

CREATE TABLE admin_tokens (
	id         text PRIMARY KEY,
	name       text NOT NULL,
	tenant_id  text NOT NULL,
	hash       bytea NOT NULL UNIQUE,
	created_at bigint NOT NULL,
	revoked_at bigint NOT NULL DEFAULT 0
);

CREATE TABLE signing_keys (
	id         text PRIMARY KEY,
	seed       bytea NOT NULL,
	created_at bigint NOT NULL
);
