// Package inventory collects what the agent reports about its machine: OS,
// hardware, disks, network, uptime, load and users, through gopsutil and,
// where osqueryi is installed, osquery. Every probe runs under a deadline and
// a failing probe is recorded in Report.Errors without failing the report.
package inventory

import (
	"encoding/json"
	"time"

	"github.com/slipwayhq/slipway/machineapi"
)

// Report is one inventory snapshot.
type Report struct {
	CollectedAt    time.Time   `json:"collectedAt"`
	Hostname       string      `json:"hostname"`
	OS             OS          `json:"os"`
	CPU            CPU         `json:"cpu"`
	Memory         Memory      `json:"memory"`
	Disks          []Disk      `json:"disks"`
	Network        []Interface `json:"network"`
	HardwareVendor string      `json:"hardwareVendor,omitempty"`
	HardwareModel  string      `json:"hardwareModel,omitempty"`
	HardwareSerial string      `json:"hardwareSerial,omitempty"`
	MachineUUID    string      `json:"machineUuid,omitempty"`
	UptimeSeconds  uint64      `json:"uptimeSeconds"`
	Load           *Load       `json:"load,omitempty"`
	Users          []string    `json:"users"`
	// Sources lists where the data came from ("gopsutil", "osquery").
	Sources []string `json:"sources"`
	// Errors maps a probe name to why it failed (the rest is still valid).
	Errors map[string]string `json:"errors,omitempty"`
}

// OS describes the operating system.
type OS struct {
	Name         string `json:"name"`
	Version      string `json:"version"`
	Build        string `json:"build,omitempty"`
	Family       string `json:"family,omitempty"`
	Kernel       string `json:"kernel,omitempty"`
	Architecture string `json:"architecture"`
}

// CPU describes the processor.
type CPU struct {
	Model         string `json:"model"`
	PhysicalCores int    `json:"physicalCores"`
	LogicalCores  int    `json:"logicalCores"`
}

// Memory is physical memory in bytes.
type Memory struct {
	TotalBytes     uint64 `json:"totalBytes"`
	AvailableBytes uint64 `json:"availableBytes"`
}

// Disk is one mounted filesystem.
type Disk struct {
	Mountpoint string `json:"mountpoint"`
	Device     string `json:"device"`
	Filesystem string `json:"filesystem"`
	TotalBytes uint64 `json:"totalBytes"`
	FreeBytes  uint64 `json:"freeBytes"`
}

// Interface is one network interface.
type Interface struct {
	Name      string   `json:"name"`
	MAC       string   `json:"mac,omitempty"`
	Addresses []string `json:"addresses"`
}

// Load is the load average.
type Load struct {
	Load1  float64 `json:"load1"`
	Load5  float64 `json:"load5"`
	Load15 float64 `json:"load15"`
}

// MACAddresses returns the distinct hardware addresses of non-loopback
// interfaces, lower-case.
func (r *Report) MACAddresses() []string {
	var out []string
	seen := map[string]bool{}
	for _, n := range r.Network {
		if n.MAC == "" || n.MAC == "00:00:00:00:00:00" || seen[n.MAC] {
			continue
		}
		seen[n.MAC] = true
		out = append(out, n.MAC)
	}
	return out
}

// SerialNumbers returns the hardware serials known for this machine.
func (r *Report) SerialNumbers() []string {
	if r.HardwareSerial == "" {
		return []string{}
	}
	return []string{r.HardwareSerial}
}

// Map returns the report as a JSON object (the free-form "inventory" field).
func (r *Report) Map() map[string]any {
	b, err := json.Marshal(r)
	if err != nil {
		return nil
	}
	var m map[string]any
	if json.Unmarshal(b, &m) != nil {
		return nil
	}
	// Flat keys the server shows as highlights next to a ticket.
	m["cpuBrand"] = r.CPU.Model
	m["memoryBytes"] = r.Memory.TotalBytes
	return m
}

// Register builds the registration body for this machine.
func (r *Report) Register(secret, agentVersion string) machineapi.RegisterRequest {
	return machineapi.RegisterRequest{
		ProvisioningSecret: secret,
		Hostname:           r.Hostname,
		OS:                 machineapi.OS{Name: r.OS.Name, Version: r.OS.Version, Architecture: r.OS.Architecture},
		MACAddresses:       nonNil(r.MACAddresses()),
		SerialNumbers:      r.SerialNumbers(),
		MachineID:          r.MachineUUID,
		AgentVersion:       agentVersion,
		Inventory:          r.Map(),
	}
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
