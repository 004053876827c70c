// Package fleet reads FleetDM host objects (the shape of Fleet's
// GET /api/v1/fleet/hosts/:id, see shared/interop/SPEC.md §4) as pushed to
// Slipway's inventory webhook: one host, an array of hosts, {"hosts": [...]}
// or {"host": {...}}. Unknown keys are accepted; known keys must have the
// documented JSON types.
package fleet

import (
	"bytes"
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
)

// MaxHosts bounds the hosts accepted in one payload.
const MaxHosts = 1000

// Host is the subset of a Fleet host object that Slipway keeps.
type Host struct {
	ID                        int64      `json:"id"`
	Hostname                  string     `json:"hostname"`
	UUID                      string     `json:"uuid"`
	Platform                  string     `json:"platform"`
	OSVersion                 string     `json:"os_version"`
	Build                     string     `json:"build"`
	OsqueryVersion            string     `json:"osquery_version"`
	OrbitVersion              *string    `json:"orbit_version"`
	Uptime                    Int        `json:"uptime"` // nanoseconds
	Memory                    Int        `json:"memory"` // bytes
	CPUType                   string     `json:"cpu_type"`
	CPUBrand                  string     `json:"cpu_brand"`
	CPUPhysicalCores          Int        `json:"cpu_physical_cores"`
	CPULogicalCores           Int        `json:"cpu_logical_cores"`
	HardwareVendor            string     `json:"hardware_vendor"`
	HardwareModel             string     `json:"hardware_model"`
	HardwareSerial            string     `json:"hardware_serial"`
	ComputerName              string     `json:"computer_name"`
	DisplayName               string     `json:"display_name"`
	PublicIP                  string     `json:"public_ip"`
	PrimaryIP                 string     `json:"primary_ip"`
	PrimaryMAC                string     `json:"primary_mac"`
	TeamName                  *string    `json:"team_name"`
	SeenTime                  *time.Time `json:"seen_time"`
	GigsDiskSpaceAvailable    Float      `json:"gigs_disk_space_available"`
	GigsTotalDiskSpace        Float      `json:"gigs_total_disk_space"`
	PercentDiskSpaceAvailable Float      `json:"percent_disk_space_available"`
	DiskEncryptionEnabled     *bool      `json:"disk_encryption_enabled"`
	// Software is nil when the payload has no "software" (Fleet's
	// exclude_software=true): the stored list is then left alone.
	Software []Software `json:"software"`
}

// ErrEmpty: the payload holds no host.
var ErrEmpty = errors.New("fleet: no hosts in payload")

// FieldError reports a host field with a wrong type or value.
type FieldError struct {
	Field string // e.g. "hosts[2].hostname"
	Msg   string
}

func (e *FieldError) Error() string { return "fleet: " + e.Field + ": " + e.Msg }

// Parse decodes a webhook body into hosts.
func Parse(body []byte) ([]Host, error) {
	body = bytes.TrimSpace(body)
	if len(body) == 0 {
		return nil, ErrEmpty
	}
	var items []json.RawMessage
	prefix := "hosts"
	switch body[0] {
	case '[':
		if err := json.Unmarshal(body, &items); err != nil {
			return nil, &FieldError{Field: "body", Msg: "invalid JSON array: " + err.Error()}
		}
	case '{':
		var top map[string]json.RawMessage
		if err := json.Unmarshal(body, &top); err != nil {
			return nil, &FieldError{Field: "body", Msg: "invalid JSON object: " + err.Error()}
		}
		switch {
		case isArray(top["hosts"]) && !looksLikeHost(top):
			if err := json.Unmarshal(top["hosts"], &items); err != nil {
				return nil, &FieldError{Field: "hosts", Msg: err.Error()}
			}
		case isObject(top["host"]) && !looksLikeHost(top):
			items, prefix = []json.RawMessage{top["host"]}, "host"
		default:
			items, prefix = []json.RawMessage{body}, ""
		}
	default:
		return nil, &FieldError{Field: "body", Msg: "expected a host object, an array or {\"hosts\": [...]}"}
	}
	if len(items) == 0 {
		return nil, ErrEmpty
	}
	if len(items) > MaxHosts {
		return nil, &FieldError{Field: "hosts", Msg: fmt.Sprintf("at most %d hosts per request", MaxHosts)}
	}
	hosts := make([]Host, 0, len(items))
	for i, raw := range items {
		name := prefix
		if prefix == "hosts" {
			name = fmt.Sprintf("hosts[%d]", i)
		}
		h, err := parseHost(raw, name)
		if err != nil {
			return nil, err
		}
		hosts = append(hosts, h)
	}
	return hosts, nil
}

func isArray(r json.RawMessage) bool  { return len(r) > 0 && r[0] == '[' }
func isObject(r json.RawMessage) bool { return len(r) > 0 && r[0] == '{' }

