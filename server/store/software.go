package store

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Software inventory: every title+version+source is stored once (a
// "software" row, like Fleet's software table) and machines point at the
// rows they have (like Fleet's host_software). A machine can have two
// lists, one per origin: the agent's and Fleet's. Both are kept; the
// machine's software (its page, the fleet-wide search) is the agent's list
// plus the Fleet entries whose (name, source) the agent does not report:
// when both report a title, the agent wins, because it reports the moment
// the list changes while Fleet's copy is as old as its last refetch.
// Fleet's vulnerabilities are kept on the software row (they belong to a
// version, not to a machine), so they also show on agent-reported entries
// of the same name, version and source.

// Software origins: who reported a list.
const (
	OriginAgent = "agent"
	OriginFleet = "fleet"
)

// Limits of a software list and its fields; lists over MaxSoftwareItems are
// refused whole (the agent sends its first MaxSoftwareItems entries, in
// sorted order, and says so).
const (
	MaxSoftwareItems    = 10000
	MaxSoftwareName     = 255
	MaxSoftwareVersion  = 128
	MaxSoftwareVendor   = 255
	MaxSoftwareBundleID = 255
	MaxSoftwarePath     = 1024
	MaxSoftwareVulns    = 256
)

// Software is one installed program as a machine reports it. Name,
// Version, Source and BundleID identify the stored title+version; Vendor
// and Vulnerabilities describe it; Path and InstalledAt are per machine.
type Software struct {
	Name    string
	Version string
	// Source is the package system, named like osquery's tables:
	// deb_packages, rpm_packages, apk_packages, apps (macOS),
	// programs (Windows), homebrew_packages, chrome_extensions, ...
	Source          string
	Vendor          string
	BundleID        string
	Path            string
	InstalledAt     time.Time
	Vulnerabilities []string // CVE IDs, from Fleet
}

// Key identifies the stored title+version row.
func (s Software) Key() string {
	return s.Name + "\x00" + s.Version + "\x00" + s.Source + "\x00" + s.BundleID
}

// Title is what the agent's entry shadows a Fleet entry by.
func (s Software) Title() string { return strings.ToLower(s.Name) + "\x00" + s.Source }

var (
	sourceRE = regexp.MustCompile(`^[a-z][a-z0-9_]{0,31}$`)
	vulnRE   = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$`)
)

// SoftwareError names the bad field of a software entry; it is ErrInvalid.
type SoftwareError struct {
	Field  string // name, version, source, vendor, bundleId, path, vulnerabilities
	Reason string
}

func (e *SoftwareError) Error() string        { return "software " + e.Field + ": " + e.Reason }
func (e *SoftwareError) Is(target error) bool { return target == ErrInvalid }

// Check validates one entry; the error is a *SoftwareError.
func (s Software) Check() error {
	bad := func(field, why string) error { return &SoftwareError{Field: field, Reason: why} }
	for _, f := range []struct {
		name, v  string
		max      int
		required bool
	}{
		{"name", s.Name, MaxSoftwareName, true},
		{"version", s.Version, MaxSoftwareVersion, false},
		{"vendor", s.Vendor, MaxSoftwareVendor, false},
		{"bundleId", s.BundleID, MaxSoftwareBundleID, false},
		{"path", s.Path, MaxSoftwarePath, false},
	} {
		if err := checkText(f.v, f.max, f.required); err != "" {
			return bad(f.name, err)
		}
	}
	if !sourceRE.MatchString(s.Source) {
		return bad("source", "must be a lower-case table name such as deb_packages")
	}
	if len(s.Vulnerabilities) > MaxSoftwareVulns {
		return bad("vulnerabilities", fmt.Sprintf("more than %d", MaxSoftwareVulns))
	}
	for _, v := range s.Vulnerabilities {
		if !vulnRE.MatchString(v) {
			return bad("vulnerabilities", "not an identifier such as CVE-2024-1234")
		}
	}
	return nil
}

// checkText returns why v is not acceptable text, or "".
func checkText(v string, max int, required bool) string {
	switch {
	case v == "" && required:
		return "required"
	case len(v) > max:
		return fmt.Sprintf("longer than %d bytes", max)
	case !utf8.ValidString(v):
		return "not valid UTF-8"
	case strings.TrimSpace(v) != v:
		return "leading or trailing space"
	}
	for _, r := range v {
		if unicode.IsControl(r) || r == utf8.RuneError {
			return "control character"
		}
	}
	return ""
}

// CheckSoftwareList validates a whole list (each entry, and the count);
// the error wraps ErrInvalid and names the first bad entry.
func CheckSoftwareList(list []Software) error {
	if len(list) > MaxSoftwareItems {
		return fmt.Errorf("software list of %d entries, more than %d: %w", len(list), MaxSoftwareItems, ErrInvalid)
	}
	for i, s := range list {
		if err := s.Check(); err != nil {
			return fmt.Errorf("software[%d]: %w", i, err)
		}
	}
	return nil
}

// SoftwareReport is a machine's complete list from one origin.
type SoftwareReport struct {
	MachineID string
	Origin    string // OriginAgent or OriginFleet
	Hash      string // the list's hash (machineapi.SoftwareHash), at most 128 bytes
	Items     []Software
	At        time.Time
}

// Validate checks the report; the error wraps ErrInvalid.
func (r SoftwareReport) Validate() error {
	if r.Origin != OriginAgent && r.Origin != OriginFleet {
		return fmt.Errorf("software origin %q: %w", r.Origin, ErrInvalid)
	}
	if r.MachineID == "" || r.Hash == "" || len(r.Hash) > 128 {
		return fmt.Errorf("software report machine or hash: %w", ErrInvalid)
	}
	return CheckSoftwareList(r.Items)
}

// SoftwareDiff is what a report changed in the machine's software.
type SoftwareDiff struct {
	Installed int
	Removed   int
	// Baseline is true when the machine had no list from this origin
	// before: a first list is not history.
	Baseline bool
}

// InstalledSoftware is an entry of a machine's software.
type InstalledSoftware struct {
	Software
	ID     int64  // the title+version row
	Origin string // who reported it
}

// SoftwareSearch asks which machines of a tenant have a title.
type SoftwareSearch struct {
	TenantID string // "" for every tenant
	Name     string // case-insensitive exact name
	// Version selects versions; nil accepts all.
	Version func(version string) bool
	After   string // keyset cursor: only machine IDs greater than this
	Limit   int    // default and maximum 500
}

// SoftwareHit is a machine that has the searched title.
type SoftwareHit struct {
	MachineID string
	TenantID  string
	Hostname  string
	Software  []InstalledSoftware // the matching entries
}

// SoftwareChange is an entry of the software history.
type SoftwareChange struct {
	At       time.Time
	Change   string // "installed" or "removed"
	Software Software
}

// Software history changes.
const (
	ChangeInstalled = "installed"
	ChangeRemoved   = "removed"
)

// MaxSoftwareCollect bounds the software rows one PruneSoftwareHistory
// deletes; the rest go in the next pass.
const MaxSoftwareCollect = 10_000

// SoftwareStore keeps the software inventory.
type SoftwareStore interface {
	// SoftwareHash returns the hash of the machine's stored list from
	// origin, "" when there is none.
	SoftwareHash(ctx context.Context, machineID, origin string) (string, error)
	// ReplaceSoftware makes r.Items the machine's list from r.Origin, in one
	// transaction, and records what was installed or removed in the
	// machine's software (not for the first list of an origin). ErrNotFound when the
	// machine does not exist; ErrInvalid (nothing changed) for a bad report.
	ReplaceSoftware(ctx context.Context, r SoftwareReport) (SoftwareDiff, error)
	// ListMachineSoftware returns the machine's software (the agent's list
	// and the Fleet entries it does not shadow), ordered by name, version.
	ListMachineSoftware(ctx context.Context, machineID string) ([]InstalledSoftware, error)
	// FindSoftware returns the machines having the title, in the order the
	// machines first reported software (ID order for the machines stored
	// before migration 0014); q.After is the last machine of the previous
	// page (a machine deleted since ends the listing).
	FindSoftware(ctx context.Context, q SoftwareSearch) ([]SoftwareHit, error)
	// ListSoftwareHistory returns the machine's changes, newest first.
	ListSoftwareHistory(ctx context.Context, machineID string, limit int) ([]SoftwareChange, error)
	// PruneSoftwareHistory deletes history older than before, then (bounded,
	// MaxSoftwareCollect rows a call) the software titles/versions no
	// machine has and no remaining history row names. It returns the
	// number of rows deleted of both kinds.
	PruneSoftwareHistory(ctx context.Context, before time.Time) (int64, error)
}

// SoftwareListWatcher is implemented by stores several server replicas
// share (PostgreSQL). A replica caches each machine's stored agent list
// hash; when another replica stores a new list, the cache must forget it.
type SoftwareListWatcher interface {
	// WatchSoftwareLists calls changed with the machine ID after any
	// replica committed a new agent list, and reset when changes may have
	// been missed (when it starts listening and after a lost connection).
	// It returns when ctx ends.
	WatchSoftwareLists(ctx context.Context, changed func(machineID string), reset func())
}
