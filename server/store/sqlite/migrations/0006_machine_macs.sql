-- MAC addresses of machines, indexed per tenant, so a Fleet host or an agent
-- can be matched to the machine already known by its primary MAC (after the
-- serial number and the hardware UUID). Kept in step with machines.macs.
CREATE TABLE machine_macs (
	tenant_id  TEXT NOT NULL,
	mac        TEXT NOT NULL,
	machine_id TEXT NOT NULL REFERENCES machines(id) ON DELETE CASCADE,
	PRIMARY KEY (tenant_id, mac, machine_id)
);
CREATE INDEX machine_macs_machine ON machine_macs(machine_id);
INSERT OR IGNORE INTO machine_macs (tenant_id, mac, machine_id)
	SELECT m.tenant_id, j.value, m.id FROM machines m, json_each(m.macs) j WHERE j.value <> '';
