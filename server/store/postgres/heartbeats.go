package postgres

import (
	"context"
	"encoding/json"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"

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
	if len(inv) == 0 {
		return agentUpdate{}
	}
	var doc struct {
		Agent *struct {
			Update *struct {
				Available string    `json:"available"`
				Installed string    `json:"installed"`
				Result    string    `json:"result"`
				At        time.Time `json:"at"`
			} `json:"update"`
		} `json:"agent"`
	}
	if json.Unmarshal(inv, &doc) != nil || doc.Agent == nil || doc.Agent.Update == nil {
		return agentUpdate{}
	}
	u := doc.Agent.Update
	v := u.Installed
	if v == "" {
		v = u.Available
	}
	return agentUpdate{Known: true, Result: truncate(u.Result, 32), Version: truncate(v, 64), At: ms(u.At)}
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
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

// RecordHeartbeats persists a batch in one transaction with three
// set-based statements: the history rows, one update per machine (rows
// locked in ID order, so concurrent batches from several replicas cannot
// deadlock) and one token-expiry update per token.
func (s *Store) RecordHeartbeats(ctx context.Context, hbs []store.Heartbeat) error {
	if len(hbs) == 0 {
		return nil
	}
	n := len(hbs)
	ids, ats, statuses, versions := make([]string, n), make([]int64, n), make([]string, n), make([]string, n)
	metrics := make([]*string, n)
	byMachine := map[string]*machineLatest{}
	tokens := map[string]int64{}
	for i, h := range hbs {
		ids[i], ats[i], statuses[i], versions[i], metrics[i] = h.MachineID, ms(h.At), h.Status, h.AgentVersion, nullJSON(h.Metrics)
		m := byMachine[h.MachineID]
		if m == nil {
			m = &machineLatest{id: h.MachineID}
			byMachine[h.MachineID] = m
		}
		m.at, m.status = max(m.at, ats[i]), h.Status
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
	ms := make([]*machineLatest, 0, len(byMachine))
	for _, m := range byMachine {
		ms = append(ms, m)
	}
	slices.SortFunc(ms, func(a, b *machineLatest) int { return compare(a.id, b.id) })
	var (
		mIDs, mStatus, mVersion, uResult, uVersion []string
		mAt, uAt                                   []int64
		mMetrics, mInv                             []*string
		uKnown                                     []bool
	)
	for _, m := range ms {
		mIDs, mAt, mStatus, mVersion = append(mIDs, m.id), append(mAt, m.at), append(mStatus, m.status), append(mVersion, m.version)
		mMetrics, mInv = append(mMetrics, m.metrics), append(mInv, m.inventory)
		uKnown, uResult, uVersion, uAt = append(uKnown, m.upd.Known), append(uResult, m.upd.Result), append(uVersion, m.upd.Version), append(uAt, m.upd.At)
	}
	hashes := make([][]byte, 0, len(tokens))
	for h := range tokens {
		hashes = append(hashes, []byte(h))
	}
	slices.SortFunc(hashes, func(a, b []byte) int { return compare(string(a), string(b)) })
	exps := make([]int64, len(hashes))
	for i, h := range hashes {
		exps[i] = tokens[string(h)]
	}
	b := &pgx.Batch{}
	b.Queue(`UPDATE machines m SET last_seen_at = greatest(m.last_seen_at, u.at), status = u.status,
		agent_version = CASE WHEN u.version = '' THEN m.agent_version ELSE u.version END,
		metrics = coalesce(u.metrics, m.metrics), inventory = coalesce(u.inv, m.inventory),
		update_result = CASE WHEN u.known THEN u.uresult ELSE m.update_result END,
		update_version = CASE WHEN u.known THEN u.uversion ELSE m.update_version END,
		update_at = CASE WHEN u.known THEN u.uat ELSE m.update_at END
		FROM unnest($1::text[], $2::bigint[], $3::text[], $4::text[], $5::text[], $6::text[], $7::bool[], $8::text[], $9::text[], $10::bigint[])
			AS u(id, at, status, version, metrics, inv, known, uresult, uversion, uat)
		WHERE m.id = u.id`, mIDs, mAt, mStatus, mVersion, mMetrics, mInv, uKnown, uResult, uVersion, uAt)
	b.Queue(`INSERT INTO heartbeats (machine_id, at, status, agent_version, metrics)
		SELECT u.id, u.at, u.status, u.version, u.metrics
		FROM unnest($1::text[], $2::bigint[], $3::text[], $4::text[], $5::text[]) AS u(id, at, status, version, metrics)
		WHERE EXISTS (SELECT 1 FROM machines WHERE id = u.id)`, ids, ats, statuses, versions, metrics)
	if len(hashes) > 0 {
		b.Queue(`UPDATE tokens t SET expires_at = greatest(t.expires_at, u.exp)
			FROM unnest($1::bytea[], $2::bigint[]) AS u(hash, exp) WHERE t.hash = u.hash AND t.revoked_at = 0`, hashes, exps)
	}
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error { return tx.SendBatch(ctx, b).Close() })
	return wrap("record heartbeats", err)
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
