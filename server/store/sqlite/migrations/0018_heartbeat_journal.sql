-- Issue 12: heartbeats are acknowledged once they are in the heartbeat
-- journal (an fdatasync'ed append-only file beside the database) and folded
-- into machines/heartbeats/tokens in large transactions. The fold records,
-- in the same transaction, the journal position it reached, so a restart
-- after a crash replays exactly what was not folded (never twice).
CREATE TABLE heartbeat_journal (
	id      INTEGER PRIMARY KEY CHECK (id = 1),
	segment INTEGER NOT NULL,
	offset  INTEGER NOT NULL
);
