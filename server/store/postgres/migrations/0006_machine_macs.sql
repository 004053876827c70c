-- MAC addresses of machines, indexed per tenant, so a Fleet host or an agent
-- can be matched to the machine already known by its primary MAC (after the
-- serial number and the hardware UUID). Kept in step with machines.macs.
CREATE TABLE machine_macs (
	tenant_id  text NOT NULL,
	mac        text NOT NULL,
	machine_id text NOT NULL REFERENCES machines(id) ON DELETE CASCADE,
	PRIMARY KEY (tenant_id, mac, machine_id)
);
CREATE INDEX machine_macs_machine ON machine_macs(machine_id);
INSERT INTO machine_macs (tenant_id, mac, machine_id)
	SELECT m.tenant_id, j.mac, m.id FROM machines m, jsonb_array_elements_text(m.macs::jsonb) AS j(mac)
	WHERE j.mac <> '' ON CONFLICT DO NOTHING;
