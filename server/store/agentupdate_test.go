package store_test

import (
	"strings"
	"testing"
	"time"

	"github.com/slipwayhq/slipway/server/store"
)

func TestAgentUpdateOf(t *testing.T) {
	at := time.Date(2026, 3, 2, 11, 30, 0, 0, time.UTC)
	long := strings.Repeat("9", 100)
	for _, c := range []struct {
		name, inv string
		want      store.AgentUpdate
		ok        bool
	}{
		{"installed", `{"agent":{"update":{"installed":"1.2.0","available":"1.3.0","result":"healthy","at":"2026-03-02T13:30:00+02:00"}}}`,
			store.AgentUpdate{Result: "healthy", Version: "1.2.0", At: at}, true},
		{"rolled back counts against the failed version", `{"agent":{"update":{"installed":"1.2.0","available":"1.3.0","result":"rolled-back"}}}`,
			store.AgentUpdate{Result: "rolled-back", Version: "1.3.0"}, true},
		{"only offered", `{"agent":{"update":{"available":"1.3.0","result":"failed"}}}`,
			store.AgentUpdate{Result: "failed", Version: "1.3.0"}, true},
		{"oversize fields clipped", `{"agent":{"update":{"installed":"` + long + `","result":"` + long + `"}}}`,
			store.AgentUpdate{Result: long[:32], Version: long[:64]}, true},
		{"empty update", `{"agent":{"update":{}}}`, store.AgentUpdate{}, true},
		{"no inventory", ``, store.AgentUpdate{}, false},
		{"no update", `{"agent":{"version":"1.0.0"}}`, store.AgentUpdate{}, false},
		{"null update", `{"agent":{"update":null}}`, store.AgentUpdate{}, false},
		{"update not an object", `{"agent":{"update":"1.2.0"}}`, store.AgentUpdate{}, false},
		{"result not a string", `{"agent":{"update":{"result":7}}}`, store.AgentUpdate{}, false},
		{"bad time", `{"agent":{"update":{"result":"failed","at":"yesterday"}}}`, store.AgentUpdate{}, false},
		{"truncated", `{"agent":{"update":{"result":"fai`, store.AgentUpdate{}, false},
		{"garbage", "\x00\xff not json", store.AgentUpdate{}, false},
		{"array", `[1,2,3]`, store.AgentUpdate{}, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, ok := store.AgentUpdateOf([]byte(c.inv))
			if ok != c.ok || got.Result != c.want.Result || got.Version != c.want.Version || !got.At.Equal(c.want.At) {
				t.Fatalf("AgentUpdateOf = %+v, %v; want %+v, %v", got, ok, c.want, c.ok)
			}
		})
	}
}
