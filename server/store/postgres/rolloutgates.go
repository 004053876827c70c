package postgres

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/slipwayhq/slipway/server/store"
)

var _ store.RolloutGateStore = (*Store)(nil)

// LoadRolloutGate implements store.RolloutGateStore.
func (s *Store) LoadRolloutGate(ctx context.Context, product, channel string) ([]byte, int64, error) {
	var state []byte
	var rev int64
	err := s.pool.QueryRow(ctx, "SELECT state, rev FROM rollout_gates WHERE product = $1 AND channel = $2", product, channel).Scan(&state, &rev)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, 0, nil
	}
	return state, rev, wrap("load rollout gate", err)
}

// SaveRolloutGate implements store.RolloutGateStore (compare-and-swap on
// rev: one replica's decision wins).
func (s *Store) SaveRolloutGate(ctx context.Context, product, channel string, rev int64, state []byte, at time.Time) (bool, error) {
	if err := store.CheckRolloutGate(product, channel, rev, state); err != nil {
		return false, wrap("save rollout gate", err)
	}
	var tag pgconn.CommandTag
	var err error
	if rev == 0 {
		tag, err = s.pool.Exec(ctx, `INSERT INTO rollout_gates (product, channel, rev, state, updated_at) VALUES ($1, $2, 1, $3, $4)
			ON CONFLICT (product, channel) DO NOTHING`, product, channel, state, ms(at))
	} else {
		tag, err = s.pool.Exec(ctx, `UPDATE rollout_gates SET rev = rev + 1, state = $1, updated_at = $2
			WHERE product = $3 AND channel = $4 AND rev = $5`, state, ms(at), product, channel, rev)
	}
	if err != nil {
		return false, wrap("save rollout gate", err)
	}
	return tag.RowsAffected() == 1, nil
}
