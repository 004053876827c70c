package sqlite

import (
	"context"
	"database/sql"
	"time"

	"github.com/slipwayhq/slipway/internal/journal"
	"github.com/slipwayhq/slipway/server/store"
)

// RecordHeartbeats persists a batch of heartbeats: in the heartbeat journal
// when the store has one (journal.go), else in one transaction.
func (s *Store) RecordHeartbeats(ctx context.Context, hbs []store.Heartbeat) error {
	if len(hbs) == 0 {
		return nil
	}
	if s.hj != nil {
		return s.hj.appendBeats(hbs)
	}
	return s.commitHeartbeats(ctx, hbs, nil)
}

// commitHeartbeats applies hbs in one transaction; with mark, the
// transaction also records that the journal is folded up to mark.
func (s *Store) commitHeartbeats(ctx context.Context, hbs []store.Heartbeat, mark *journal.Pos) error {
	// Decode the self-update outside the write lock; most heartbeats carry
	// no inventory and keep the short statement.
	upds := make([]agentUpdate, len(hbs))
	for i, h := range hbs {
		upds[i] = agentUpdateOf(h.Inventory)
	}
	err := s.tx(ctx, func(tx *sql.Tx) error {
		ins, err := tx.PrepareContext(ctx,
			"INSERT INTO heartbeats (machine_id, at, status, agent_version, metrics) VALUES (?, ?, ?, ?, ?)")
		if err != nil {
			return err
		}
		defer ins.Close()
		upd, err := tx.PrepareContext(ctx, `UPDATE machines SET last_seen_at = max(last_seen_at, ?2), status = ?3,
			metrics = coalesce(?4, metrics), inventory = coalesce(?5, inventory) WHERE id = ?1`)
		if err != nil {
			return err
		}
		defer upd.Close()
		updInv, err := tx.PrepareContext(ctx, `UPDATE machines SET last_seen_at = max(last_seen_at, ?2), status = ?3,
			metrics = coalesce(?4, metrics), inventory = ?5,
			update_result = ?6, update_version = ?7, update_at = ?8 WHERE id = ?1`)
		if err != nil {
			return err
		}
		defer updInv.Close()
		// A statement of its own, so that the machines_rollout index entry is
		// only rewritten when the version really changes.
		updVersion, err := tx.PrepareContext(ctx,
			"UPDATE machines SET agent_version = ?2 WHERE id = ?1 AND agent_version <> ?2")
		if err != nil {
			return err
		}
		defer updVersion.Close()
		tok, err := tx.PrepareContext(ctx,
			"UPDATE tokens SET expires_at = max(expires_at, ?) WHERE hash = ? AND revoked_at = 0")
		if err != nil {
			return err
		}
		defer tok.Close()
		for i, h := range hbs {
			metrics := nullJSON(h.Metrics)
			// The machine row first: it says whether the machine still exists
			// (a deleted machine's heartbeat is dropped) without a separate lookup.
			var res sql.Result
			if u := upds[i]; u.known {
				res, err = updInv.ExecContext(ctx, h.MachineID, ms(h.At), h.Status, metrics,
					string(h.Inventory), u.result, u.version, u.at)
			} else {
				res, err = upd.ExecContext(ctx, h.MachineID, ms(h.At), h.Status, metrics, nullJSON(h.Inventory))
			}
			if err != nil {
				return err
			}
			if n, err := res.RowsAffected(); err != nil {
				return err
			} else if n == 0 {
				continue
			}
			if h.AgentVersion != "" {
				if _, err := updVersion.ExecContext(ctx, h.MachineID, h.AgentVersion); err != nil {
					return err
				}
			}
			if _, err := ins.ExecContext(ctx, h.MachineID, ms(h.At), h.Status, h.AgentVersion, metrics); err != nil {
				return err
			}
			if len(h.TokenHash) > 0 && !h.TokenExpiresAt.IsZero() {
				if _, err := tok.ExecContext(ctx, ms(h.TokenExpiresAt), h.TokenHash); err != nil {
					return err
				}
			}
		}
		if mark != nil {
			_, err := tx.ExecContext(ctx, `INSERT INTO heartbeat_journal (id, segment, offset) VALUES (1, ?, ?)
				ON CONFLICT (id) DO UPDATE SET segment = excluded.segment, offset = excluded.offset`, mark.Segment, mark.Offset)
			return err
		}
		return nil
	})
	var renewed [][]byte
	for _, h := range hbs {
		if len(h.TokenHash) > 0 && !h.TokenExpiresAt.IsZero() {
			renewed = append(renewed, h.TokenHash)
		}
	}
	s.tokens.forgetHashes(renewed)
	return wrap("record heartbeats", err)
}

// ListHeartbeats returns a machine's latest heartbeats, newest first.
func (s *Store) ListHeartbeats(ctx context.Context, machineID string, limit int) ([]store.Heartbeat, error) {
	if limit <= 0 || limit > 1000 {
		limit = 1000
	}
	s.settle()
	rows, err := s.r.QueryContext(ctx, `SELECT machine_id, at, status, agent_version, metrics FROM heartbeats
		WHERE machine_id = ? ORDER BY at DESC, id DESC LIMIT ?`, machineID, limit)
	if err != nil {
		return nil, wrap("list heartbeats", err)
	}
	defer rows.Close()
	var out []store.Heartbeat
	for rows.Next() {
		var h store.Heartbeat
		var at int64
		var metrics sql.NullString
		if err := rows.Scan(&h.MachineID, &at, &h.Status, &h.AgentVersion, &metrics); err != nil {
			return nil, wrap("list heartbeats", err)
		}
		h.At, h.Metrics = tm(at), rawJSON(metrics)
		out = append(out, h)
	}
	return out, wrap("list heartbeats", rows.Err())
}

// CountHeartbeats counts all heartbeat history rows.
func (s *Store) CountHeartbeats(ctx context.Context) (int64, error) {
	s.settle()
	var n int64
	err := s.r.QueryRowContext(ctx, "SELECT count(*) FROM heartbeats").Scan(&n)
	return n, wrap("count heartbeats", err)
}

// PruneHeartbeats deletes history rows older than before.
func (s *Store) PruneHeartbeats(ctx context.Context, before time.Time) (int64, error) {
	s.settle()
	res, err := s.w.ExecContext(ctx, "DELETE FROM heartbeats WHERE at < ?", ms(before))
	if err != nil {
		return 0, wrap("prune heartbeats", err)
	}
	n, _ := res.RowsAffected()
	return n, nil
}
