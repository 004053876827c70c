-- Software inventory (issue 17). Each title+version+source is stored once;
-- machines point at the rows they have, per origin (1 = agent,
-- 2 = Fleet). A Fleet link the agent's list overrides (same lower-case
-- name and source) is "shadowed": kept, but not part of the machine's
-- software. Rows of "software" are never deleted, so their IDs can be
-- cached.
CREATE TABLE software (
	id              INTEGER PRIMARY KEY,
	name            TEXT NOT NULL,
	name_key        TEXT NOT NULL, -- lower(name), for the fleet-wide search
	version         TEXT NOT NULL,
	source          TEXT NOT NULL,
	bundle_id       TEXT NOT NULL,
	vendor          TEXT NOT NULL DEFAULT '',
	vulnerabilities TEXT NOT NULL DEFAULT '' -- space-separated CVE IDs (Fleet)
);
CREATE UNIQUE INDEX software_key ON software(name, version, source, bundle_id);
CREATE INDEX software_name ON software(name_key);

CREATE TABLE machine_software (
	machine_id   TEXT NOT NULL REFERENCES machines(id) ON DELETE CASCADE,
	software_id  INTEGER NOT NULL,
	origin       INTEGER NOT NULL,
	tenant_id    TEXT NOT NULL,
	shadowed     INTEGER NOT NULL DEFAULT 0,
	installed_at INTEGER NOT NULL DEFAULT 0,
	path         TEXT NOT NULL DEFAULT '',
	PRIMARY KEY (machine_id, software_id, origin)
) WITHOUT ROWID;
-- "Which machines of the tenant have these versions", in machine order.
CREATE INDEX machine_software_search ON machine_software(tenant_id, software_id, machine_id) WHERE shadowed = 0;

-- The hash of each machine's last list per origin: a heartbeat carrying
-- the same hash needs no upload.
CREATE TABLE machine_software_lists (
	machine_id TEXT NOT NULL REFERENCES machines(id) ON DELETE CASCADE,
	origin     INTEGER NOT NULL,
	hash       TEXT NOT NULL,
	count      INTEGER NOT NULL,
	updated_at INTEGER NOT NULL,
	PRIMARY KEY (machine_id, origin)
) WITHOUT ROWID;

-- What was installed or removed, pruned after the retention period.
CREATE TABLE software_history (
	id          INTEGER PRIMARY KEY,
	machine_id  TEXT NOT NULL REFERENCES machines(id) ON DELETE CASCADE,
	at          INTEGER NOT NULL,
	software_id INTEGER NOT NULL,
	change      TEXT NOT NULL
);
CREATE INDEX software_history_machine ON software_history(machine_id, at);
CREATE INDEX software_history_at ON software_history(at);
