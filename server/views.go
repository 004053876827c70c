package server

import (
	"encoding/json"
	"time"

	"github.com/slipwayhq/slipway/server/store"
)

// Machine statuses computed from the last heartbeat.
const (
	StatusOnline  = "online"
	StatusStale   = "stale"
	StatusOffline = "offline"
)

// status classifies a machine by how long ago it was last seen.
func (s *Server) status(lastSeen, now time.Time) string {
	switch {
	case lastSeen.IsZero() || now.Sub(lastSeen) >= s.cfg.OfflineAfter:
		return StatusOffline
	case now.Sub(lastSeen) >= s.cfg.StaleAfter:
		return StatusStale
	default:
		return StatusOnline
	}
}

type machineView struct {
	ID             string          `json:"id"`
	TenantID       string          `json:"tenantId"`
	Hostname       string          `json:"hostname"`
	OS             osInfo          `json:"os"`
	Status         string          `json:"status"`
	ReportedStatus string          `json:"reportedStatus,omitempty"`
	AgentVersion   string          `json:"agentVersion,omitempty"`
	Source         string          `json:"source"`
	Registered     bool            `json:"registered"`
	Sources        []sourceView    `json:"sources"`
	SerialNumbers  []string        `json:"serialNumbers"`
	MACAddresses   []string        `json:"macAddresses"`
	MachineUUID    string          `json:"machineUuid,omitempty"`
	LastSeenAt     *time.Time      `json:"lastSeenAt"`
	CreatedAt      time.Time       `json:"createdAt"`
	UpdatedAt      time.Time       `json:"updatedAt"`
	Metrics        json.RawMessage `json:"metrics,omitempty"`
	Inventory      json.RawMessage `json:"inventory,omitempty"`
	Fleet          json.RawMessage `json:"fleet,omitempty"`
}

func optTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

// view renders a machine; detail adds inventory and Fleet data.
func (s *Server) view(m store.Machine, now time.Time, detail bool) machineView {
	v := machineView{
		ID: m.ID, TenantID: m.TenantID, Hostname: m.Hostname,
		OS:     osInfo{Name: m.OS.Name, Version: m.OS.Version, Architecture: m.OS.Architecture},
		Status: s.status(m.LastSeenAt, now), ReportedStatus: m.Status, AgentVersion: m.AgentVersion,
		Source: m.Source, Registered: m.Fingerprint != "" || m.Source == "agent",
		SerialNumbers: nonNil(m.SerialNumbers), MACAddresses: nonNil(m.MACAddresses), MachineUUID: m.HardwareUUID,
		LastSeenAt: optTime(m.LastSeenAt), CreatedAt: m.CreatedAt, UpdatedAt: m.UpdatedAt, Metrics: m.Metrics,
		Sources: sources(m),
	}
	if detail {
		v.Inventory, v.Fleet = m.Inventory, m.Fleet
	}
	return v
}

// sourceView is one source that described a machine.
type sourceView struct {
	Name       string     `json:"name"` // "agent" or "fleet"
	LastSeenAt *time.Time `json:"lastSeenAt"`
}

// sources lists who described the machine and when each last saw it: the
// agent by its heartbeats, Fleet by the host's seen_time (else the sync).
func sources(m store.Machine) []sourceView {
	out := []sourceView{}
	if m.Fingerprint != "" || m.Source == "agent" {
		out = append(out, sourceView{Name: "agent", LastSeenAt: optTime(m.LastSeenAt)})
	}
	if len(m.Fleet) > 0 {
		var f struct {
			SeenTime *time.Time `json:"seenTime"`
			SyncedAt time.Time  `json:"syncedAt"`
		}
		seen := (*time.Time)(nil)
		if json.Unmarshal(m.Fleet, &f) == nil {
			seen = optTime(f.SyncedAt)
			if f.SeenTime != nil && !f.SeenTime.IsZero() {
				seen = f.SeenTime
			}
		}
		out = append(out, sourceView{Name: "fleet", LastSeenAt: seen})
	}
	return out
}

func nonNil(v []string) []string {
	if v == nil {
		return []string{}
	}
	return v
}
