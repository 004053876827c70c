package postgres

import (
	"context"
	"errors"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/slipwayhq/slipway/server/store"
)

// agentUpdate is the agent's last self-update outcome, as the agent sends
// it in inventory.agent.update (agent/identity.UpdateStatus).
type agentUpdate struct {
	Known   bool   // the inventory carried agent.update
	Result  string // installed, healthy, failed, rolled-back
	Version string // the version installed, or else the one offered
	At      int64  // unix ms
}

// updateOf extracts inventory.agent.update; an inventory without it yields Known=false.
func updateOf(inv []byte) agentUpdate {
	u, ok := store.AgentUpdateOf(inv)
	return agentUpdate{Known: ok, Result: u.Result, Version: u.Version, At: ms(u.At)}
}

// machineLatest is the fold of a batch's heartbeats for one machine, in
// arrival order, as if they were applied one by one.
type machineLatest struct {
	id                 string
	at                 int64
	status, version    string
	metrics, inventory *string
	upd                agentUpdate
}

// RecordHeartbeats persists a batch in one transaction and one round trip:
// one statement updates the machine rows and inserts the history rows, then
// one token-expiry update per renewed token.
func (s *Store) RecordHeartbeats(ctx context.Context, hbs []store.Heartbeat) error {
	if len(hbs) == 0 {
		return nil
	}
	b := heartbeatBatch(hbs)
	// Two replicas updating the same machines in different orders can
	// deadlock; PostgreSQL then aborts one batch, which is safe to retry.
	var err error
	for range 3 {
		if err = s.pool.SendBatch(ctx, b).Close(); !isDeadlock(err) {
			break
		}
	}
	return wrap("record heartbeats", err)
}

// heartbeatBatch builds the statements of RecordHeartbeats. They go out as
// one pipeline with a single Sync, which PostgreSQL runs as one implicit
// transaction (all or nothing): no BEGIN and COMMIT round trips.
func heartbeatBatch(hbs []store.Heartbeat) *pgx.Batch {
	n := len(hbs)
	ids, ats, statuses, versions := make([]string, n), make([]int64, n), make([]string, n), make([]string, n)
	metrics := make([]*string, n)
	for i, h := range hbs {
		ids[i], ats[i], statuses[i], versions[i], metrics[i] = h.MachineID, ms(h.At), h.Status, h.AgentVersion, nullJSON(h.Metrics)
	}
	latest, tokens := fold(hbs, metrics)
	n = len(latest)
	lids, lats, lstatus, lversion := make([]string, n), make([]int64, n), make([]string, n), make([]string, n)
	lmetrics, linv := make([]*string, n), make([]*string, n)
	known, results, uversions, uats := make([]bool, n), make([]string, n), make([]string, n), make([]int64, n)
	for i, m := range latest {
		lids[i], lats[i], lstatus[i], lversion[i], lmetrics[i], linv[i] = m.id, m.at, m.status, m.version, m.metrics, m.inventory
		known[i], results[i], uversions[i], uats[i] = m.upd.Known, m.upd.Result, m.upd.Version, m.upd.At
	}
	// One set-based update of the machine rows; history rows are inserted
	// only for machines it found (a machine deleted meanwhile gets none),
	// without probing machines again: its RETURNING feeds the insert.
	b := &pgx.Batch{}
	b.Queue(`WITH upd AS (
			UPDATE machines m SET last_seen_at = greatest(m.last_seen_at, u.at), status = u.status,
				agent_version = CASE WHEN u.version = '' THEN m.agent_version ELSE u.version END,
				metrics = coalesce(u.metrics, m.metrics), inventory = coalesce(u.inventory, m.inventory),
				update_result = CASE WHEN u.known THEN u.result ELSE m.update_result END,
				update_version = CASE WHEN u.known THEN u.uversion ELSE m.update_version END,
				update_at = CASE WHEN u.known THEN u.uat ELSE m.update_at END
			FROM unnest($1::text[], $2::bigint[], $3::text[], $4::text[], $5::text[], $6::text[],
				$7::boolean[], $8::text[], $9::text[], $10::bigint[])
				AS u(id, at, status, version, metrics, inventory, known, result, uversion, uat)
			WHERE m.id = u.id
			RETURNING m.id)
		INSERT INTO heartbeats (machine_id, at, status, agent_version, metrics)
		SELECT h.id, h.at, h.status, h.version, h.metrics
		FROM unnest($11::text[], $12::bigint[], $13::text[], $14::text[], $15::text[]) AS h(id, at, status, version, metrics)
		WHERE h.id IN (SELECT id FROM upd)`,
		lids, lats, lstatus, lversion, lmetrics, linv, known, results, uversions, uats,
		ids, ats, statuses, versions, metrics)
	hashes := make([]string, 0, len(tokens))
	for h := range tokens {
		hashes = append(hashes, h)
	}
	slices.Sort(hashes)
	for _, h := range hashes {
		b.Queue("UPDATE tokens SET expires_at = greatest(expires_at, $2) WHERE hash = $1 AND revoked_at = 0",
			[]byte(h), tokens[h])
	}
	return b
}

