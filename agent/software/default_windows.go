package software

// Default lists the sources of this OS: osquery's programs table, then
// the uninstall registry keys natively.
func Default() []Source {
	return []Source{Osquery{Tables: []string{"programs"}}, Programs{}}
}
