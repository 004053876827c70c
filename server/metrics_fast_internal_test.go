package server

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
)

// flatMetrics is a fast path of metricsObject: on every input it either
// declines (the general path decides) or reaches the general path's verdict,
// with the same field and message.
func TestFlatMetricsAgreesWithGeneralPath(t *testing.T) {
	many := func(n int, dup bool) string {
		var b strings.Builder
		b.WriteString("{")
		for i := range n {
			if i > 0 {
				b.WriteString(",")
			}
			k := fmt.Sprintf("k%d", i)
			if dup {
				k = "k"
			}
			fmt.Fprintf(&b, "%q:%d", k, i)
		}
		b.WriteString("}")
		return b.String()
	}
	inputs := []string{
		`{}`, ` { } `, `{"cpu":25,"memory":61.5,"disk":75,"uptime":86400,"load1":1.0}`,
		`{ "cpu" : 1 , "disk":2 }`, "{\n\t\"cpu\":\t1\r\n}",
		`{"cpu":1e400}`, `{"load1":-1e999}`, `{"cpu":100.5}`, `{"cpu":-0.1}`, `{"uptime":-1}`, `{"uptime":0}`,
		`{"cpu":1E2}`, `{"cpu":-0}`, `{"x":1.5e-300}`,
		`{"cpu":{"x":1}}`, `{"disk":[1]}`, `{"memory":"40"}`, `{"uptime":null}`, `{"a":true}`,
		`{"cpu\u202e":1}`, "{\"cpu\u202e\":1}", `{"` + strings.Repeat("k", 64) + `":1}`, `{"` + strings.Repeat("k", 65) + `":1}`,
		`{"":1}`, `{"a\"b":1}`, `{"a\\b":1}`, "{\"a\u0001\":1}", `{"é":1}`,
		many(64, false), many(65, false), many(70, true),
		`{"cpu":1}x`, `{"cpu":1`, `{"cpu"`, `{"cpu":}`, `{"cpu" 1}`, `{,}`, `{"a":1,}`,
	}
	for _, in := range inputs {
		ok, fast := flatMetrics([]byte(in)) // must not panic on any input
		if !ok || !json.Valid([]byte(in)) {
			continue // invalid JSON never gets here: the body decoder refuses it
		}
		general := metricsMap(json.RawMessage(in))
		if fmt.Sprint(fast) != fmt.Sprint(general) {
			t.Errorf("%q: fast path %v, general path %v", in, fast, general)
		}
	}
	// The agent's heartbeat takes the fast path.
	if ok, err := flatMetrics([]byte(`{"cpu":12.5,"memory":40,"disk":70,"uptime":12345}`)); !ok || err != nil {
		t.Fatalf("agent metrics: ok %v, err %v", ok, err)
	}
}
