package sqlite

import (
	"context"

	"github.com/slipwayhq/slipway/server/store"
)

var _ store.StatsStore = (*Store)(nil)

// FleetStats counts machines by status and rollout health by version.
func (s *Store) FleetStats(ctx context.Context, q store.StatsQuery) (store.FleetStats, error) {
	if q.Versions {
		st, err := s.versionStats(ctx, q)
		return st, wrap("fleet stats", err)
	}
	var st store.FleetStats
	err := s.r.QueryRowContext(ctx, `SELECT count(*),
		coalesce(sum(last_seen_at > ?2), 0), coalesce(sum(last_seen_at > ?3 AND last_seen_at <= ?2), 0),
		coalesce(sum(last_seen_at <= ?3), 0)
		FROM machines WHERE (?1 = '' OR tenant_id = ?1)`, q.TenantID, ms(q.OnlineAfter), ms(q.OfflineBefore)).
		Scan(&st.Machines, &st.Online, &st.Stale, &st.Offline)
	return st, wrap("fleet stats", err)
}

// versionStats computes the status counts and the rollout health in one
// scan of the machines table, grouped by agent version, the version of the
// last self-update and its result (the update_* columns); the few groups
// are folded into per-version rows in Go.
func (s *Store) versionStats(ctx context.Context, q store.StatsQuery) (store.FleetStats, error) {
	var st store.FleetStats
	rows, err := s.r.QueryContext(ctx, `SELECT agent_version, update_version,
		CASE WHEN update_result IN ('installed', 'healthy', 'failed', 'rolled-back') THEN update_result ELSE '' END,
		count(*), sum(last_seen_at > ?2), sum(last_seen_at > ?3 AND last_seen_at <= ?2), sum(last_seen_at <= ?3),
		sum(update_at > ?4 AND update_version = agent_version)
		FROM machines WHERE (?1 = '' OR tenant_id = ?1) GROUP BY 1, 2, 3`,
		q.TenantID, ms(q.OnlineAfter), ms(q.OfflineBefore), ms(q.UpdatedAfter))
	if err != nil {
		return st, err
	}
	defer rows.Close()
	var vs []store.VersionStats
	for rows.Next() {
		var version, target, result string
		var n, online, stale, offline, recent int64
		if err := rows.Scan(&version, &target, &result, &n, &online, &stale, &offline, &recent); err != nil {
			return st, err
		}
		st.Machines, st.Online, st.Stale, st.Offline = st.Machines+n, st.Online+online, st.Stale+stale, st.Offline+offline
		if version != "" {
			vs = append(vs, store.VersionStats{Version: version, Machines: n})
		}
		if target == "" {
			continue
		}
		switch result {
		case store.UpdateFailed:
			vs = append(vs, store.VersionStats{Version: target, Failed: n})
		case store.UpdateRolledBack:
			vs = append(vs, store.VersionStats{Version: target, RolledBack: n})
		case store.UpdateInstalled, store.UpdateHealthy:
			if recent > 0 {
				vs = append(vs, store.VersionStats{Version: target, Updated: recent})
			}
		}
	}
	if err := rows.Err(); err != nil {
		return st, err
	}
	st.Versions = store.MergeVersionStats(vs)
	return st, nil
}
