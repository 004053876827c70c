package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/slipwayhq/slipway/server/store"
)

// heartbeatSQL are RecordHeartbeats' statements, prepared once on the write
// connection (parsing them per batch was a measurable share of a batch).
var heartbeatSQL = [...]string{
	// The machine's heartbeat row first: it says whether the machine still
	// exists (a deleted machine's heartbeat is dropped) and gives its key.
	hbState: `UPDATE machine_heartbeat SET last_seen_at = max(last_seen_at, ?2), status = ?3,
		metrics = coalesce(?4, metrics) WHERE machine_id = ?1 RETURNING key`,
	// The same by the key the writer remembers (beatCache).
	hbStateKey: `UPDATE machine_heartbeat SET last_seen_at = max(last_seen_at, ?2), status = ?3,
		metrics = coalesce(?4, metrics) WHERE key = ?1`,
	hbInventory: "UPDATE machines SET inventory = ?2 WHERE id = ?1",
	hbUpdate: `UPDATE machines SET inventory = ?2, update_result = ?3, update_version = ?4, update_at = ?5
		WHERE id = ?1`,
	// Only when the version really changes, so that the machines_rollout
	// index entry (and the wide row) is not rewritten per heartbeat.
	hbVersion: "UPDATE machines SET agent_version = ?2 WHERE id = ?1 AND agent_version <> ?2",
	hbInsert:  "INSERT INTO heartbeats (machine_key, at, status, agent_version, metrics) VALUES (?, ?, ?, ?, ?)",
	hbToken:   "UPDATE tokens SET expires_at = max(expires_at, ?) WHERE hash = ? AND revoked_at = 0",
}

const (
	hbState = iota
	hbStateKey
	hbInventory
	hbUpdate
	hbVersion
	hbInsert
	hbToken
	hbStatements
)

// prepareHeartbeats prepares heartbeatSQL on the write connection.
func (s *Store) prepareHeartbeats(ctx context.Context) error {
	for i, q := range heartbeatSQL {
		st, err := s.w.PrepareContext(ctx, q)
		if err != nil {
			return err
		}
		s.hb[i] = st
	}
	return nil
}

func (s *Store) closeHeartbeats() error {
	var errs []error
	for _, st := range s.hb {
		if st != nil {
			errs = append(errs, st.Close())
		}
	}
	return errors.Join(errs...)
}

// RecordHeartbeats persists a batch of heartbeats in one transaction.
func (s *Store) RecordHeartbeats(ctx context.Context, hbs []store.Heartbeat) error {
	if len(hbs) == 0 {
		return nil
	}
	// Decode the self-update outside the write lock; most heartbeats carry
	// no inventory and touch only machine_heartbeat and heartbeats.
	upds := make([]agentUpdate, len(hbs))
	for i, h := range hbs {
		upds[i] = agentUpdateOf(h.Inventory)
	}
	ids, entries := make([]string, 0, len(hbs)), make([]beatEntry, 0, len(hbs))
	err := s.tx(ctx, func(tx *sql.Tx) error {
		ids, entries = ids[:0], entries[:0]
		var st [hbStatements]*sql.Stmt
		for i, p := range s.hb {
			st[i] = tx.StmtContext(ctx, p)
		}
		for i, h := range hbs {
			e, cached := s.beats.get(h.MachineID)
			ok, err := recordHeartbeat(ctx, &st, h, upds[i], &e, cached)
			if err != nil {
				return err
			}
			if ok {
				ids, entries = append(ids, h.MachineID), append(entries, e)
			} else if cached {
				s.beats.drop(h.MachineID)
			}
		}
		return nil
	})
	if err == nil {
		s.beats.put(ids, entries)
	}
	var renewed [][]byte
	for _, h := range hbs {
		if len(h.TokenHash) > 0 && !h.TokenExpiresAt.IsZero() {
			renewed = append(renewed, h.TokenHash)
		}
	}
	s.tokens.forgetHashes(renewed)
	return wrap("record heartbeats", err)
}

