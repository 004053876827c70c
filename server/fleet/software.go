package fleet

// Software is an entry of a Fleet host's "software" array (FL
// server/fleet/software.go HostSoftwareEntry; see shared/interop/SPEC.md
// §4.1). Only the fields Slipway keeps are read; "null" entries and
// fields read as zero values.
type Software struct {
	ID               int64    `json:"id"`
	Name             string   `json:"name"`
	Version          string   `json:"version"`
	Source           string   `json:"source"`
	Vendor           string   `json:"vendor"`
	BundleIdentifier string   `json:"bundle_identifier"`
	InstalledPaths   []string `json:"installed_paths"`
	Vulnerabilities  []struct {
		CVE string `json:"cve"`
	} `json:"vulnerabilities"`
}

// IsNull reports whether the entry was a JSON null (or empty object).
func (s Software) IsNull() bool {
	return s.ID == 0 && s.Name == "" && s.Version == "" && s.Source == "" && s.BundleIdentifier == ""
}
