-- Rollout gate controller state (updater/gate), one row per product and
-- channel: a JSON document and a revision that every save compares and
-- increments, so several server replicas make one decision.
CREATE TABLE rollout_gates (
	product    TEXT    NOT NULL,
	channel    TEXT    NOT NULL,
	rev        INTEGER NOT NULL,
	state      BLOB    NOT NULL,
	updated_at INTEGER NOT NULL,
	PRIMARY KEY (product, channel)
);
