package sqlite

import "github.com/slipwayhq/slipway/server/store"

// agentUpdate is inventory.agent.update as the machines table's update_*
// columns hold it; migration 0002 backfills them with the same reading in SQL.
type agentUpdate struct {
	known   bool // the inventory carried an agent.update object
	result  string
	version string
	at      int64 // unix ms
}

func agentUpdateOf(inv []byte) agentUpdate {
	u, ok := store.AgentUpdateOf(inv)
	return agentUpdate{known: ok, result: u.Result, version: u.Version, at: ms(u.At)}
}
