package software

// Default lists the sources of this OS: osquery's apps and Homebrew
// tables, then the application bundles natively.
func Default() []Source {
	return []Source{Osquery{Tables: []string{"apps", "homebrew_packages"}}, Apps{}}
}
