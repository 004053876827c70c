-- The audit log of admin actions (sign-in, channel pause / resume / roll
-- back, token and secret revocation, ...), newest read first. No foreign
-- key to tenants: entries outlive what they name, and global actions have
-- tenant_id ''. IDs come from an identity column: they order entries and
-- serve as the list cursor.
CREATE TABLE audit_log (
	id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	at         bigint NOT NULL,
	tenant_id  text NOT NULL,
	actor_id   text NOT NULL,
	actor_name text NOT NULL,
	action     text NOT NULL,
	target     text NOT NULL,
	detail     text NOT NULL,
	result     text NOT NULL
);
CREATE INDEX audit_log_tenant ON audit_log(tenant_id, id);