// fold folds a batch's heartbeats per machine in arrival order (as if they
// were applied one by one), machines sorted by ID, and collects the latest
// renewed expiry per token. metrics[i] is hbs[i]'s metrics as stored.
func fold(hbs []store.Heartbeat, metrics []*string) ([]*machineLatest, map[string]int64) {
	byMachine := map[string]*machineLatest{}
	tokens := map[string]int64{}
	for i, h := range hbs {
		m := byMachine[h.MachineID]
		if m == nil {
			m = &machineLatest{id: h.MachineID}
			byMachine[h.MachineID] = m
		}
		m.at, m.status = max(m.at, ms(h.At)), h.Status
		if h.AgentVersion != "" {
			m.version = h.AgentVersion
		}
		if metrics[i] != nil {
			m.metrics = metrics[i]
		}
		if h.Inventory != nil {
			m.inventory = nullJSON(h.Inventory)
			if u := updateOf(h.Inventory); u.Known {
				m.upd = u
			}
		}
		if len(h.TokenHash) > 0 && !h.TokenExpiresAt.IsZero() {
			tokens[string(h.TokenHash)] = max(tokens[string(h.TokenHash)], ms(h.TokenExpiresAt))
		}
	}
	latest := make([]*machineLatest, 0, len(byMachine))
	for _, m := range byMachine {
		latest = append(latest, m)
	}
	slices.SortFunc(latest, func(a, b *machineLatest) int { return compare(a.id, b.id) })
	return latest, tokens
}

// heartbeatBatchWait is how long a heartbeat batch is held open for more
// heartbeats. Measured (docs/benchmarks/postgres.md): with two replicas,
// 1 ms cut PostgreSQL's CPU per heartbeat from ~59 to ~45 µs and, with the
// token reader's wait, raised throughput ~20 % when the database is the
// bottleneck, for ≤ 1 ms more latency; when CPU is idle it costs some
// throughput instead.
const heartbeatBatchWait = time.Millisecond

// HeartbeatBatchWait implements store.HeartbeatBatchWaiter.
func (s *Store) HeartbeatBatchWait() time.Duration { return heartbeatBatchWait }

// isDeadlock reports a transaction PostgreSQL aborted to break a deadlock.
func isDeadlock(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && pe.Code == "40P01"
}

func compare(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// ListHeartbeats returns a machine's latest heartbeats, newest first.
func (s *Store) ListHeartbeats(ctx context.Context, machineID string, limit int) ([]store.Heartbeat, error) {
	if limit <= 0 || limit > 1000 {
		limit = 1000
	}
	rows, _ := s.pool.Query(ctx, `SELECT machine_id, at, status, agent_version, metrics FROM heartbeats
		WHERE machine_id = $1 ORDER BY at DESC, id DESC LIMIT $2`, machineID, limit)
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (store.Heartbeat, error) {
		var h store.Heartbeat
		var at int64
		var metrics *string
		err := row.Scan(&h.MachineID, &at, &h.Status, &h.AgentVersion, &metrics)
		h.At, h.Metrics = tm(at), rawJSON(metrics)
		return h, err
	})
	return out, wrap("list heartbeats", err)
}

// CountHeartbeats counts all heartbeat history rows.
func (s *Store) CountHeartbeats(ctx context.Context) (int64, error) {
	var n int64
	err := s.pool.QueryRow(ctx, "SELECT count(*) FROM heartbeats").Scan(&n)
	return n, wrap("count heartbeats", err)
}

// PruneHeartbeats deletes history rows older than before.
func (s *Store) PruneHeartbeats(ctx context.Context, before time.Time) (int64, error) {
	tag, err := s.pool.Exec(ctx, "DELETE FROM heartbeats WHERE at < $1", ms(before))
	if err != nil {
		return 0, wrap("prune heartbeats", err)
	}
	return tag.RowsAffected(), nil
}
