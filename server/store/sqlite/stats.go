package sqlite

import (
	"context"

	"github.com/slipwayhq/slipway/server/store"
)

var _ store.StatsStore = (*Store)(nil)

// The agent's last self-update outcome, from inventory.agent.update.
const (
	updResult  = `coalesce(json_extract(inventory, '$.agent.update.result'), '')`
	updVersion = `coalesce(nullif(json_extract(inventory, '$.agent.update.installed'), ''), json_extract(inventory, '$.agent.update.available'), '')`
	updAt      = `coalesce(CAST(round(julianday(json_extract(inventory, '$.agent.update.at')) * 86400000 - 210866760000000) AS INTEGER), 0)`
)

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
	rows, err := s.r.QueryContext(ctx, `SELECT agent_version, count(*),
			sum(`+updResult+` IN ('installed', 'healthy') AND `+updAt+` > ?2 AND `+updVersion+` = agent_version), 0, 0
			FROM machines WHERE (?1 = '' OR tenant_id = ?1) AND agent_version <> '' GROUP BY agent_version
		UNION ALL
		SELECT v, 0, 0, sum(r = 'failed'), sum(r = 'rolled-back') FROM
			(SELECT `+updResult+` AS r, `+updVersion+` AS v FROM machines
			 WHERE (?1 = '' OR tenant_id = ?1) AND inventory LIKE '%"update"%')
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
