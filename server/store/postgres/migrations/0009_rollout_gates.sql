-- Rollout gate controller state (updater/gate), one row per product and
-- channel: a JSON document and a revision that every save compares and
-- increments, so several server replicas make one decision.
CREATE TABLE rollout_gates (
	product    text   NOT NULL,
	channel    text   NOT NULL,
	rev        bigint NOT NULL,
	state      bytea  NOT NULL,
	updated_at bigint NOT NULL,
	PRIMARY KEY (product, channel)
);
