package fleet

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

func TestParse(t *testing.T) {
	host := `{"id": 7, "hostname": "a.local", "hardware_serial": "S1", "uuid": "U1", "uptime": 3600000000000,
		"orbit_version": null, "team_name": "IT", "seen_time": "2024-05-27T20:27:40.274362577Z", "unknown": {"x": [1]}}`
	tests := []struct {
		name  string
		body  string
		n     int
		field string // expected FieldError field; "" for success or ErrEmpty
		empty bool
	}{
		{"object", host, 1, "", false},
		{"array", "[" + host + "," + host + "]", 2, "", false},
		{"wrapper", `{"hosts": [` + host + `]}`, 1, "", false},
		{"get response", `{"host": ` + host + `}`, 1, "", false},
		{"serial -1 with hostname", `{"hardware_serial": "-1", "hostname": "x"}`, 1, "", false},
		{"empty array", `[]`, 0, "", true},
		{"empty wrapper", `{"hosts": []}`, 0, "", true},
		{"blank", "  ", 0, "", true},
		{"no identifiers", `{"id": 1, "hardware_serial": "-1"}`, 0, "hardware_serial", false},
		{"wrong type", `{"hostname": 5}`, 0, "hostname", false},
		{"wrong type in array", `[` + host + `, {"hostname": "b", "memory": "lots"}]`, 0, "hosts[1].memory", false},
		{"non-object item", `[1]`, 0, "hosts[0]", false},
		{"truncated", host[:40], 0, "body", false},
		{"scalar", `42`, 0, "body", false},
		{"long hostname", `{"hostname": "` + strings.Repeat("h", 300) + `"}`, 0, "hostname", false},
		{"too many", "[" + strings.TrimSuffix(strings.Repeat(`{"hostname":"h"},`, MaxHosts+1), ",") + "]", 0, "hosts", false},
	}
	for _, tc := range tests {
		hosts, err := Parse([]byte(tc.body))
		var fe *FieldError
		switch {
		case tc.empty:
			if !errors.Is(err, ErrEmpty) {
				t.Errorf("%s: got %v, want ErrEmpty", tc.name, err)
			}
		case tc.field != "":
			if !errors.As(err, &fe) || fe.Field != tc.field {
				t.Errorf("%s: got %v, want field %q", tc.name, err, tc.field)
			}
		case err != nil || len(hosts) != tc.n:
			t.Errorf("%s: %d hosts, %v; want %d", tc.name, len(hosts), err, tc.n)
		}
	}
}

func TestSummarize(t *testing.T) {
	hosts, err := Parse([]byte(`{"id": 7, "hostname": "a", "uptime": 7200000000000, "orbit_version": "1.2", "team_name": null, "disk_encryption_enabled": false}`))
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	s := hosts[0].Summarize(now)
	if s.UptimeSeconds != 7200 || s.OrbitVersion != "1.2" || s.TeamName != "" || s.DiskEncryptionEnabled == nil || *s.DiskEncryptionEnabled || !s.SyncedAt.Equal(now) {
		t.Fatalf("summary %s", fmt.Sprintf("%+v", s))
	}
}
