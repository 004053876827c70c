-- Heartbeat ingest, issue 12 (third session). A heartbeat used to update the
-- wide machines row (looked up through the text primary key's index) and
-- append to heartbeats, whose index on (machine_id TEXT, at) took a random
-- page per heartbeat. Now:
--   * machine_heartbeat holds what a heartbeat changes on its machine
--     (last_seen_at, status, metrics) in a narrow row with an integer key;
--     every machine has one (written by the trigger below on insert, backfilled
--     here). The machines columns last_seen_at, status and metrics are no
--     longer written after the insert: reads go through the view machine_rows,
--     which takes them from machine_heartbeat. agent_version, inventory and the
--     update_* columns stay on machines (the rollout index reads them) and are
--     written only when they change or an inventory arrives.
--   * heartbeats points at that integer key instead of the text machine ID,
--     so its per-machine index is about half as wide.
-- Keys are AUTOINCREMENT so that a key the heartbeat writer remembers
-- (sqlite.beatCache) can never come to name another machine's row.
CREATE TABLE machine_heartbeat (
	key          INTEGER PRIMARY KEY AUTOINCREMENT, -- never reused: the writer caches keys
	machine_id   TEXT NOT NULL UNIQUE REFERENCES machines(id) ON DELETE CASCADE,
	tenant_id    TEXT NOT NULL,
	last_seen_at INTEGER NOT NULL DEFAULT 0,
	status       TEXT NOT NULL DEFAULT '',
	metrics      TEXT
);
INSERT INTO machine_heartbeat (machine_id, tenant_id, last_seen_at, status, metrics)
	SELECT id, tenant_id, last_seen_at, status, metrics FROM machines ORDER BY id;

CREATE TRIGGER machines_heartbeat_row AFTER INSERT ON machines BEGIN
	INSERT INTO machine_heartbeat (machine_id, tenant_id, last_seen_at, status, metrics)
	VALUES (NEW.id, NEW.tenant_id, NEW.last_seen_at, NEW.status, NEW.metrics);
END;

-- The machine as the store reads it: machines with the heartbeat state.
CREATE VIEW machine_rows AS
	SELECT m.id, m.tenant_id, m.fingerprint, m.hostname, m.os_name, m.os_version, m.os_arch, m.macs, m.serials,
		m.hardware_uuid, m.source, m.fleet, m.agent_version,
		coalesce(h.status, m.status) AS status, m.inventory, coalesce(h.metrics, m.metrics) AS metrics,
		coalesce(h.last_seen_at, m.last_seen_at) AS last_seen_at, m.created_at, m.updated_at
	FROM machines m LEFT JOIN machine_heartbeat h ON h.machine_id = m.id;

CREATE TABLE heartbeats_v2 (
	id            INTEGER PRIMARY KEY,
	machine_key   INTEGER NOT NULL REFERENCES machine_heartbeat(key) ON DELETE CASCADE,
	at            INTEGER NOT NULL,
	status        TEXT NOT NULL,
	agent_version TEXT NOT NULL,
	metrics       TEXT
);
INSERT INTO heartbeats_v2 (id, machine_key, at, status, agent_version, metrics)
	SELECT h.id, k.key, h.at, h.status, h.agent_version, h.metrics
	FROM heartbeats h JOIN machine_heartbeat k ON k.machine_id = h.machine_id ORDER BY h.id;
DROP TABLE heartbeats;
ALTER TABLE heartbeats_v2 RENAME TO heartbeats;
CREATE INDEX heartbeats_machine ON heartbeats(machine_key, at);
CREATE INDEX heartbeats_at ON heartbeats(at);
