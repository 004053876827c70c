-- The audit log of admin actions (sign-in, channel pause / resume / roll
-- back, token and secret revocation, ...), newest read first. No foreign
-- key to tenants: entries outlive what they name, and global actions have
-- tenant_id ''. AUTOINCREMENT: IDs only grow, so they order entries and
-- serve as the list cursor.
CREATE TABLE audit_log (
	id         INTEGER PRIMARY KEY AUTOINCREMENT,
	at         INTEGER NOT NULL,
	tenant_id  TEXT NOT NULL,
	actor_id   TEXT NOT NULL,
	actor_name TEXT NOT NULL,
	action     TEXT NOT NULL,
	target     TEXT NOT NULL,
	detail     TEXT NOT NULL,
	result     TEXT NOT NULL
);
CREATE INDEX audit_log_tenant ON audit_log(tenant_id, id);
