package postgres

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/slipwayhq/slipway/server/store"
	"github.com/slipwayhq/slipway/server/store/sqlcol"
)

const machineCols = sqlcol.MachineColumns

// scanMachine and list are the codecs both SQL stores share.
var (
	scanMachine = sqlcol.ScanMachine
	list        = sqlcol.List
)

func insertMachine(ctx context.Context, tx pgx.Tx, m store.Machine, onConflictNothing bool) (bool, error) {
	u := updateOf(m.Inventory)
	q := "INSERT INTO machines (" + machineCols + `, update_result, update_version, update_at) VALUES
		($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22)`
	if onConflictNothing {
		q += " ON CONFLICT (tenant_id, fingerprint) WHERE fingerprint <> '' DO NOTHING"
	}
	tag, err := tx.Exec(ctx, q,
		m.ID, m.TenantID, m.Fingerprint, m.Hostname, m.OS.Name, m.OS.Version, m.OS.Architecture,
		list(m.MACAddresses), list(m.SerialNumbers), m.HardwareUUID, m.Source, nullJSON(m.Fleet),
		m.AgentVersion, m.Status, nullJSON(m.Inventory), nullJSON(m.Metrics),
		ms(m.LastSeenAt), ms(m.CreatedAt), ms(m.UpdatedAt), u.Result, u.Version, u.At)
	if err != nil || tag.RowsAffected() == 0 {
		return false, err
	}
	return true, writeSerials(ctx, tx, m)
}

// writeSerials keeps the serial and MAC indexes in step with the machine.
func writeSerials(ctx context.Context, tx pgx.Tx, m store.Machine) error {
	for _, idx := range []struct {
		table, col string
		values     []string
	}{{"machine_serials", "serial", m.SerialNumbers}, {"machine_macs", "mac", m.MACAddresses}} {
		if _, err := tx.Exec(ctx, "DELETE FROM "+idx.table+" WHERE machine_id = $1", m.ID); err != nil {
			return err
		}
		if len(idx.values) == 0 {
			continue
		}
		if _, err := tx.Exec(ctx, "INSERT INTO "+idx.table+" (tenant_id, "+idx.col+`, machine_id)
			SELECT $1, v, $3 FROM unnest($2::text[]) AS v ON CONFLICT DO NOTHING`, m.TenantID, idx.values, m.ID); err != nil {
			return err
		}
	}
	return nil
}

func updateDescriptive(ctx context.Context, tx pgx.Tx, m store.Machine) (int64, error) {
	tag, err := tx.Exec(ctx, `UPDATE machines SET hostname = $1, os_name = $2, os_version = $3, os_arch = $4,
		macs = $5, serials = $6, hardware_uuid = $7, fleet = $8, updated_at = $9 WHERE id = $10`,
		m.Hostname, m.OS.Name, m.OS.Version, m.OS.Architecture, list(m.MACAddresses), list(m.SerialNumbers),
		m.HardwareUUID, nullJSON(m.Fleet), ms(m.UpdatedAt), m.ID)
	if err != nil {
		return 0, err
	}
	n := tag.RowsAffected()
	if n > 0 {
		err = writeSerials(ctx, tx, m)
	}
	return n, err
}

// RegisterMachine inserts or refreshes a machine by fingerprint (or adopts
// the inventory-only machine with its hardware identifiers) and gives it
// tok. Two replicas registering the same hardware at once end with one
// machine: the loser of the insert race refreshes the winner's row.
func (s *Store) RegisterMachine(ctx context.Context, m store.Machine, tok store.Token) (store.Machine, bool, error) {
	var out store.Machine
	created := false
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		out, created = store.Machine{}, false
		existing, err := s.lockByFingerprint(ctx, tx, m)
		if errors.Is(err, pgx.ErrNoRows) && m.Fingerprint != "" {
			// New hardware: serialise with MergeMachine, look again (a
			// replica may have just inserted it), then adopt a Fleet row.
			if err = lockIdentities(ctx, tx, m.TenantID); err != nil {
				return err
			}
			if existing, err = s.lockByFingerprint(ctx, tx, m); errors.Is(err, pgx.ErrNoRows) {
				existing, err = adopt(ctx, tx, m)
			}
		}
		if errors.Is(err, pgx.ErrNoRows) {
			ins, err := insertMachine(ctx, tx, m, m.Fingerprint != "")
			if err != nil {
				return err
			}
			if ins {
				out, created = m, true
			} else if existing, err = s.lockByFingerprint(ctx, tx, m); err != nil {
				return err
			}
		} else if err != nil {
			return err
		}
		if !created {
			if out, err = refresh(ctx, tx, existing, m); err != nil {
				return err
			}
		}
		tok.MachineID, tok.TenantID = out.ID, out.TenantID
		return replaceToken(ctx, tx, tok, true)
	})
	return out, created, wrap("register machine", err)
}

func (s *Store) lockByFingerprint(ctx context.Context, tx pgx.Tx, m store.Machine) (store.Machine, error) {
	if m.Fingerprint == "" {
		return store.Machine{}, pgx.ErrNoRows
	}
	return scanMachine(tx.QueryRow(ctx, "SELECT "+machineCols+
		" FROM machines WHERE tenant_id = $1 AND fingerprint = $2 AND fingerprint <> '' FOR UPDATE", m.TenantID, m.Fingerprint))
}

