package inventory

import (
	"context"
	"errors"
	"strings"

	"github.com/slipwayhq/slipway/agent/osquery"
)

func (c *Collector) probeOsquery(ctx context.Context) (apply, error) {
	bin := c.opts.Osquery
	if bin == "" {
		var err error
		if bin, err = osquery.Find(); err != nil {
			return nil, err
		}
	}
	f := osquery.Collect(ctx, bin)
	var err error
	if len(f.Errors) > 0 {
		var parts []string
		for table, msg := range f.Errors {
			parts = append(parts, table+": "+msg)
		}
		err = errors.New(strings.Join(parts, "; "))
	}
	if f.System == nil && f.OS == nil && f.Interfaces == nil {
		return nil, err
	}
	return func(r *Report) { enrich(r, f) }, err
}

// enrich merges osquery facts into a report. osquery wins for hardware
// identity (it reads SMBIOS/IOKit/WMI as root), gopsutil values stay where
// osquery has none ("" is NULL in osqueryi output).
func enrich(r *Report, f osquery.Facts) {
	r.Sources = append(r.Sources, "osquery")
	if s := f.System; s != nil {
		r.HardwareSerial = firstNonEmpty(s.HardwareSerial, s.BoardSerial, r.HardwareSerial)
		r.HardwareVendor = firstNonEmpty(s.HardwareVendor, r.HardwareVendor)
		r.HardwareModel = firstNonEmpty(s.HardwareModel, r.HardwareModel)
		r.MachineUUID = firstNonEmpty(s.UUID, r.MachineUUID)
		r.CPU.Model = firstNonEmpty(r.CPU.Model, s.CPUBrand)
		if r.Hostname == "" {
			r.Hostname = s.Hostname
		}
		if r.Memory.TotalBytes == 0 && s.PhysicalMemory > 0 {
			r.Memory.TotalBytes = uint64(s.PhysicalMemory)
		}
	}
	if o := f.OS; o != nil {
		r.OS.Name = firstNonEmpty(o.Name, r.OS.Name)
		r.OS.Version = firstNonEmpty(o.Version, r.OS.Version)
		r.OS.Build = firstNonEmpty(o.Build, r.OS.Build)
	}
	for _, it := range f.Interfaces {
		for i := range r.Network {
			if r.Network[i].Name == it.Name && r.Network[i].MAC == "" {
				r.Network[i].MAC = it.MAC
			}
		}
	}
}
