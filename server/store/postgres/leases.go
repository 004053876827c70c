package postgres

import (
	"context"
	"time"

	"github.com/slipwayhq/slipway/server/store"
)

// AcquireLease takes or renews a named lease (store.LeaseStore) in one
// statement, so two replicas racing for it cannot both win.
func (s *Store) AcquireLease(ctx context.Context, name, holder string, now time.Time, ttl time.Duration) (bool, error) {
	if err := store.CheckLease(name, holder, ttl); err != nil {
		return false, wrap("acquire lease", err)
	}
	tag, err := s.pool.Exec(ctx, `INSERT INTO leases (name, holder, expires_at) VALUES ($1, $2, $3)
		ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at
		WHERE leases.holder = excluded.holder OR leases.expires_at <= $4`,
		name, holder, ms(now.Add(ttl)), ms(now))
	if err != nil {
		return false, wrap("acquire lease", err)
	}
	return tag.RowsAffected() == 1, nil
}
