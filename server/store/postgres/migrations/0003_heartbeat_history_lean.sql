-- Heartbeat history is the hottest insert (one row per heartbeat) and is
-- append-only in time order. Two of its costs were not worth paying:
--   * the foreign key to machines ran a referential-integrity check (a
--     machines index probe and row lock) per inserted row, two thirds of
--     the insert's cost; RecordHeartbeats inserts only rows whose machine
--     exists (it joins machines) and DeleteMachine deletes the history
--     itself, in the same transaction as the machine;
--   * a B-tree on at, used only by retention pruning (at < cutoff): a BRIN
--     index serves that range delete on time-ordered rows at a fraction of
--     the write cost.
ALTER TABLE heartbeats DROP CONSTRAINT IF EXISTS heartbeats_machine_id_fkey;
DROP INDEX IF EXISTS heartbeats_at;
CREATE INDEX heartbeats_at ON heartbeats USING brin (at);
