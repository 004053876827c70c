package software

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"strings"
)

// DpkgStatusPath is where dpkg keeps its database of packages.
const DpkgStatusPath = "/var/lib/dpkg/status"

// maxStatusBytes bounds the dpkg status file read (a desktop has ~3 MB).
const maxStatusBytes = 64 << 20

// Dpkg reads the dpkg status file (deb_packages).
type Dpkg struct {
	Path string // default DpkgStatusPath
}

// Name names the source.
func (Dpkg) Name() string { return "dpkg" }

// Collect reads the status file.
func (d Dpkg) Collect(ctx context.Context) ([]Item, error) {
	path := d.Path
	if path == "" {
		path = DpkgStatusPath
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return ParseDpkgStatus(ctx, io.LimitReader(f, maxStatusBytes))
}

// ParseDpkgStatus reads a dpkg status file (RFC 822-style paragraphs) and
// returns the installed packages: those whose Status ends in "installed".
// Version is dpkg's full version (epoch:upstream-revision), as dpkg-query
// prints it; Maintainer is the vendor.
func ParseDpkgStatus(ctx context.Context, r io.Reader) ([]Item, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	var out []Item
	para := map[string]string{}
	last := ""
	flush := func() {
		st := strings.Fields(para["Status"])
		if para["Package"] != "" && len(st) == 3 && st[2] == "installed" {
			out = append(out, Item{Name: para["Package"], Version: para["Version"], Source: "deb_packages",
				Vendor: para["Maintainer"]})
		}
		clear(para)
		last = ""
	}
	for n := 0; sc.Scan(); n++ {
		if n%4096 == 0 && ctx.Err() != nil {
			return out, ctx.Err()
		}
		line := sc.Text()
		switch {
		case strings.TrimSpace(line) == "":
			flush()
		case line[0] == ' ' || line[0] == '\t':
			if last == "" {
				return out, fmt.Errorf("dpkg status line %d: continuation outside a field", n+1)
			}
			// Continuations (Description, Conffiles) are not kept.
		default:
			k, v, ok := strings.Cut(line, ":")
			if !ok {
				return out, fmt.Errorf("dpkg status line %d: not a field", n+1)
			}
			last = k
			if k == "Package" || k == "Status" || k == "Version" || k == "Maintainer" {
				para[k] = strings.TrimSpace(v)
			}
		}
	}
	if err := sc.Err(); err != nil {
		return out, fmt.Errorf("dpkg status: %w", err)
	}
	flush()
	return out, nil
}
