package osquery

import (
	"context"
	"fmt"
)

// SystemInfo is the subset of the system_info table the agent uses.
type SystemInfo struct {
	Hostname         string
	UUID             string
	CPUBrand         string
	CPUPhysicalCores int64
	CPULogicalCores  int64
	PhysicalMemory   int64
	HardwareVendor   string
	HardwareModel    string
	HardwareSerial   string
	BoardSerial      string
	ComputerName     string
}

// OSVersion is the os_version table.
type OSVersion struct {
	Name, Version, Build, Platform, PlatformLike, Codename, Arch string
	Major, Minor, Patch                                          int64
}

// Interface is one interface_details row.
type Interface struct {
	Name string
	MAC  string
	MTU  int64
}

// Facts is everything the agent reads from osquery; each part is nil when its
// query failed (Errors says why).
type Facts struct {
	System     *SystemInfo
	OS         *OSVersion
	Interfaces []Interface
	Errors     map[string]string
}

// ParseSystemInfo maps system_info rows (exactly one expected).
func ParseSystemInfo(rows []Row) (*SystemInfo, error) {
	if len(rows) != 1 {
		return nil, fmt.Errorf("%w: system_info: %d rows, want 1", ErrFormat, len(rows))
	}
	r := rows[0]
	si := &SystemInfo{
		Hostname: r["hostname"], UUID: r["uuid"], CPUBrand: r["cpu_brand"],
		HardwareVendor: r["hardware_vendor"], HardwareModel: r["hardware_model"],
		HardwareSerial: r["hardware_serial"], BoardSerial: r["board_serial"],
		ComputerName: r["computer_name"],
	}
	si.CPUPhysicalCores, _ = r.Int("cpu_physical_cores")
	si.CPULogicalCores, _ = r.Int("cpu_logical_cores")
	si.PhysicalMemory, _ = r.Int("physical_memory")
	return si, nil
}

// ParseOSVersion maps os_version rows (exactly one expected).
func ParseOSVersion(rows []Row) (*OSVersion, error) {
	if len(rows) != 1 {
		return nil, fmt.Errorf("%w: os_version: %d rows, want 1", ErrFormat, len(rows))
	}
	r := rows[0]
	v := &OSVersion{
		Name: r["name"], Version: r["version"], Build: r["build"], Platform: r["platform"],
		PlatformLike: r["platform_like"], Codename: r["codename"], Arch: r["arch"],
	}
	v.Major, _ = r.Int("major")
	v.Minor, _ = r.Int("minor")
	v.Patch, _ = r.Int("patch")
	return v, nil
}

// ParseInterfaces maps interface_details rows.
func ParseInterfaces(rows []Row) []Interface {
	out := make([]Interface, 0, len(rows))
	for _, r := range rows {
		if r["interface"] == "" {
			continue
		}
		it := Interface{Name: r["interface"], MAC: r["mac"]}
		it.MTU, _ = r.Int("mtu")
		out = append(out, it)
	}
	return out
}

// Collect queries the three tables the agent uses. A failed query is
// recorded in Errors; it never fails the others.
func Collect(ctx context.Context, bin string) Facts {
	f := Facts{Errors: map[string]string{}}
	if rows, err := Query(ctx, bin, "SELECT * FROM system_info;"); err != nil {
		f.Errors["system_info"] = err.Error()
	} else if f.System, err = ParseSystemInfo(rows); err != nil {
		f.Errors["system_info"] = err.Error()
	}
	if rows, err := Query(ctx, bin, "SELECT * FROM os_version;"); err != nil {
		f.Errors["os_version"] = err.Error()
	} else if f.OS, err = ParseOSVersion(rows); err != nil {
		f.Errors["os_version"] = err.Error()
	}
	if rows, err := Query(ctx, bin, "SELECT interface, mac, mtu FROM interface_details;"); err != nil {
		f.Errors["interface_details"] = err.Error()
	} else {
		f.Interfaces = ParseInterfaces(rows)
	}
	return f
}
