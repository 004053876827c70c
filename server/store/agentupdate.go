package store

import (
	"encoding/json"
	"time"
)

// AgentUpdate is the agent's last self-update as it reports it in
// inventory.agent.update (agent/identity.UpdateStatus). The stores keep it
// in columns so that FleetStats need not parse every inventory.
type AgentUpdate struct {
	Result  string    // installed, healthy, failed, rolled-back; at most 32 bytes
	Version string    // the version installed, or else the one offered; at most 64 bytes
	At      time.Time // when the agent reported the result
}

// AgentUpdateOf decodes inventory.agent.update; ok is false when the
// inventory has no such object or is not JSON of that shape.
func AgentUpdateOf(inventory []byte) (u AgentUpdate, ok bool) {
	if len(inventory) == 0 {
		return AgentUpdate{}, false
	}
	var doc struct {
		Agent *struct {
			Update *struct {
				Available string    `json:"available"`
				Installed string    `json:"installed"`
				Result    string    `json:"result"`
				At        time.Time `json:"at"`
			} `json:"update"`
		} `json:"agent"`
	}
	if json.Unmarshal(inventory, &doc) != nil || doc.Agent == nil || doc.Agent.Update == nil {
		return AgentUpdate{}, false
	}
	r := doc.Agent.Update
	version := r.Installed
	// A rolled-back update names the version that failed as "available"
	// and the one still running as "installed": count the failure
	// against the version that failed.
	if version == "" || (r.Result == UpdateRolledBack && r.Available != "") {
		version = r.Available
	}
	return AgentUpdate{Result: clip(r.Result, 32), Version: clip(version, 64), At: r.At}, true
}

func clip(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}
