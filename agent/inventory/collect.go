package inventory

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"sort"
	"time"

	"github.com/shirou/gopsutil/v4/cpu"
	"github.com/shirou/gopsutil/v4/disk"
	"github.com/shirou/gopsutil/v4/host"
	"github.com/shirou/gopsutil/v4/load"
	"github.com/shirou/gopsutil/v4/mem"
	"github.com/shirou/gopsutil/v4/net"

	"github.com/slipwayhq/slipway/agent/osquery"
)

// Bounds on list sizes, so a machine with thousands of mounts or virtual
// interfaces still sends a small report.
const (
	maxDisks      = 64
	maxInterfaces = 64
	maxUsers      = 64
)

// Options tunes a Collector; the zero value is safe.
type Options struct {
	// Timeout bounds each probe. Default: 5 s.
	Timeout time.Duration
	// Osquery is the osqueryi path: "" looks it up, "off" disables it.
	Osquery string
	// Logger receives probe failures at debug level. Default: discard.
	Logger *slog.Logger
}

// Collector gathers inventory reports.
type Collector struct {
	opts Options
}

// New returns a Collector.
func New(opts Options) *Collector {
	if opts.Timeout <= 0 {
		opts.Timeout = 5 * time.Second
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	return &Collector{opts: opts}
}

// apply writes a probe's result into the report; it runs on the caller's
// goroutine after the probe finished, so probes never share the report.
type apply func(*Report)

type probe struct {
	name string
	run  func(ctx context.Context) (apply, error)
}

// ErrProbeTimeout: a probe did not finish before its deadline.
var ErrProbeTimeout = errors.New("probe timed out")

// Collect runs every probe concurrently, each under its own deadline, and
// returns the report. It never fails: problems land in Report.Errors.
func (c *Collector) Collect(ctx context.Context) *Report {
	r := &Report{CollectedAt: time.Now().UTC(), Sources: []string{"gopsutil"}, Users: []string{},
		Disks: []Disk{}, Network: []Interface{}, OS: OS{Architecture: runtime.GOARCH}}
	probes := []probe{
		{"host", probeHost}, {"cpu", probeCPU}, {"memory", probeMemory}, {"disks", probeDisks},
		{"network", probeNetwork}, {"load", probeLoad}, {"users", probeUsers}, {"hardware", probeHardware},
	}
	if c.opts.Osquery != "off" {
		probes = append(probes, probe{"osquery", c.probeOsquery})
	}
	results := make([]chan result, len(probes))
	for i, p := range probes {
		results[i] = make(chan result, 1)
		go func() {
			pctx, cancel := context.WithTimeout(ctx, c.opts.Timeout)
			defer cancel()
			results[i] <- runProbe(pctx, p)
		}()
	}
	deadline := time.NewTimer(c.opts.Timeout + time.Second)
	defer deadline.Stop()
	for i, p := range probes {
		var res result
		select {
		case res = <-results[i]:
		case <-deadline.C:
			res = result{err: ErrProbeTimeout}
		case <-ctx.Done():
			res = result{err: ctx.Err()}
		}
		if res.err != nil {
			if errors.Is(res.err, osquery.ErrNotInstalled) {
				continue
			}
			if r.Errors == nil {
				r.Errors = map[string]string{}
			}
			r.Errors[p.name] = res.err.Error()
			c.opts.Logger.DebugContext(ctx, "inventory probe failed", "probe", p.name, "err", res.err)
		}
		if res.apply != nil {
			res.apply(r)
		}
	}
	return r
}

type result struct {
	apply apply
	err   error
}

// runProbe runs one probe, turning a panic inside a library into an error.
func runProbe(ctx context.Context, p probe) (res result) {
	defer func() {
		if v := recover(); v != nil {
			res = result{err: fmt.Errorf("panic: %v", v)}
		}
	}()
	a, err := p.run(ctx)
	if err == nil && ctx.Err() != nil {
		err = ctx.Err()
	}
	return result{apply: a, err: err}
}

func probeHost(ctx context.Context) (apply, error) {
	hi, err := host.InfoWithContext(ctx)
	if hi == nil {
		return nil, err
	}
	return func(r *Report) {
		r.Hostname = hi.Hostname
		r.UptimeSeconds = hi.Uptime
		r.MachineUUID = hi.HostID
		r.OS.Name = osName(hi)
		r.OS.Version = hi.PlatformVersion
		r.OS.Family = hi.PlatformFamily
		r.OS.Kernel = hi.KernelVersion
		if hi.KernelArch != "" {
			r.OS.Architecture = hi.KernelArch
		}
	}, err
}

func osName(hi *host.InfoStat) string {
	if hi.Platform != "" {
		return hi.Platform
	}
	return hi.OS
}

func probeCPU(ctx context.Context) (apply, error) {
	infos, err := cpu.InfoWithContext(ctx)
	if err != nil {
		return nil, err
	}
	phys, errP := cpu.CountsWithContext(ctx, false)
	logical, errL := cpu.CountsWithContext(ctx, true)
	return func(r *Report) {
		if len(infos) > 0 {
			r.CPU.Model = infos[0].ModelName
		}
		r.CPU.PhysicalCores, r.CPU.LogicalCores = phys, logical
	}, errors.Join(errP, errL)
}

func probeMemory(ctx context.Context) (apply, error) {
	vm, err := mem.VirtualMemoryWithContext(ctx)
	if err != nil {
		return nil, err
	}
	return func(r *Report) { r.Memory = Memory{TotalBytes: vm.Total, AvailableBytes: vm.Available} }, nil
}

func probeDisks(ctx context.Context) (apply, error) {
	parts, err := disk.PartitionsWithContext(ctx, false)
	if err != nil {
		return nil, err
	}
	var disks []Disk
	var errs []error
	for _, p := range parts {
		if len(disks) == maxDisks {
			break
		}
		u, err := disk.UsageWithContext(ctx, p.Mountpoint)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", p.Mountpoint, err))
			continue
		}
		disks = append(disks, Disk{Mountpoint: p.Mountpoint, Device: p.Device, Filesystem: p.Fstype, TotalBytes: u.Total, FreeBytes: u.Free})
	}
	return func(r *Report) { r.Disks = append(r.Disks, disks...) }, errors.Join(errs...)
}

