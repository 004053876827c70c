package postgres

import (
	"context"

	"github.com/jackc/pgx/v5"

	"github.com/slipwayhq/slipway/server/store"
)

var _ store.StatsStore = (*Store)(nil)

// FleetStats counts machines by status and rollout health by version.
func (s *Store) FleetStats(ctx context.Context, q store.StatsQuery) (store.FleetStats, error) {
	var st store.FleetStats
	err := s.pool.QueryRow(ctx, `SELECT count(*),
		count(*) FILTER (WHERE last_seen_at > $2),
		count(*) FILTER (WHERE last_seen_at > $3 AND last_seen_at <= $2),
		count(*) FILTER (WHERE last_seen_at <= $3)
		FROM machines WHERE ($1 = '' OR tenant_id = $1)`, q.TenantID, ms(q.OnlineAfter), ms(q.OfflineBefore)).
		Scan(&st.Machines, &st.Online, &st.Stale, &st.Offline)
	if err != nil {
		return st, wrap("fleet stats", err)
	}
	if !q.Versions {
		return st, nil
	}
	rows, _ := s.pool.Query(ctx, `SELECT agent_version, count(*),
			count(*) FILTER (WHERE update_result IN ('installed', 'healthy') AND update_at > $2 AND update_version = agent_version), 0, 0
			FROM machines WHERE ($1 = '' OR tenant_id = $1) AND agent_version <> '' GROUP BY agent_version
		UNION ALL
		SELECT update_version, 0, 0, count(*) FILTER (WHERE update_result = 'failed'),
			count(*) FILTER (WHERE update_result = 'rolled-back')
			FROM machines WHERE ($1 = '' OR tenant_id = $1) AND update_result IN ('failed', 'rolled-back') AND update_version <> ''
			GROUP BY update_version`, q.TenantID, ms(q.UpdatedAfter))
	vs, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (store.VersionStats, error) {
		var v store.VersionStats
		err := row.Scan(&v.Version, &v.Machines, &v.Updated, &v.Failed, &v.RolledBack)
		return v, err
	})
	st.Versions = store.MergeVersionStats(vs)
	return st, wrap("fleet stats", err)
}
