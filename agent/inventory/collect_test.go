package inventory

import (
	"encoding/json"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/slipwayhq/slipway/agent/osquery"
)

// TestCollectRealMachine checks that inventory on this machine returns real
// values, cross-checked against what the OS says through other means.
func TestCollectRealMachine(t *testing.T) {
	r := New(Options{Osquery: "off"}).Collect(t.Context())
	host, _ := os.Hostname()
	if r.Hostname != host {
		t.Errorf("hostname %q, os.Hostname %q", r.Hostname, host)
	}
	if r.OS.Name == "" || r.OS.Architecture == "" {
		t.Errorf("os: %+v", r.OS)
	}
	if r.CPU.LogicalCores != runtime.NumCPU() {
		t.Errorf("logical cores %d, runtime.NumCPU %d", r.CPU.LogicalCores, runtime.NumCPU())
	}
	if r.Memory.TotalBytes < 64<<20 || r.Memory.AvailableBytes > r.Memory.TotalBytes {
		t.Errorf("memory: %+v", r.Memory)
	}
	if r.UptimeSeconds == 0 {
		t.Error("uptime 0")
	}
	if len(r.Network) == 0 {
		t.Error("no interfaces")
	}
	if runtime.GOOS == "linux" {
		if r.Load == nil {
			t.Error("no load average")
		}
		kernel, err := os.ReadFile("/proc/sys/kernel/osrelease")
		if err == nil && r.OS.Kernel != strings.TrimSpace(string(kernel)) {
			t.Errorf("kernel %q, /proc says %q", r.OS.Kernel, kernel)
		}
		if len(r.Disks) == 0 {
			t.Error("no disks")
		}
	}
	b, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("report: %d bytes, errors: %v", len(b), r.Errors)
}

func TestEnrichPrefersOsqueryIdentity(t *testing.T) {
	r := &Report{HardwareSerial: "", MachineUUID: "gopsutil-id", CPU: CPU{Model: "x"},
		Network: []Interface{{Name: "en0"}}, OS: OS{Name: "darwin", Version: "14.0"}}
	enrich(r, osquery.Facts{
		System:     &osquery.SystemInfo{HardwareSerial: "", BoardSerial: "BOARD1", UUID: "UUID-1", CPUBrand: "Apple M2"},
		OS:         &osquery.OSVersion{Name: "macOS", Version: "", Build: "23A344"},
		Interfaces: []osquery.Interface{{Name: "en0", MAC: "aa:bb:cc:dd:ee:ff"}},
	})
	if r.HardwareSerial != "BOARD1" || r.MachineUUID != "UUID-1" || r.CPU.Model != "x" {
		t.Errorf("identity: %+v", r)
	}
	if r.OS.Name != "macOS" || r.OS.Version != "14.0" || r.OS.Build != "23A344" {
		t.Errorf("os: %+v", r.OS)
	}
	if r.Network[0].MAC != "aa:bb:cc:dd:ee:ff" {
		t.Errorf("mac: %+v", r.Network)
	}
}

// TestCollectSurvivesFailingOsquery points the osquery probe at a binary
// that hangs: the report still carries gopsutil data, the failure is
// recorded, and Collect returns within the probe deadline.
func TestCollectSurvivesFailingOsquery(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("shell stand-in")
	}
	bin := t.TempDir() + "/osqueryi"
	if err := os.WriteFile(bin, []byte("#!/bin/sh\nexec sleep 30\n"), 0o700); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	r := New(Options{Osquery: bin, Timeout: 500 * time.Millisecond}).Collect(t.Context())
	if r.Errors["osquery"] == "" {
		t.Errorf("osquery failure not recorded: %v", r.Errors)
	}
	if r.Hostname == "" {
		t.Error("gopsutil data lost")
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("collect took %s despite a 500ms probe deadline", d)
	}
}

func TestRegisterBody(t *testing.T) {
	r := &Report{Hostname: "h", OS: OS{Name: "debian", Version: "12", Architecture: "x86_64"}, HardwareSerial: "S1",
		MachineUUID: "U1", Network: []Interface{{Name: "lo", MAC: ""}, {Name: "a", MAC: "aa:aa:aa:aa:aa:aa"}, {Name: "b", MAC: "aa:aa:aa:aa:aa:aa"}}}
	req := r.Register("secret", "1.0.0")
	if len(req.MACAddresses) != 1 || req.SerialNumbers[0] != "S1" || req.MachineID != "U1" || req.Inventory["hostname"] != "h" || req.AgentVersion != "1.0.0" {
		t.Fatalf("%+v", req)
	}
	for _, s := range []string{"To be filled by O.E.M.", "0", " None "} {
		if !junkSerial(s) {
			t.Errorf("%q should be junk", s)
		}
	}
}
