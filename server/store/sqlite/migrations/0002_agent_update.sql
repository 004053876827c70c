-- The agent's last self-update (inventory.agent.update) in columns, written
-- with the inventory by heartbeats, registration and inserts, so rollout
-- health is one GROUP BY instead of a JSON parse per machine.
ALTER TABLE machines ADD COLUMN update_result  TEXT NOT NULL DEFAULT '';
ALTER TABLE machines ADD COLUMN update_version TEXT NOT NULL DEFAULT '';
ALTER TABLE machines ADD COLUMN update_at      INTEGER NOT NULL DEFAULT 0;

-- Backfill from the stored inventories, as the Go decoder (agentUpdateOf)
-- reads them: an agent.update object whose fields are strings (or absent),
-- the version installed or else the one offered, the time in unix ms
-- (0 for Go's zero time).
UPDATE machines SET
	update_result = substr(coalesce(json_extract(inventory, '$.agent.update.result'), ''), 1, 32),
	update_version = substr(coalesce(nullif(json_extract(inventory, '$.agent.update.installed'), ''),
		json_extract(inventory, '$.agent.update.available'), ''), 1, 64),
	update_at = coalesce(max(0, CAST(round(unixepoch(json_extract(inventory, '$.agent.update.at'), 'subsec') * 1000) AS INTEGER)), 0)
WHERE json_valid(inventory)
	AND json_type(inventory, '$.agent.update') = 'object'
	AND coalesce(json_type(inventory, '$.agent.update.result'), 'null') IN ('text', 'null')
	AND coalesce(json_type(inventory, '$.agent.update.installed'), 'null') IN ('text', 'null')
	AND coalesce(json_type(inventory, '$.agent.update.available'), 'null') IN ('text', 'null')
	AND (coalesce(json_type(inventory, '$.agent.update.at'), 'null') = 'null'
		OR unixepoch(json_extract(inventory, '$.agent.update.at'), 'subsec') IS NOT NULL);

-- Rollout health reads this index alone, in GROUP BY order (no table rows,
-- no sort). Heartbeats rewrite its entry only when the agent version changes
-- or a self-update is reported.
CREATE INDEX machines_rollout ON machines(tenant_id, agent_version, update_version, update_result, update_at);
