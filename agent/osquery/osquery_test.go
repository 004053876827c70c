package osquery

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"testing"
	"time"
)

// shellJSON renders rows exactly as osqueryi --json prints them (SPEC.md §5):
// "[\n", rows as compact JSON with sorted keys prefixed by two spaces,
// separated by ",\n", then "\n]\n"; zero rows print "[", an empty line, "]".
func shellJSON(t *testing.T, rows ...map[string]string) []byte {
	t.Helper()
	var b strings.Builder
	b.WriteString("[\n")
	for i, r := range rows {
		keys := make([]string, 0, len(r))
		for k := range r {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		b.WriteString("  {")
		for j, k := range keys {
			if j > 0 {
				b.WriteString(",")
			}
			kb, _ := json.Marshal(k)
			vb, _ := json.Marshal(r[k])
			b.Write(kb)
			b.WriteString(":")
			b.Write(vb)
		}
		b.WriteString("}")
		if i < len(rows)-1 {
			b.WriteString(",\n")
		}
	}
	b.WriteString("\n]\n")
	return []byte(b.String())
}

// macSystemInfo is a system_info row with every column of §5 as an Apple
// Silicon Mac prints it ("" for cpu_sockets, arm64e).
var macSystemInfo = map[string]string{
	"board_model": "", "board_serial": "", "board_vendor": "", "board_version": "",
	"computer_name": "Ada's MacBook", "cpu_brand": "Apple M2", "cpu_logical_cores": "8",
	"cpu_microcode": "", "cpu_physical_cores": "8", "cpu_sockets": "", "cpu_subtype": "ARM64E",
	"cpu_type": "arm64e", "hardware_model": "Mac14,2", "hardware_serial": "C02XYZ123",
	"hardware_vendor": "Apple Inc.", "hardware_version": "", "hostname": "ada-mbp.local",
	"local_hostname": "ada-mbp", "physical_memory": "17179869184",
	"uuid": "9D0A3C2E-1F4B-4C55-9E0F-0123456789AB",
}

func TestParseSystemInfo(t *testing.T) {
	rows, err := Parse(shellJSON(t, macSystemInfo))
	if err != nil {
		t.Fatal(err)
	}
	si, err := ParseSystemInfo(rows)
	if err != nil {
		t.Fatal(err)
	}
	want := SystemInfo{
		Hostname: "ada-mbp.local", UUID: "9D0A3C2E-1F4B-4C55-9E0F-0123456789AB", CPUBrand: "Apple M2",
		CPUPhysicalCores: 8, CPULogicalCores: 8, PhysicalMemory: 17179869184,
		HardwareVendor: "Apple Inc.", HardwareModel: "Mac14,2", HardwareSerial: "C02XYZ123",
		ComputerName: "Ada's MacBook",
	}
	if *si != want {
		t.Fatalf("got %+v\nwant %+v", *si, want)
	}
}

func TestParseOSVersion(t *testing.T) {
	tests := []struct {
		name string
		row  map[string]string
		want OSVersion
	}{
		{"debian", map[string]string{"arch": "x86_64", "build": "", "codename": "bookworm", "major": "12", "minor": "0", "name": "Debian GNU/Linux", "patch": "0", "platform": "debian", "platform_like": "", "version": "12 (bookworm)"},
			OSVersion{Name: "Debian GNU/Linux", Version: "12 (bookworm)", Platform: "debian", Codename: "bookworm", Arch: "x86_64", Major: 12}},
		{"windows patch NULL", map[string]string{"arch": "64-bit", "build": "19045", "codename": "Microsoft Windows 10 Pro", "install_date": "1650000000", "major": "10", "minor": "0", "name": "Microsoft Windows 10 Pro", "patch": "", "platform": "windows", "platform_like": "windows", "revision": "4046", "version": "10.0.19045"},
			OSVersion{Name: "Microsoft Windows 10 Pro", Version: "10.0.19045", Build: "19045", Platform: "windows", PlatformLike: "windows", Codename: "Microsoft Windows 10 Pro", Arch: "64-bit", Major: 10}},
		{"darwin extra", map[string]string{"arch": "arm64", "build": "23A344", "codename": "", "extra": "", "major": "14", "minor": "0", "name": "macOS", "patch": "0", "platform": "darwin", "platform_like": "darwin", "version": "14.0"},
			OSVersion{Name: "macOS", Version: "14.0", Build: "23A344", Platform: "darwin", PlatformLike: "darwin", Arch: "arm64", Major: 14}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rows, err := Parse(shellJSON(t, tc.row))
			if err != nil {
				t.Fatal(err)
			}
			got, err := ParseOSVersion(rows)
			if err != nil {
				t.Fatal(err)
			}
			if *got != tc.want {
				t.Fatalf("got %+v\nwant %+v", *got, tc.want)
			}
		})
	}
}