// recordHeartbeat writes one heartbeat with the batch's statements; e is
// the machine's cache entry (cached: it was found) and is updated. It
// returns false if the machine no longer exists (the heartbeat is dropped).
func recordHeartbeat(ctx context.Context, st *[hbStatements]*sql.Stmt, h store.Heartbeat, u agentUpdate,
	e *beatEntry, cached bool) (bool, error) {
	metrics := nullJSON(h.Metrics)
	if cached {
		res, err := st[hbStateKey].ExecContext(ctx, e.key, ms(h.At), h.Status, metrics)
		if err != nil {
			return false, err
		}
		if n, err := res.RowsAffected(); err != nil {
			return false, err
		} else if n == 0 {
			cached = false // deleted, or recreated under a new key
		}
	}
	if !cached {
		*e = beatEntry{}
		err := st[hbState].QueryRowContext(ctx, h.MachineID, ms(h.At), h.Status, metrics).Scan(&e.key)
		if errors.Is(err, sql.ErrNoRows) {
			return false, nil // the machine was deleted
		} else if err != nil {
			return false, err
		}
	}
	var err error
	switch {
	case u.known:
		_, err = st[hbUpdate].ExecContext(ctx, h.MachineID, string(h.Inventory), u.result, u.version, u.at)
	case len(h.Inventory) > 0:
		_, err = st[hbInventory].ExecContext(ctx, h.MachineID, string(h.Inventory))
	}
	if err != nil {
		return false, err
	}
	if h.AgentVersion != "" && h.AgentVersion != e.version {
		if _, err := st[hbVersion].ExecContext(ctx, h.MachineID, h.AgentVersion); err != nil {
			return false, err
		}
		e.version = h.AgentVersion
	}
	if _, err := st[hbInsert].ExecContext(ctx, e.key, ms(h.At), h.Status, h.AgentVersion, metrics); err != nil {
		return false, err
	}
	if len(h.TokenHash) > 0 && !h.TokenExpiresAt.IsZero() {
		if _, err := st[hbToken].ExecContext(ctx, ms(h.TokenExpiresAt), h.TokenHash); err != nil {
			return false, err
		}
	}
	return true, nil
}

// ListHeartbeats returns a machine's latest heartbeats, newest first.
func (s *Store) ListHeartbeats(ctx context.Context, machineID string, limit int) ([]store.Heartbeat, error) {
	if limit <= 0 || limit > 1000 {
		limit = 1000
	}
	rows, err := s.r.QueryContext(ctx, `SELECT at, status, agent_version, metrics FROM heartbeats
		WHERE machine_key = (SELECT key FROM machine_heartbeat WHERE machine_id = ?)
		ORDER BY at DESC, id DESC LIMIT ?`, machineID, limit)
	if err != nil {
		return nil, wrap("list heartbeats", err)
	}
	defer rows.Close()
	var out []store.Heartbeat
	for rows.Next() {
		h := store.Heartbeat{MachineID: machineID}
		var at int64
		var metrics sql.NullString
		if err := rows.Scan(&at, &h.Status, &h.AgentVersion, &metrics); err != nil {
			return nil, wrap("list heartbeats", err)
		}
		h.At, h.Metrics = tm(at), rawJSON(metrics)
		out = append(out, h)
	}
	return out, wrap("list heartbeats", rows.Err())
}

// CountHeartbeats counts all heartbeat history rows.
func (s *Store) CountHeartbeats(ctx context.Context) (int64, error) {
	var n int64
	err := s.r.QueryRowContext(ctx, "SELECT count(*) FROM heartbeats").Scan(&n)
	return n, wrap("count heartbeats", err)
}

// PruneHeartbeats deletes history rows older than before.
func (s *Store) PruneHeartbeats(ctx context.Context, before time.Time) (int64, error) {
	res, err := s.w.ExecContext(ctx, "DELETE FROM heartbeats WHERE at < ?", ms(before))
	if err != nil {
		return 0, wrap("prune heartbeats", err)
	}
	n, _ := res.RowsAffected()
	return n, nil
}
