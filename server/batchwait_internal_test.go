package server

import (
	"strings"
	"testing"
	"time"

	"github.com/slipwayhq/slipway/server/store"
)

type waiterStore struct {
	store.Store
	wait time.Duration
}

func (w waiterStore) HeartbeatBatchWait() time.Duration { return w.wait }

func TestBatchWait(t *testing.T) {
	pg := waiterStore{wait: time.Millisecond}
	var plain store.Store
	for _, tt := range []struct {
		name       string
		configured time.Duration
		st         store.Store
		want       time.Duration
	}{
		{"store default", 0, pg, time.Millisecond},
		{"no preference", 0, plain, 0},
		{"configured wins", 3 * time.Millisecond, pg, 3 * time.Millisecond},
		{"negative: at once", -1, pg, 0},
	} {
		if got := batchWait(tt.configured, tt.st); got != tt.want {
			t.Errorf("%s: %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestHeartbeatBatchWaitFromEnv(t *testing.T) {
	env := func(v string) func(string) string {
		return func(k string) string {
			if k == "SLIPWAY_HEARTBEAT_BATCH_WAIT" {
				return v
			}
			return ""
		}
	}
	for v, want := range map[string]time.Duration{"": 0, "0": -1, "0s": -1, "2ms": 2 * time.Millisecond, "1s": time.Second} {
		c, _, err := FromEnv(env(v))
		if err != nil || c.HeartbeatBatchWait != want {
			t.Errorf("%q: %v, %v; want %v", v, c.HeartbeatBatchWait, err, want)
		}
	}
	for _, bad := range []string{"-1ms", "2s", "soon", "1"} {
		if _, _, err := FromEnv(env(bad)); err == nil || !strings.Contains(err.Error(), "SLIPWAY_HEARTBEAT_BATCH_WAIT") {
			t.Errorf("%q: err = %v", bad, err)
		}
	}
	if err := (Config{HeartbeatBatchWait: 2 * time.Second}).Default().Validate(); err == nil {
		t.Error("a 2s batch wait validated")
	}
}

// TestDurationsFromEnvRangeChecked: every duration variable is bounded
// with an error naming it; MACHINE_TOKEN_TTL_MS used to overflow into a
// negative TTL.
func TestDurationsFromEnvRangeChecked(t *testing.T) {
	tests := []struct {
		name, value string
		ok          bool
	}{
		{"MACHINE_TOKEN_TTL_MS", "3600000", true},
		{"MACHINE_TOKEN_TTL_MS", "9223372036854775807", false}, // overflowed time.Duration
		{"MACHINE_TOKEN_TTL_MS", "10000000000000", false},      // 317 years
		{"MACHINE_TOKEN_TTL_MS", "1000", false},                // one second
		{"MACHINE_TOKEN_TTL_MS", "-5", false},
		{"SLIPWAY_HEARTBEAT_INTERVAL", "1s", true},
		{"SLIPWAY_HEARTBEAT_INTERVAL", "48h", false},
		{"SLIPWAY_HEARTBEAT_INTERVAL", "2562048h", false},
		{"SLIPWAY_SESSION_TTL", "8h", true},
		{"SLIPWAY_SESSION_TTL", "1ms", false},
		{"SLIPWAY_STALE_AFTER", "0s", false},
		{"SLIPWAY_OFFLINE_AFTER", "24h", true},
		{"SLIPWAY_HEARTBEAT_RETENTION", "2160h", true},
		{"SLIPWAY_HEARTBEAT_RETENTION", "1m", false},
		{"SLIPWAY_AUDIT_RETENTION", "forever", false},
	}
	for _, tt := range tests {
		_, _, err := FromEnv(func(k string) string {
			if k == tt.name {
				return tt.value
			}
			return ""
		})
		if (err == nil) != tt.ok || (err != nil && !strings.Contains(err.Error(), tt.name)) {
			t.Errorf("%s=%s: err = %v", tt.name, tt.value, err)
		}
	}
	for name := range envRanges {
		if r := envRanges[name]; r.min <= 0 || r.max <= r.min {
			t.Errorf("%s: bad range %v", name, r)
		}
	}
}
