package sqlite

import (
	"encoding/json"
	"time"
)

// agentUpdate is the agent's last self-update as reported in
// inventory.agent.update, kept in the machines table's update_* columns.
type agentUpdate struct {
	known   bool   // the inventory carried an agent.update object
	result  string // installed, healthy, failed, rolled-back
	version string // the version installed, or else the one offered
	at      int64  // unix ms
}

// agentUpdateOf decodes inventory.agent.update; migration 0002 backfills the
// columns with the same reading in SQL.
func agentUpdateOf(inv []byte) agentUpdate {
	if len(inv) == 0 {
		return agentUpdate{}
	}
	var doc struct {
		Agent *struct {
			Update *struct {
				Available, Installed, Result string
				At                           time.Time
			}
		}
	}
	if json.Unmarshal(inv, &doc) != nil || doc.Agent == nil || doc.Agent.Update == nil {
		return agentUpdate{}
	}
	u := doc.Agent.Update
	version := u.Installed
	if version == "" {
		version = u.Available
	}
	return agentUpdate{known: true, result: clip(u.Result, 32), version: clip(version, 64), at: ms(u.At)}
}

func clip(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}
