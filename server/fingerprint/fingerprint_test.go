package fingerprint

import "testing"

func TestCompute(t *testing.T) {
	base := Identifiers{SerialNumbers: []string{"C02XYZ"}, MachineID: "ABCD-1", MACAddresses: []string{"AA:BB:CC:DD:EE:00"}}
	tests := []struct {
		name string
		id   Identifiers
		same bool // same fingerprint as base
	}{
		{"identical", base, true},
		{"case and spaces", Identifiers{SerialNumbers: []string{" c02xyz "}}, true},
		{"duplicate serials", Identifiers{SerialNumbers: []string{"C02XYZ", "c02xyz", "-1"}}, true},
		{"other serial", Identifiers{SerialNumbers: []string{"OTHER"}, MachineID: "abcd-1"}, false},
		{"uuid only differs from serial", Identifiers{MachineID: "abcd-1"}, false},
	}
	want := Compute(base)
	for _, tc := range tests {
		if got := Compute(tc.id); (got == want) != tc.same {
			t.Errorf("%s: same=%v, want %v", tc.name, got == want, tc.same)
		}
	}
	if Compute(Identifiers{MachineID: "{ABCD-1}"}) != Compute(Identifiers{MachineID: "abcd-1", MACAddresses: []string{"aa:bb:cc:dd:ee:00"}}) {
		t.Error("uuid normalisation differs")
	}
	if Compute(Identifiers{MACAddresses: []string{"aa-bb-cc-dd-ee-00", "AA:BB:CC:DD:EE:01"}}) !=
		Compute(Identifiers{MACAddresses: []string{"aa:bb:cc:dd:ee:01", "aa:bb:cc:dd:ee:00"}}) {
		t.Error("mac order/format changes the fingerprint")
	}
	for _, none := range []Identifiers{{}, {SerialNumbers: []string{"To Be Filled By O.E.M."}, MachineID: "00000000-0000-0000-0000-000000000000", MACAddresses: []string{"02:00:00:00:00:01", "00:00:00:00:00:00", "junk"}}} {
		if got := Compute(none); got != "" {
			t.Errorf("Compute(%+v) = %q, want empty", none, got)
		}
	}
}
