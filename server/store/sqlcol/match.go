package sqlcol

import (
	"context"
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

// MergeOps are one store's operations inside the transaction of a
// MergeMachine.
type MergeOps struct {
	Find   func(ctx context.Context, l store.Lookup) ([]string, error)
	Get    func(ctx context.Context, id string) (store.Machine, error) // locked for update where the store can
	Insert func(ctx context.Context, m store.Machine) error
	// Update writes the descriptive fields, and Source when it changed.
	Update func(ctx context.Context, m store.Machine, sourceChanged bool) error
}

// Merge is MergeMachine's logic over a store's operations (see
// store.MachineStore.MergeMachine).
func Merge(ctx context.Context, tenantID, newID string, id store.Identity, merge store.MergeFunc, ops MergeOps) (store.Machine, store.Match, error) {
	match, err := store.MatchIdentity(ctx, id, ops.Find)
	if err != nil {
		return store.Machine{}, match, err
	}
	if match.ID == "" {
		m := store.Machine{ID: newID, TenantID: tenantID}
		if err := merge(&m, match); err != nil {
			return store.Machine{}, match, err
		}
		m.ID, m.TenantID = newID, tenantID
		return m, match, ops.Insert(ctx, m)
	}
	m, err := ops.Get(ctx, match.ID)
	if err != nil {
		return store.Machine{}, match, err
	}
	source := m.Source
	if err := merge(&m, match); err != nil {
		return store.Machine{}, match, err
	}
	m.ID, m.TenantID = match.ID, tenantID
	return m, match, ops.Update(ctx, m, m.Source != source)
}
