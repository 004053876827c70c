package sqlcol

import (
	"errors"
	"testing"
	"time"
)

// row is a Scanner over fixed values, in MachineColumns order.
type row []any

func (r row) Scan(dest ...any) error {
	if len(dest) != len(r) {
		return errors.New("column count")
	}
	for i, d := range dest {
		switch p := d.(type) {
		case *string:
			*p = r[i].(string)
		case **string:
			if r[i] == nil {
				*p = nil
			} else {
				s := r[i].(string)
				*p = &s
			}
		case *int64:
			*p = r[i].(int64)
		}
	}
	return nil
}

func machineRow(macs, serials string, inventory any) row {
	return row{"m1", "t1", "fp", "host", "linux", "12", "amd64", macs, serials, "uuid", "agent",
		nil, "1.0.0", "ok", inventory, "", int64(1700000000123), int64(0), int64(1700000000000)}
}

func TestScanMachine(t *testing.T) {
	m, err := ScanMachine(machineRow(`["aa:bb"]`, `[]`, `{"a":1}`))
	if err != nil {
		t.Fatal(err)
	}
	if m.ID != "m1" || len(m.MACAddresses) != 1 || m.MACAddresses[0] != "aa:bb" || len(m.SerialNumbers) != 0 {
		t.Fatalf("machine = %+v", m)
	}
	if string(m.Inventory) != `{"a":1}` || m.Fleet != nil || m.Metrics != nil {
		t.Fatalf("json columns: inventory %q fleet %q metrics %q", m.Inventory, m.Fleet, m.Metrics)
	}
	if !m.CreatedAt.IsZero() || m.LastSeenAt.UnixMilli() != 1700000000123 || m.LastSeenAt.Location() != time.UTC {
		t.Fatalf("times: %v %v", m.CreatedAt, m.LastSeenAt)
	}
	for name, r := range map[string]row{
		"garbage macs":      machineRow(`not json`, `[]`, nil),
		"truncated serials": machineRow(`[]`, `["abc`, nil),
		"wrong type":        machineRow(`{"a":1}`, `[]`, nil),
	} {
		if _, err := ScanMachine(r); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

func TestCodecs(t *testing.T) {
	if Millis(time.Time{}) != 0 || !Time(0).IsZero() {
		t.Error("zero time must store as 0 and back")
	}
	now := time.UnixMilli(1700000000123)
	if got := Time(Millis(now)); !got.Equal(now) {
		t.Errorf("round trip %v != %v", got, now)
	}
	if List(nil) != "[]" || List([]string{"a", `"b`}) != `["a","\"b"]` {
		t.Errorf("List: %s %s", List(nil), List([]string{"a", `"b`}))
	}
	empty := ""
	if RawJSON(nil) != nil || RawJSON(&empty) != nil {
		t.Error("NULL and empty JSON must read as nil")
	}
}
