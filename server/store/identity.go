package store

import (
	"context"
	"slices"
)

// More identifiers FindMachine and MatchIdentity know (see IdentifierKind).
const (
	ByMAC IdentifierKind = "mac" // any of MACAddresses, exact (normalised lower-case colon form)
	// ByBareHostname is Hostname, case-insensitive, among machines that have
	// no serial number, hardware UUID or MAC address: rows only a hostname
	// ever described, which no hardware identifier can contradict.
	ByBareHostname IdentifierKind = "bare-hostname"
)

// Identity is what tells one physical machine from another, already
// normalised (see server/fingerprint). Machines are matched on it in a fixed
// order: serial number, then hardware UUID, then MAC address; the hostname is
// only a last resort (see MatchIdentity).
type Identity struct {
	Serials      []string
	HardwareUUID string
	MACs         []string
	Hostname     string
}

// Hardware reports whether the identity has a hardware identifier.
func (id Identity) Hardware() bool {
	return len(id.Serials) > 0 || id.HardwareUUID != "" || len(id.MACs) > 0
}

// Match is the outcome of matching an Identity against a tenant's machines.
type Match struct {
	// ID is the machine chosen, "" when none matched.
	ID string
	// By is the identifier that chose it.
	By IdentifierKind
	// Others lists the other machines that some identifier of the identity
	// also matched (a conflict: the data of one physical machine is spread
	// over several rows). They are reported, never changed.
	Others []string
}

// MatchIdentity applies the matching rule shared by every store. find
// returns the IDs of the tenant's machines with the identifier, oldest
// first. The rule:
//
//  1. every serial, then the hardware UUID, then every MAC is looked up; the
//     first identifier (in that order) that matches decides, and its oldest
//     machine wins;
//  2. machines matched by any other identifier are returned in Others;
//  3. only when no hardware identifier matched: with hardware identifiers,
//     the hostname may match a machine that has none (ByBareHostname);
//     without any, the hostname matches any machine (ByHostname).
func MatchIdentity(ctx context.Context, id Identity, find func(ctx context.Context, kind IdentifierKind, value string) ([]string, error)) (Match, error) {
	var m Match
	seen := map[string]bool{}
	try := func(kind IdentifierKind, value string) error {
		if value == "" {
			return nil
		}
		ids, err := find(ctx, kind, value)
		if err != nil {
			return err
		}
		for _, got := range ids {
			switch {
			case m.ID == "":
				m.ID, m.By = got, kind
			case got != m.ID && !seen[got]:
				m.Others = append(m.Others, got)
			}
			seen[got] = true
		}
		return nil
	}
	for _, sn := range id.Serials {
		if err := try(BySerial, sn); err != nil {
			return Match{}, err
		}
	}
	if err := try(ByUUID, id.HardwareUUID); err != nil {
		return Match{}, err
	}
	for _, mac := range id.MACs {
		if err := try(ByMAC, mac); err != nil {
			return Match{}, err
		}
	}
	if m.ID != "" {
		slices.Sort(m.Others)
		return m, nil
	}
	kind := ByHostname
	if id.Hardware() {
		kind = ByBareHostname
	}
	if err := try(kind, id.Hostname); err != nil {
		return Match{}, err
	}
	m.Others = nil // several machines sharing a hostname is no conflict
	return m, nil
}

// MergeFunc fills m from the new source's data. match says how m was
// found: match.ID == "" for a new machine (zero but for ID and TenantID).
// It must not change m.ID or m.TenantID.
type MergeFunc func(m *Machine, match Match) error
