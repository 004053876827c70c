package store

import (
	"cmp"
	"slices"
	"strings"
)

// SoftwareSorts are the orders SortSoftware knows.
var SoftwareSorts = []string{"name", "version", "source", "installed"}

// FilterSoftware keeps the entries whose name, version, source, vendor or
// bundle ID contains q (case-insensitive) and orders them by sort (one of
// SoftwareSorts; "" is name), descending when desc. versionCmp orders
// versions (the caller's version order); ties fall back to name.
func FilterSoftware(list []InstalledSoftware, q, sort string, desc bool, versionCmp func(a, b string) int) []InstalledSoftware {
	q = strings.ToLower(strings.TrimSpace(q))
	out := make([]InstalledSoftware, 0, len(list))
	for _, s := range list {
		if q == "" || strings.Contains(strings.ToLower(s.Name+"\x00"+s.Version+"\x00"+s.Source+"\x00"+s.Vendor+"\x00"+s.BundleID), q) {
			out = append(out, s)
		}
	}
	byName := func(a, b InstalledSoftware) int {
		return cmp.Or(cmp.Compare(strings.ToLower(a.Name), strings.ToLower(b.Name)), versionCmp(a.Version, b.Version))
	}
	var f func(a, b InstalledSoftware) int
	switch sort {
	case "version":
		f = func(a, b InstalledSoftware) int { return cmp.Or(versionCmp(a.Version, b.Version), byName(a, b)) }
	case "source":
		f = func(a, b InstalledSoftware) int { return cmp.Or(cmp.Compare(a.Source, b.Source), byName(a, b)) }
	case "installed":
		f = func(a, b InstalledSoftware) int { return cmp.Or(a.InstalledAt.Compare(b.InstalledAt), byName(a, b)) }
	default:
		f = byName
	}
	if desc {
		slices.SortStableFunc(out, func(a, b InstalledSoftware) int { return f(b, a) })
	} else {
		slices.SortStableFunc(out, f)
	}
	return out
}
