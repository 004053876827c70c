package sqlite

import (
	"context"

	"github.com/slipwayhq/slipway/server/store"
)

var _ store.StatsStore = (*Store)(nil)

// FleetStats counts machines by status and rollout health by version.
func (s *Store) FleetStats(ctx context.Context, q store.StatsQuery) (store.FleetStats, error) {
	s.settle()
	var st store.FleetStats
	err := s.r.QueryRowContext(ctx, `SELECT count(*),
		coalesce(sum(last_seen_at > ?2), 0), coalesce(sum(last_seen_at > ?3 AND last_seen_at <= ?2), 0),
		coalesce(sum(last_seen_at <= ?3), 0)
		FROM machines WHERE (?1 = '' OR tenant_id = ?1)`, q.TenantID, ms(q.OnlineAfter), ms(q.OfflineBefore)).
		Scan(&st.Machines, &st.Online, &st.Stale, &st.Offline)
	if err != nil || !q.Versions {
		return st, wrap("fleet stats", err)
	}
	st.Versions, err = s.versionStats(ctx, q)
	return st, wrap("fleet stats", err)
}

// versionStats groups the machines by agent version and by the version and
// result of their last self-update (the update_* columns), reading only
// the machines_rollout index in its order; the few groups are folded into
// per-version rows here.
func (s *Store) versionStats(ctx context.Context, q store.StatsQuery) ([]store.VersionStats, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT agent_version, update_version, update_result,
		count(*), sum(update_at > ?2 AND update_version = agent_version)
		FROM machines WHERE (?1 = '' OR tenant_id = ?1)
		GROUP BY tenant_id, agent_version, update_version, update_result`, q.TenantID, ms(q.UpdatedAfter))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var vs []store.VersionStats
	for rows.Next() {
		var version, target, result string
		var n, recent int64
		if err := rows.Scan(&version, &target, &result, &n, &recent); err != nil {
			return nil, err
		}
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
			vs = append(vs, store.VersionStats{Version: target, Updated: recent})
		}
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	return store.MergeVersionStats(vs), nil
}
