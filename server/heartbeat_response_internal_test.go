package server

import (
	"encoding/json"
	"testing"
	"time"
)

func TestHeartbeatResponseJSON(t *testing.T) {
	loc := time.FixedZone("x", 3600)
	for _, r := range []heartbeatResponse{
		{},
		{HeartbeatIntervalSeconds: 63, ServerTime: time.Date(2026, 12, 5, 1, 2, 3, 456789000, time.UTC),
			ExpiresAt: time.Date(2027, 1, 4, 1, 2, 3, 0, time.UTC), SoftwareNeeded: true},
		{HeartbeatIntervalSeconds: -1, ServerTime: time.Date(2026, 12, 5, 1, 2, 3, 1, loc), ExpiresAt: time.Unix(0, 0)},
	} {
		want, err := json.Marshal(r)
		if err != nil {
			t.Fatal(err)
		}
		if got := r.appendJSON(nil); string(got) != string(want) {
			t.Errorf("appendJSON\n got %s\nwant %s", got, want)
		}
	}
}
