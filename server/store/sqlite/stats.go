package sqlite

import (
	"context"
	"encoding/json"
	"time"

	"github.com/slipwayhq/slipway/server/store"
)

var _ store.StatsStore = (*Store)(nil)

// FleetStats counts machines by status and rollout health by version.
func (s *Store) FleetStats(ctx context.Context, q store.StatsQuery) (store.FleetStats, error) {
	var st store.FleetStats
	err := s.r.QueryRowContext(ctx, `SELECT count(*),
		coalesce(sum(last_seen_at > ?2), 0), coalesce(sum(last_seen_at > ?3 AND last_seen_at <= ?2), 0),
		coalesce(sum(last_seen_at <= ?3), 0)
		FROM machines WHERE (?1 = '' OR tenant_id = ?1)`, q.TenantID, ms(q.OnlineAfter), ms(q.OfflineBefore)).
		Scan(&st.Machines, &st.Online, &st.Stale, &st.Offline)
	if err != nil || !q.Versions {
		return st, wrap("fleet stats", err)
	}
	vs, err := s.versionStats(ctx, q)
	st.Versions = store.MergeVersionStats(vs)
	return st, wrap("fleet stats", err)
}

// versionStats reads each machine's agent version and its last self-update
// (inventory.agent.update) with one JSON extraction per machine and
// aggregates in Go: SQLite would parse the inventory once per expression.
func (s *Store) versionStats(ctx context.Context, q store.StatsQuery) ([]store.VersionStats, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT agent_version, json_extract(inventory, '$.agent.update')
		FROM machines WHERE (?1 = '' OR tenant_id = ?1)`, q.TenantID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	by := map[string]*store.VersionStats{}
	get := func(v string) *store.VersionStats {
		if by[v] == nil {
			by[v] = &store.VersionStats{Version: v}
		}
		return by[v]
	}
	var version string
	var raw []byte
	for rows.Next() {
		if err := rows.Scan(&version, &raw); err != nil {
			return nil, err
		}
		if version != "" {
			get(version).Machines++
		}
		if len(raw) == 0 {
			continue
		}
		var u struct {
			Available, Installed, Result string
			At                           time.Time
		}
		if json.Unmarshal(raw, &u) != nil {
			continue
		}
		target := u.Installed
		if target == "" {
			target = u.Available
		}
		switch {
		case target == "":
		case u.Result == store.UpdateFailed:
			get(target).Failed++
		case u.Result == store.UpdateRolledBack:
			get(target).RolledBack++
		case (u.Result == store.UpdateInstalled || u.Result == store.UpdateHealthy) && target == version &&
			u.At.After(q.UpdatedAfter):
			get(target).Updated++
		}
	}
	out := make([]store.VersionStats, 0, len(by))
	for _, v := range by {
		out = append(out, *v)
	}
	return out, rows.Err()
}
