package software

import (
	"slices"
	"sort"
	"strings"
	"testing"
)

// specColumns are the columns of osquery's table specs
// (github.com/osquery/osquery, specs/*.table), checked on 2026-12-04 against
// specs/linux/deb_packages.table, specs/linux/rpm_packages.table,
// specs/darwin/apps.table, specs/windows/programs.table and
// specs/darwin/homebrew_packages.table. programs.install_location is in
// the current spec only: older osquery releases lack it, and the
// programs query fails there (the source reports the error; the other
// tables and sources are unaffected).
var specColumns = map[string][]string{
	"deb_packages": {"name", "version", "source", "size", "arch", "revision", "status", "maintainer", "section",
		"priority", "admindir"},
	"rpm_packages": {"name", "version", "release", "source", "size", "sha1", "arch", "epoch", "install_time",
		"vendor", "package_group"},
	"apps": {"name", "path", "bundle_executable", "bundle_identifier", "bundle_name", "bundle_short_version",
		"bundle_version", "bundle_package_type", "environment", "element", "compiler", "development_region",
		"display_name", "info_string", "minimum_system_version", "category", "applescript_enabled", "copyright",
		"last_opened_time"},
	"programs": {"name", "version", "install_location", "install_source", "language", "publisher",
		"uninstall_string", "install_date", "identifying_number"},
	"homebrew_packages": {"name", "path", "version", "prefix"},
}

// selected returns the columns of a "SELECT a, b FROM t" query.
func selected(q string) []string {
	cols := strings.TrimPrefix(q[:strings.Index(q, " FROM ")], "SELECT ")
	return strings.Split(cols, ", ")
}

// TestOsqueryColumnsMatchTableSpecs: every column the agent selects exists
// in osquery's spec of the table, and each fixture row has exactly the
// selected columns (osqueryi --json prints every selected column, "" for
// NULL), so the fixtures have the shape of real output for these queries.
func TestOsqueryColumnsMatchTableSpecs(t *testing.T) {
	if len(tableSQL) != len(specColumns) {
		t.Fatalf("tables queried %d, with a spec here %d", len(tableSQL), len(specColumns))
	}
	for table, q := range tableSQL {
		spec, ok := specColumns[table]
		if !ok {
			t.Errorf("%s: no spec columns recorded", table)
			continue
		}
		cols := selected(q)
		for _, c := range cols {
			if !slices.Contains(spec, c) {
				t.Errorf("%s: column %q is not in osquery's spec", table, c)
			}
		}
		sort.Strings(cols)
		for i, r := range rows(t, table) {
			var keys []string
			for k := range r {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			if !slices.Equal(keys, cols) {
				t.Errorf("%s fixture row %d: columns %v, the query selects %v", table, i, keys, cols)
			}
		}
	}
}
