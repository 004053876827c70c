package store

import (
	"context"
	"time"
)

// Self-update results the agent reports in inventory.agent.update.result.
const (
	UpdateInstalled  = "installed"
	UpdateHealthy    = "healthy"
	UpdateFailed     = "failed"
	UpdateRolledBack = "rolled-back"
)

// StatsQuery selects what FleetStats counts. Zero times do not count.
type StatsQuery struct {
	TenantID      string    // "" = every tenant
	OnlineAfter   time.Time // LastSeenAt > OnlineAfter is online
	OfflineBefore time.Time // LastSeenAt <= OfflineBefore (or never seen) is offline; between is stale
	UpdatedAfter  time.Time // an installed/healthy update reported after this counts as "updated recently"
	Versions      bool      // also compute FleetStats.Versions (costlier: it reads every machine's update fields)
}

// FleetStats summarises the fleet for dashboards, computed by the database
// so it stays fast with 100,000 machines.
type FleetStats struct {
	Machines, Online, Stale, Offline int64
	// Versions, by agent version and by the version of the last reported
	// self-update, ordered by version string.
	Versions []VersionStats
}

// VersionStats is the rollout health of one agent version.
type VersionStats struct {
	Version string
	// Machines running this version (their latest heartbeat's agentVersion).
	Machines int64
	// Updated: machines on this version whose last self-update (to it) was
	// installed or healthy after UpdatedAfter.
	Updated int64
	// Failed and RolledBack: machines whose last self-update to this
	// version failed or was rolled back.
	Failed, RolledBack int64
}

// StatsStore is implemented by stores that can summarise the fleet
// (SQLite and PostgreSQL); the admin page uses it.
type StatsStore interface {
	FleetStats(ctx context.Context, q StatsQuery) (FleetStats, error)
}

// MergeVersionStats combines per-version rows (as two GROUP BY queries
// return them) into one sorted slice.
func MergeVersionStats(rows []VersionStats) []VersionStats {
	by := map[string]*VersionStats{}
	var out []VersionStats
	for _, r := range rows {
		v := by[r.Version]
		if v == nil {
			v = &VersionStats{Version: r.Version}
			by[r.Version] = v
		}
		v.Machines += r.Machines
		v.Updated += r.Updated
		v.Failed += r.Failed
		v.RolledBack += r.RolledBack
	}
	for _, v := range by {
		out = append(out, *v)
	}
	sortVersions(out)
	return out
}

func sortVersions(v []VersionStats) {
	for i := 1; i < len(v); i++ {
		for j := i; j > 0 && v[j].Version < v[j-1].Version; j-- {
			v[j], v[j-1] = v[j-1], v[j]
		}
	}
}
