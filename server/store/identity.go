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

// Lookup is one identifier to look up for MatchIdentity.
type Lookup struct {
	Kind  IdentifierKind
	Value string
	// NoSerial and NoUUID restrict a weaker identifier to machines without
	// a serial number (or hardware UUID): a machine whose serial differs
	// from the identity's is another machine, even if it shares a MAC (a
	// docking station, a USB network adapter moved between laptops).
	NoSerial, NoUUID bool
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
// returns the IDs of the tenant's machines with one identifier, oldest
// first. The rule:
//
//  1. every serial, then the hardware UUID, then every MAC is looked up; the
//     first identifier (in that order) that matches decides, and its oldest
//     machine wins;
//  2. a UUID or MAC never matches a machine whose serial number (or, for a
//     MAC, hardware UUID) contradicts the identity's;
//  3. machines matched by any other identifier are returned in Others;
//  4. only when no hardware identifier matched: with hardware identifiers,
//     the hostname may match a machine that has none (ByBareHostname);
//     without any, the hostname matches any machine (ByHostname).
func MatchIdentity(ctx context.Context, id Identity, find func(ctx context.Context, l Lookup) ([]string, error)) (Match, error) {
	var m Match
	seen := map[string]bool{}
	try := func(l Lookup) error {
		if l.Value == "" {
			return nil
		}
		ids, err := find(ctx, l)
		if err != nil {
			return err
		}
		for _, got := range ids {
			switch {
			case m.ID == "":
				m.ID, m.By = got, l.Kind
			case got != m.ID && !seen[got]:
				m.Others = append(m.Others, got)
			}
			seen[got] = true
		}
		return nil
	}
	hasSerial := len(id.Serials) > 0
	for _, sn := range id.Serials {
		if err := try(Lookup{Kind: BySerial, Value: sn}); err != nil {
			return Match{}, err
		}
	}
	if err := try(Lookup{Kind: ByUUID, Value: id.HardwareUUID, NoSerial: hasSerial}); err != nil {
		return Match{}, err
	}
	for _, mac := range id.MACs {
		if err := try(Lookup{Kind: ByMAC, Value: mac, NoSerial: hasSerial, NoUUID: id.HardwareUUID != ""}); err != nil {
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
	if err := try(Lookup{Kind: kind, Value: id.Hostname}); err != nil {
		return Match{}, err
	}
	m.Others = nil // several machines sharing a hostname is no conflict
	return m, nil
}

// MergeFunc fills m from the new source's data. match says how m was
// found: match.ID == "" for a new machine (zero but for ID and TenantID).
// It must not change m.ID or m.TenantID.
type MergeFunc func(m *Machine, match Match) error
