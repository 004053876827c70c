package software

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os/exec"
	"strconv"
	"strings"
	"time"
)

// rpmFormat prints one tab-separated line per package; EPOCHNUM is 0 when
// the package has no epoch.
const rpmFormat = `%{NAME}\t%{EPOCHNUM}\t%{VERSION}\t%{RELEASE}\t%{VENDOR}\t%{INSTALLTIME}\n`

// maxRPMOutput bounds what the rpm command may print.
const maxRPMOutput = 16 << 20

// ErrNoTool: the command a source needs is not installed.
var ErrNoTool = errors.New("not installed on this machine")

// RPM lists packages with `rpm -qa --queryformat` (rpm_packages).
type RPM struct {
	Bin string // default: rpm from PATH
}

// Name names the source.
func (RPM) Name() string { return "rpm" }

// Collect runs rpm; ErrNoTool when it is not installed.
func (r RPM) Collect(ctx context.Context) ([]Item, error) {
	bin := r.Bin
	if bin == "" {
		p, err := exec.LookPath("rpm")
		if err != nil {
			return nil, fmt.Errorf("rpm: %w", ErrNoTool)
		}
		bin = p
	}
	out, err := run(ctx, bin, maxRPMOutput, "-qa", "--queryformat", rpmFormat)
	if err != nil {
		return nil, fmt.Errorf("rpm: %w", err)
	}
	return ParseRPM(out)
}

// ParseRPM reads rpmFormat output. Version is [epoch:]version-release,
// as rpm -q prints it.
func ParseRPM(out []byte) ([]Item, error) {
	var items []Item
	for i, line := range strings.Split(strings.TrimRight(string(out), "\n"), "\n") {
		if line == "" {
			continue
		}
		f := strings.Split(line, "\t")
		if len(f) != 6 {
			return items, fmt.Errorf("rpm output line %d: %d fields, want 6", i+1, len(f))
		}
		v := f[2] + "-" + f[3]
		if f[1] != "0" && f[1] != "" {
			v = f[1] + ":" + v
		}
		it := Item{Name: f[0], Version: v, Source: "rpm_packages", Vendor: f[4]}
		if f[4] == "(none)" {
			it.Vendor = ""
		}
		if sec, err := strconv.ParseInt(f[5], 10, 64); err == nil && sec > 0 {
			t := time.Unix(sec, 0).UTC()
			it.InstalledAt = &t
		}
		items = append(items, it)
	}
	return items, nil
}

// run runs a command bounded by ctx and returns its stdout, at most max bytes.
func run(ctx context.Context, bin string, max int, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, bin, args...)
	var out capped
	out.max = max
	cmd.Stdout = &out
	cmd.WaitDelay = time.Second
	if err := cmd.Run(); err != nil {
		if out.over {
			return nil, fmt.Errorf("output over %d bytes", max)
		}
		return nil, err
	}
	return out.Bytes(), nil
}

type capped struct {
	bytes.Buffer
	max  int
	over bool
}

func (b *capped) Write(p []byte) (int, error) {
	if b.Len()+len(p) > b.max {
		b.over = true
		return 0, errors.New("output limit exceeded")
	}
	return b.Buffer.Write(p)
}