func TestParseInterfaces(t *testing.T) {
	lo := map[string]string{"collisions": "0", "flags": "73", "ibytes": "1", "idrops": "0", "ierrors": "0", "interface": "lo", "ipackets": "1", "last_change": "-1", "link_speed": "", "mac": "00:00:00:00:00:00", "metric": "0", "mtu": "65536", "obytes": "1", "odrops": "0", "oerrors": "0", "opackets": "1", "pci_slot": "", "type": "772"}
	eth := map[string]string{"interface": "eth0", "mac": "52:54:00:12:34:56", "mtu": "1500", "type": "1", "link_speed": "1000", "pci_slot": "0000:00:03.0"}
	rows, err := Parse(shellJSON(t, lo, eth, map[string]string{"interface": "", "mac": ""}))
	if err != nil {
		t.Fatal(err)
	}
	got := ParseInterfaces(rows)
	want := []Interface{{"lo", "00:00:00:00:00:00", 65536}, {"eth0", "52:54:00:12:34:56", 1500}}
	if len(got) != len(want) || got[0] != want[0] || got[1] != want[1] {
		t.Fatalf("got %+v want %+v", got, want)
	}
}

func TestParseZeroRows(t *testing.T) {
	rows, err := Parse(shellJSON(t))
	if err != nil || len(rows) != 0 {
		t.Fatalf("rows=%v err=%v", rows, err)
	}
	if _, err := ParseSystemInfo(rows); !errors.Is(err, ErrFormat) {
		t.Fatalf("zero system_info rows: %v", err)
	}
}

func TestParseRejectsGarbage(t *testing.T) {
	full := shellJSON(t, macSystemInfo)
	tests := []struct {
		name string
		in   []byte
	}{
		{"empty", nil},
		{"truncated", full[:len(full)/2]},
		{"number value", []byte(`[{"major":12}]`)},
		{"null value", []byte(`[{"major":null}]`)},
		{"nested", []byte(`[{"a":{"b":"c"}}]`)},
		{"not array", []byte(`{"a":"b"}`)},
		{"null row", []byte(`[null]`)},
		{"row is string", []byte(`["x"]`)},
		{"trailing", []byte("[]\n[]")},
		{"html", []byte("<html>")},
		{"oversize", append([]byte(`[{"a":"`), append([]byte(strings.Repeat("x", MaxOutputBytes)), `"}]`...)...)},
		{"oversize value", []byte(`[{"a":"` + strings.Repeat("x", MaxValueBytes+1) + `"}]`)},
		{"too many rows", []byte("[" + strings.Repeat(`{},`, MaxRows) + "{}]")},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := Parse(tc.in); !errors.Is(err, ErrFormat) {
				t.Fatalf("want ErrFormat, got %v", err)
			}
		})
	}
}

func TestRowIntNullAndGarbage(t *testing.T) {
	r := Row{"a": "", "b": "12", "c": "x1"}
	if _, ok := r.Int("a"); ok {
		t.Error("NULL parsed as int")
	}
	if n, ok := r.Int("b"); !ok || n != 12 {
		t.Error("12 not parsed")
	}
	if _, ok := r.Int("c"); ok {
		t.Error("garbage parsed as int")
	}
	if _, ok := r.Int("missing"); ok {
		t.Error("missing parsed as int")
	}
}

// TestCollectThroughExec runs Collect against a stand-in osqueryi script that
// prints SPEC §5 payloads, to exercise the exec path, per-table error
// isolation and the deadline. (osquery itself is not packaged for Debian.)
func TestCollectThroughExec(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("shell stand-in")
	}
	dir := t.TempDir()
	si := filepath.Join(dir, "system_info.json")
	if err := os.WriteFile(si, shellJSON(t, macSystemInfo), 0o600); err != nil {
		t.Fatal(err)
	}
	script := "#!/bin/sh\ncase \"$2\" in\n*system_info*) cat " + si + ";;\n" +
		"*os_version*) echo '[{\"major\":12}]';;\n" + // typed number: not osqueryi's format
		"*) sleep 5;;\nesac\n"
	bin := filepath.Join(dir, "osqueryi")
	if err := os.WriteFile(bin, []byte(script), 0o700); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Second)
	defer cancel()
	f := Collect(ctx, bin)
	if f.System == nil || f.System.HardwareSerial != "C02XYZ123" {
		t.Fatalf("system_info: %+v errs=%v", f.System, f.Errors)
	}
	if f.OS != nil || f.Errors["os_version"] == "" {
		t.Fatalf("os_version should fail: %+v", f.Errors)
	}
	if f.Interfaces != nil || f.Errors["interface_details"] == "" {
		t.Fatalf("interface_details should hit the deadline: %+v", f.Errors)
	}
}
