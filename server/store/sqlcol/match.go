package sqlcol

import (
	"fmt"

	"github.com/slipwayhq/slipway/server/store"
)

// maxMatches bounds the machines one identifier may match.
const maxMatches = 16

// MatchIDs is the query returning the IDs of a tenant's machines with one
// identifier, oldest first. Its parameters are ?1 (tenant) and ?2 (value),
// which PostgreSQL callers rewrite to $1 and $2. With unregistered, only
// inventory-only machines (no fingerprint) match.
func MatchIDs(l store.Lookup, unregistered bool) (string, error) {
	var where string
	switch l.Kind {
	case store.BySerial:
		where = "id IN (SELECT machine_id FROM machine_serials WHERE tenant_id = ?1 AND serial = ?2)"
	case store.ByMAC:
		where = "id IN (SELECT machine_id FROM machine_macs WHERE tenant_id = ?1 AND mac = lower(?2))"
	case store.ByUUID:
		where = "lower(hardware_uuid) = lower(?2)"
	case store.ByHostname:
		where = "lower(hostname) = lower(?2)"
	case store.ByBareHostname:
		where = "lower(hostname) = lower(?2) AND serials = '[]' AND macs = '[]' AND hardware_uuid = ''"
	default:
		return "", fmt.Errorf("unknown identifier kind %q", l.Kind)
	}
	q := "SELECT id FROM machines WHERE tenant_id = ?1 AND " + where
	if l.NoSerial {
		q += " AND serials = '[]'"
	}
	if l.NoUUID {
		q += " AND hardware_uuid = ''"
	}
	if unregistered {
		q += " AND fingerprint = ''"
	}
	return q + fmt.Sprintf(" ORDER BY created_at, id LIMIT %d", maxMatches), nil
}

// IdentityOf is the identity a registering machine brings: its hardware
// identifiers, never its hostname.
func IdentityOf(m store.Machine) store.Identity {
	return store.Identity{Serials: m.SerialNumbers, HardwareUUID: m.HardwareUUID, MACs: m.MACAddresses}
}