func probeNetwork(ctx context.Context) (apply, error) {
	ifs, err := net.InterfacesWithContext(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]Interface, 0, len(ifs))
	for _, i := range ifs {
		if len(out) == maxInterfaces {
			break
		}
		n := Interface{Name: i.Name, MAC: i.HardwareAddr, Addresses: []string{}}
		for _, a := range i.Addrs {
			n.Addresses = append(n.Addresses, a.Addr)
		}
		out = append(out, n)
	}
	return func(r *Report) { r.Network = out }, nil
}

func probeLoad(ctx context.Context) (apply, error) {
	if runtime.GOOS == "windows" {
		return nil, nil // no load average on Windows
	}
	a, err := load.AvgWithContext(ctx)
	if err != nil {
		return nil, err
	}
	return func(r *Report) { r.Load = &Load{Load1: a.Load1, Load5: a.Load5, Load15: a.Load15} }, nil
}

func probeUsers(ctx context.Context) (apply, error) {
	us, err := host.UsersWithContext(ctx)
	if err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	var names []string
	for _, u := range us {
		if u.User == "" || seen[u.User] || len(names) == maxUsers {
			continue
		}
		seen[u.User] = true
		names = append(names, u.User)
	}
	sort.Strings(names)
	return func(r *Report) { r.Users = append(r.Users, names...) }, nil
}

func probeHardware(ctx context.Context) (apply, error) {
	hw, err := readHardware(ctx)
	return func(r *Report) {
		r.HardwareSerial = firstNonEmpty(hw.serial, r.HardwareSerial)
		r.HardwareVendor = firstNonEmpty(hw.vendor, r.HardwareVendor)
		r.HardwareModel = firstNonEmpty(hw.model, r.HardwareModel)
	}, err
}

// hardware is what the per-OS readHardware finds.
type hardware struct{ serial, vendor, model string }

func firstNonEmpty(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}
