package software

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/slipwayhq/slipway/agent/osquery"
	"github.com/slipwayhq/slipway/machineapi"
)

// osqueryLimits fit a full software table: MaxSoftwareItems rows of a few
// hundred bytes.
var osqueryLimits = osquery.Limits{OutputBytes: 32 << 20, Rows: machineapi.MaxSoftwareItems * 2}

// tableSQL selects each software table's columns the agent maps.
var tableSQL = map[string]string{
	"deb_packages":      "SELECT name, version, maintainer, status FROM deb_packages",
	"rpm_packages":      "SELECT name, version, release, epoch, vendor, install_time FROM rpm_packages",
	"apps":              "SELECT name, path, bundle_identifier, bundle_short_version, bundle_version FROM apps",
	"programs":          "SELECT name, version, publisher, install_location, install_date FROM programs",
	"homebrew_packages": "SELECT name, version, path FROM homebrew_packages",
}

// Osquery reads software tables with osqueryi when it is installed.
type Osquery struct {
	Tables []string
	Bin    string // default: osquery.Find()
}

// Name names the source.
func (Osquery) Name() string { return "osquery" }

// Collect queries each table; a failing table does not stop the others.
func (o Osquery) Collect(ctx context.Context) ([]Item, error) {
	bin := o.Bin
	if bin == "" {
		var err error
		if bin, err = osquery.Find(); err != nil {
			return nil, fmt.Errorf("osqueryi: %w", ErrNoTool)
		}
	}
	var out []Item
	var errs []error
	for _, t := range o.Tables {
		sql, ok := tableSQL[t]
		if !ok {
			errs = append(errs, fmt.Errorf("osquery table %s: not a software table", t))
			continue
		}
		rows, err := osquery.QueryLimits(ctx, bin, sql, osqueryLimits)
		if err != nil {
			errs = append(errs, fmt.Errorf("osquery %s: %w", t, err))
			continue
		}
		out = append(out, FromOsquery(t, rows)...)
	}
	return out, errors.Join(errs...)
}

// FromOsquery maps rows of a software table (every value a string, ""
// for NULL) to entries, with the versions the native readers produce so
// that both collapse.
func FromOsquery(table string, rows []osquery.Row) []Item {
	var out []Item
	for _, r := range rows {
		it := Item{Name: r["name"], Version: r["version"], Source: table}
		switch table {
		case "deb_packages":
			if st := strings.Fields(r["status"]); len(st) == 3 && st[2] != "installed" {
				continue // known to dpkg but not installed (config-files, half-installed)
			}
			it.Vendor = r["maintainer"]
		case "rpm_packages":
			if r["release"] != "" {
				it.Version += "-" + r["release"]
			}
			if e := r["epoch"]; e != "" && e != "0" {
				it.Version = e + ":" + it.Version
			}
			it.Vendor = r["vendor"]
			if sec, ok := r.Int("install_time"); ok && sec > 0 {
				t := time.Unix(sec, 0).UTC()
				it.InstalledAt = &t
			}
		case "apps":
			it.Version = r["bundle_short_version"]
			if it.Version == "" {
				it.Version = r["bundle_version"]
			}
			it.BundleID, it.Path = r["bundle_identifier"], r["path"]
		case "programs":
			it.Vendor, it.Path = r["publisher"], strings.TrimRight(r["install_location"], `\`)
			if t, err := time.Parse("20060102", r["install_date"]); err == nil {
				it.InstalledAt = &t
			}
		case "homebrew_packages":
			it.Path = r["path"]
		}
		out = append(out, it)
	}
	return out
}