func looksLikeHost(top map[string]json.RawMessage) bool {
	for _, k := range []string{"hostname", "uuid", "hardware_serial"} {
		if _, ok := top[k]; ok {
			return true
		}
	}
	return false
}

func parseHost(raw json.RawMessage, name string) (Host, error) {
	var h Host
	field := func(f string) string {
		if name == "" {
			return f
		}
		return name + "." + f
	}
	if !isObject(raw) {
		where := name
		if where == "" {
			where = "body"
		}
		return h, &FieldError{Field: where, Msg: "must be an object"}
	}
	if err := json.Unmarshal(raw, &h); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			return h, &FieldError{Field: field(cmp.Or(te.Field, badNumberField(raw))), Msg: "must be a JSON " + te.Type.Kind().String()}
		}
		return h, &FieldError{Field: field("body"), Msg: err.Error()}
	}
	h.HardwareSerial = strings.TrimSpace(h.HardwareSerial)
	if h.HardwareSerial == "-1" {
		h.HardwareSerial = ""
	}
	h.UUID, h.Hostname = strings.TrimSpace(h.UUID), strings.TrimSpace(h.Hostname)
	if h.HardwareSerial == "" && h.UUID == "" && h.Hostname == "" {
		return h, &FieldError{Field: field("hardware_serial"), Msg: "one of hardware_serial, uuid or hostname is required"}
	}
	for f, v := range map[string]string{"hostname": h.Hostname, "uuid": h.UUID, "hardware_serial": h.HardwareSerial} {
		if len(v) > 255 {
			return h, &FieldError{Field: field(f), Msg: "longer than 255 characters"}
		}
	}
	return h, nil
}

// Summary is what Slipway stores about a Fleet host (camelCase, like the API).
type Summary struct {
	FleetID               int64      `json:"fleetId"`
	Hostname              string     `json:"hostname"`
	UUID                  string     `json:"uuid,omitempty"`
	Platform              string     `json:"platform,omitempty"`
	OSVersion             string     `json:"osVersion,omitempty"`
	HardwareSerial        string     `json:"hardwareSerial,omitempty"`
	HardwareVendor        string     `json:"hardwareVendor,omitempty"`
	HardwareModel         string     `json:"hardwareModel,omitempty"`
	ComputerName          string     `json:"computerName,omitempty"`
	PrimaryIP             string     `json:"primaryIp,omitempty"`
	PrimaryMAC            string     `json:"primaryMac,omitempty"`
	PublicIP              string     `json:"publicIp,omitempty"`
	CPUBrand              string     `json:"cpuBrand,omitempty"`
	CPULogicalCores       int        `json:"cpuLogicalCores,omitempty"`
	MemoryBytes           int64      `json:"memoryBytes,omitempty"`
	UptimeSeconds         int64      `json:"uptimeSeconds,omitempty"`
	DiskAvailableGB       float64    `json:"diskAvailableGb,omitempty"`
	DiskTotalGB           float64    `json:"diskTotalGb,omitempty"`
	DiskPercentAvailable  float64    `json:"diskPercentAvailable,omitempty"`
	DiskEncryptionEnabled *bool      `json:"diskEncryptionEnabled,omitempty"`
	OsqueryVersion        string     `json:"osqueryVersion,omitempty"`
	OrbitVersion          string     `json:"orbitVersion,omitempty"`
	TeamName              string     `json:"teamName,omitempty"`
	SeenTime              *time.Time `json:"seenTime,omitempty"`
	SyncedAt              time.Time  `json:"syncedAt"`
}

// Summarize converts a host for storage.
func (h Host) Summarize(now time.Time) Summary {
	s := Summary{
		FleetID: h.ID, Hostname: h.Hostname, UUID: h.UUID, Platform: h.Platform, OSVersion: h.OSVersion,
		HardwareSerial: h.HardwareSerial, HardwareVendor: h.HardwareVendor, HardwareModel: h.HardwareModel,
		ComputerName: h.ComputerName, PrimaryIP: h.PrimaryIP, PrimaryMAC: h.PrimaryMAC, PublicIP: h.PublicIP,
		CPUBrand: h.CPUBrand, CPULogicalCores: int(h.CPULogicalCores), MemoryBytes: int64(h.Memory),
		UptimeSeconds: int64(h.Uptime) / int64(time.Second), DiskAvailableGB: float64(h.GigsDiskSpaceAvailable),
		DiskTotalGB: float64(h.GigsTotalDiskSpace), DiskPercentAvailable: float64(h.PercentDiskSpaceAvailable),
		DiskEncryptionEnabled: h.DiskEncryptionEnabled, OsqueryVersion: h.OsqueryVersion,
		SeenTime: h.SeenTime, SyncedAt: now.UTC(),
	}
	if h.OrbitVersion != nil {
		s.OrbitVersion = *h.OrbitVersion
	}
	if h.TeamName != nil {
		s.TeamName = *h.TeamName
	}
	return s
}
