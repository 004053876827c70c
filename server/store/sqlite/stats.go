package sqlite

import (
	"context"

	"github.com/slipwayhq/slipway/server/store"
)

var _ store.StatsStore = (*Store)(nil)

// updSQL reads the agent's last self-update outcome from
// inventory.agent.update with one JSON parse per machine (json_extract
// with several paths returns an array), as (r, v, at) columns.
const updSQL = `SELECT agent_version, tenant_id, coalesce(u ->> 0, '') AS r,
		coalesce(nullif(u ->> 1, ''), u ->> 2, '') AS v,
		coalesce(CAST(round((julianday(u ->> 3) - 2440587.5) * 86400000) AS INTEGER), 0) AS at
	FROM (SELECT agent_version, tenant_id, json_extract(inventory, '$.agent.update.result', '$.agent.update.installed',
		'$.agent.update.available', '$.agent.update.at') AS u
		FROM machines WHERE (?1 = '' OR tenant_id = ?1) AND inventory LIKE '%"update"%')`

// FleetStats counts machines by status and rollout health by version.
func (s *Store) FleetStats(ctx context.Context, q store.StatsQuery) (store.FleetStats, error) {
	var st store.FleetStats
	err := s.r.QueryRowContext(ctx, `SELECT count(*),
		coalesce(sum(last_seen_at > ?2), 0), coalesce(sum(last_seen_at > ?3 AND last_seen_at <= ?2), 0),
		coalesce(sum(last_seen_at <= ?3), 0)
		FROM machines WHERE (?1 = '' OR tenant_id = ?1)`, q.TenantID, ms(q.OnlineAfter), ms(q.OfflineBefore)).
		Scan(&st.Machines, &st.Online, &st.Stale, &st.Offline)
	if err != nil {
		return st, wrap("fleet stats", err)
	}
	if !q.Versions {
		return st, nil
	}
	rows, err := s.r.QueryContext(ctx, `WITH u AS MATERIALIZED (`+updSQL+`)
		SELECT agent_version, count(*), 0, 0, 0
			FROM machines WHERE (?1 = '' OR tenant_id = ?1) AND agent_version <> '' GROUP BY agent_version
		UNION ALL
		SELECT agent_version, 0, count(*), 0, 0 FROM u
			WHERE r IN ('installed', 'healthy') AND at > ?2 AND v = agent_version AND agent_version <> '' GROUP BY agent_version
		UNION ALL
		SELECT v, 0, 0, sum(r = 'failed'), sum(r = 'rolled-back') FROM u
			WHERE r IN ('failed', 'rolled-back') AND v <> '' GROUP BY v`, q.TenantID, ms(q.UpdatedAfter))
	if err != nil {
		return st, wrap("fleet stats", err)
	}
	defer rows.Close()
	var vs []store.VersionStats
	for rows.Next() {
		var v store.VersionStats
		if err := rows.Scan(&v.Version, &v.Machines, &v.Updated, &v.Failed, &v.RolledBack); err != nil {
			return st, wrap("fleet stats", err)
		}
		vs = append(vs, v)
	}
	st.Versions = store.MergeVersionStats(vs)
	return st, wrap("fleet stats", rows.Err())
}
