package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/slipwayhq/slipway/server/store"
)

var _ store.RolloutGateStore = (*Store)(nil)

// LoadRolloutGate implements store.RolloutGateStore.
func (s *Store) LoadRolloutGate(ctx context.Context, product, channel string) ([]byte, int64, error) {
	var state []byte
	var rev int64
	err := s.r.QueryRowContext(ctx, "SELECT state, rev FROM rollout_gates WHERE product = ? AND channel = ?", product, channel).Scan(&state, &rev)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, 0, nil
	}
	return state, rev, wrap("load rollout gate", err)
}

// SaveRolloutGate implements store.RolloutGateStore (compare-and-swap on rev).
func (s *Store) SaveRolloutGate(ctx context.Context, product, channel string, rev int64, state []byte, at time.Time) (bool, error) {
	if err := store.CheckRolloutGate(product, channel, rev, state); err != nil {
		return false, wrap("save rollout gate", err)
	}
	var res sql.Result
	var err error
	if rev == 0 {
		res, err = s.w.ExecContext(ctx, `INSERT INTO rollout_gates (product, channel, rev, state, updated_at) VALUES (?, ?, 1, ?, ?)
			ON CONFLICT (product, channel) DO NOTHING`, product, channel, state, ms(at))
	} else {
		res, err = s.w.ExecContext(ctx, `UPDATE rollout_gates SET rev = rev + 1, state = ?, updated_at = ?
			WHERE product = ? AND channel = ? AND rev = ?`, state, ms(at), product, channel, rev)
	}
	if err != nil {
		return false, wrap("save rollout gate", err)
	}
	n, err := res.RowsAffected()
	return n == 1, wrap("save rollout gate", err)
}
