package software

// Default lists the sources of this OS: osquery's tables, then the dpkg
// status file and the rpm database (entries both report collapse).
func Default() []Source {
	return []Source{Osquery{Tables: []string{"deb_packages", "rpm_packages"}}, Dpkg{}, RPM{}}
}