// refresh writes m's descriptive fields (and inventory, if any) onto existing.
func refresh(ctx context.Context, tx pgx.Tx, existing, m store.Machine) (store.Machine, error) {
	existing.Hostname, existing.OS, existing.HardwareUUID = m.Hostname, m.OS, m.HardwareUUID
	existing.MACAddresses, existing.SerialNumbers, existing.UpdatedAt = m.MACAddresses, m.SerialNumbers, m.UpdatedAt
	if _, err := updateDescriptive(ctx, tx, existing); err != nil {
		return existing, err
	}
	if m.Inventory != nil {
		existing.Inventory = m.Inventory
		u := updateOf(m.Inventory)
		if _, err := tx.Exec(ctx, `UPDATE machines SET inventory = $1,
			update_result = CASE WHEN $3 THEN $4 ELSE update_result END,
			update_version = CASE WHEN $3 THEN $5 ELSE update_version END,
			update_at = CASE WHEN $3 THEN $6 ELSE update_at END WHERE id = $2`,
			nullJSON(m.Inventory), existing.ID, u.Known, u.Result, u.Version, u.At); err != nil {
			return existing, err
		}
	}
	return existing, nil
}

// CreateMachine inserts a machine without a token.
func (s *Store) CreateMachine(ctx context.Context, m store.Machine) error {
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		_, err := insertMachine(ctx, tx, m, false)
		return err
	})
	return wrap("create machine", err)
}

// GetMachine reads one machine.
func (s *Store) GetMachine(ctx context.Context, id string) (store.Machine, error) {
	m, err := scanMachine(s.pool.QueryRow(ctx, "SELECT "+machineCols+" FROM machines WHERE id = $1", id))
	return m, wrap("get machine", err)
}

// FindMachine matches a machine of the tenant by one identifier.
func (s *Store) FindMachine(ctx context.Context, tenantID string, kind store.IdentifierKind, value string) (store.Machine, error) {
	q, err := matchIDs(store.Lookup{Kind: kind}, false)
	if err != nil {
		return store.Machine{}, fmt.Errorf("postgres: find machine: %w", err)
	}
	if value == "" {
		return store.Machine{}, wrap("find machine", pgx.ErrNoRows)
	}
	m, err := scanMachine(s.pool.QueryRow(ctx, "SELECT "+machineCols+" FROM machines WHERE id IN ("+q+
		") ORDER BY created_at, id LIMIT 1", tenantID, value))
	return m, wrap("find machine", err)
}

// UpdateMachine writes a machine's descriptive fields.
func (s *Store) UpdateMachine(ctx context.Context, m store.Machine) error {
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		n, err := updateDescriptive(ctx, tx, m)
		if err == nil && n == 0 {
			err = pgx.ErrNoRows
		}
		return err
	})
	return wrap("update machine", err)
}

// ListMachines lists machines matching f, ordered by ID.
func (s *Store) ListMachines(ctx context.Context, f store.MachineFilter) ([]store.Machine, error) {
	var where []string
	var args []any
	add := func(cond string, a any) {
		args = append(args, a)
		where = append(where, strings.ReplaceAll(cond, "?", fmt.Sprintf("$%d", len(args))))
	}
	add("id > ?", f.After)
	if f.TenantID != "" {
		add("tenant_id = ?", f.TenantID)
	}
	if f.OSName != "" {
		add("lower(os_name) = lower(?)", f.OSName)
	}
	if f.AgentVersion != "" {
		add("agent_version = ?", f.AgentVersion)
	}
	if !f.SeenAfter.IsZero() {
		add("last_seen_at > ?", ms(f.SeenAfter))
	}
	if !f.SeenBefore.IsZero() {
		add("last_seen_at <= ?", ms(f.SeenBefore))
	}
	if f.Query != "" {
		like := "%" + strings.NewReplacer(`\`, `\\`, "%", `\%`, "_", `\_`).Replace(strings.ToLower(f.Query)) + "%"
		add(`(lower(hostname) LIKE ? OR lower(id) LIKE ? OR lower(serials) LIKE ?
			OR lower(os_name) LIKE ? OR lower(os_version) LIKE ?)`, like)
	}
	limit := f.Limit
	if limit <= 0 || limit > 500 {
		limit = 500
	}
	q := "SELECT " + machineCols + " FROM machines WHERE " + strings.Join(where, " AND ") +
		" ORDER BY id LIMIT " + fmt.Sprint(limit)
	rows, _ := s.pool.Query(ctx, q, args...)
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (store.Machine, error) { return scanMachine(row) })
	return out, wrap("list machines", err)
}

// DeleteMachine removes a machine and everything that belongs to it.
// Tokens and serials go by foreign-key cascade; the heartbeat history has
// no foreign key (migration 0003), so it is deleted here, after the machine
// row: that DELETE waits for a heartbeat batch holding the row, and the
// second statement's snapshot then sees the batch's history rows, while
// later batches find no machine to join and insert nothing.
func (s *Store) DeleteMachine(ctx context.Context, id string) error {
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, "DELETE FROM machines WHERE id = $1", id)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return pgx.ErrNoRows
		}
		_, err = tx.Exec(ctx, "DELETE FROM heartbeats WHERE machine_id = $1", id)
		return err
	})
	return wrap("delete machine", err)
}
