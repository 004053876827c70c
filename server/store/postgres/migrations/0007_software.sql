-- Software inventory (issue 17); see the SQLite migration of the same
-- number for the model. Titles are stored once; machines point at them per
-- origin (1 = agent, 2 = Fleet); shadowed Fleet links are kept but hidden.
CREATE TABLE software (
	id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	name            text NOT NULL,
	name_key        text NOT NULL,
	version         text NOT NULL,
	source          text NOT NULL,
	bundle_id       text NOT NULL,
	vendor          text NOT NULL DEFAULT '',
	vulnerabilities text NOT NULL DEFAULT ''
);
CREATE UNIQUE INDEX software_key ON software(name, version, source, bundle_id);
CREATE INDEX software_name ON software(name_key);

CREATE TABLE machine_software (
	machine_id   text COLLATE "C" NOT NULL REFERENCES machines(id) ON DELETE CASCADE,
	software_id  bigint NOT NULL,
	origin       smallint NOT NULL,
	tenant_id    text NOT NULL,
	shadowed     smallint NOT NULL DEFAULT 0,
	installed_at bigint NOT NULL DEFAULT 0,
	path         text NOT NULL DEFAULT '',
	PRIMARY KEY (machine_id, software_id, origin)
);
CREATE INDEX machine_software_search ON machine_software(tenant_id, software_id, machine_id) WHERE shadowed = 0;

CREATE TABLE machine_software_lists (
	machine_id text COLLATE "C" NOT NULL REFERENCES machines(id) ON DELETE CASCADE,
	origin     smallint NOT NULL,
	hash       text NOT NULL,
	count      integer NOT NULL,
	updated_at bigint NOT NULL,
	PRIMARY KEY (machine_id, origin)
);

CREATE TABLE software_history (
	id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	machine_id  text COLLATE "C" NOT NULL REFERENCES machines(id) ON DELETE CASCADE,
	at          bigint NOT NULL,
	software_id bigint NOT NULL,
	change      text NOT NULL
);
CREATE INDEX software_history_machine ON software_history(machine_id, at);
CREATE INDEX software_history_at ON software_history(at);
