-- Software inventory, second pass (issue 17). machine_software pointed at
-- machines by their text ID and carried the tenant ID, in the row and in
-- the search index; it now points at an integer key of software_machines
-- (which holds the machine's tenant), numbered in machine ID order for the
-- data already stored (new machines get the next key). The search index
-- leads with software_id and covers every link (shadowed too): it answers
-- "which machines have these versions" and "does any machine still have
-- this row" (the garbage collection of software rows, which may now be
-- deleted: the foreign key makes a stale cached ID fail instead of
-- pointing nowhere).
CREATE TABLE software_machines (
	id         INTEGER PRIMARY KEY,
	machine_id TEXT NOT NULL UNIQUE REFERENCES machines(id) ON DELETE CASCADE,
	tenant_id  TEXT NOT NULL
);
INSERT INTO software_machines (machine_id, tenant_id)
	SELECT m.id, m.tenant_id FROM machines m
	WHERE EXISTS (SELECT 1 FROM machine_software ms WHERE ms.machine_id = m.id) ORDER BY m.id;

CREATE TABLE machine_software_v2 (
	machine_key  INTEGER NOT NULL REFERENCES software_machines(id) ON DELETE CASCADE,
	software_id  INTEGER NOT NULL REFERENCES software(id),
	origin       INTEGER NOT NULL,
	shadowed     INTEGER NOT NULL DEFAULT 0,
	installed_at INTEGER NOT NULL DEFAULT 0,
	path         TEXT NOT NULL DEFAULT '',
	PRIMARY KEY (machine_key, software_id, origin)
) WITHOUT ROWID;
INSERT INTO machine_software_v2 (machine_key, software_id, origin, shadowed, installed_at, path)
	SELECT k.id, ms.software_id, ms.origin, ms.shadowed, ms.installed_at, ms.path
	FROM machine_software ms JOIN software_machines k ON k.machine_id = ms.machine_id
	ORDER BY k.id, ms.software_id, ms.origin;
DROP TABLE machine_software;
ALTER TABLE machine_software_v2 RENAME TO machine_software;
CREATE INDEX machine_software_search ON machine_software(software_id, shadowed, machine_key);
CREATE INDEX software_history_software ON software_history(software_id);
