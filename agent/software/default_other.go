//go:build !linux && !darwin && !windows

package software

// Default lists the sources of this OS: osquery's package tables only.
func Default() []Source {
	return []Source{Osquery{Tables: []string{"deb_packages", "rpm_packages"}}}
}
