package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"strings"

	"github.com/slipwayhq/slipway/server/store"
	"github.com/slipwayhq/slipway/server/store/sqlcol"
)

const machineCols = sqlcol.MachineColumns

// scanMachine and list are the codecs both SQL stores share.
var (
	scanMachine = sqlcol.ScanMachine
	list        = sqlcol.List
)

func insertMachine(ctx context.Context, tx *sql.Tx, m store.Machine) error {
	u := agentUpdateOf(m.Inventory)
	_, err := tx.ExecContext(ctx, "INSERT INTO machines ("+machineCols+`, update_result, update_version, update_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		m.ID, m.TenantID, m.Fingerprint, m.Hostname, m.OS.Name, m.OS.Version, m.OS.Architecture,
		list(m.MACAddresses), list(m.SerialNumbers), m.HardwareUUID, m.Source, nullJSON(m.Fleet),
		m.AgentVersion, m.Status, nullJSON(m.Inventory), nullJSON(m.Metrics),
		ms(m.LastSeenAt), ms(m.CreatedAt), ms(m.UpdatedAt), u.result, u.version, u.at)
	if err != nil {
		return err
	}
	return writeSerials(ctx, tx, m)
}

// writeSerials keeps the serial and MAC indexes in step with the machine.
func writeSerials(ctx context.Context, tx *sql.Tx, m store.Machine) error {
	for _, idx := range []struct {
		table, col string
		values     []string
	}{{"machine_serials", "serial", m.SerialNumbers}, {"machine_macs", "mac", m.MACAddresses}} {
		if _, err := tx.ExecContext(ctx, "DELETE FROM "+idx.table+" WHERE machine_id = ?", m.ID); err != nil {
			return err
		}
		for _, v := range idx.values {
			if _, err := tx.ExecContext(ctx, "INSERT OR IGNORE INTO "+idx.table+" (tenant_id, "+idx.col+
				", machine_id) VALUES (?, ?, ?)", m.TenantID, v, m.ID); err != nil {
				return err
			}
		}
	}
	return nil
}

func updateDescriptive(ctx context.Context, tx *sql.Tx, m store.Machine) (int64, error) {
	res, err := tx.ExecContext(ctx, `UPDATE machines SET hostname = ?, os_name = ?, os_version = ?, os_arch = ?,
		macs = ?, serials = ?, hardware_uuid = ?, fleet = ?, updated_at = ? WHERE id = ?`,
		m.Hostname, m.OS.Name, m.OS.Version, m.OS.Architecture, list(m.MACAddresses), list(m.SerialNumbers),
		m.HardwareUUID, nullJSON(m.Fleet), ms(m.UpdatedAt), m.ID)
	if err != nil {
		return 0, err
	}
	n, _ := res.RowsAffected()
	if n > 0 {
		err = writeSerials(ctx, tx, m)
	}
	return n, err
}

// RegisterMachine inserts or refreshes a machine by fingerprint (or adopts
// the inventory-only machine with its hardware identifiers) and gives it tok.
func (s *Store) RegisterMachine(ctx context.Context, m store.Machine, tok store.Token) (store.Machine, bool, error) {
	s.settle()
	var out store.Machine
	created := false
	err := s.tx(ctx, func(tx *sql.Tx) error {
		existing, err := scanMachine(tx.QueryRowContext(ctx, "SELECT "+machineCols+
			" FROM machines WHERE tenant_id = ? AND fingerprint = ? AND fingerprint <> ''", m.TenantID, m.Fingerprint))
		if err == sql.ErrNoRows {
			existing, err = adopt(ctx, tx, m)
		}
		switch {
		case err == sql.ErrNoRows:
			if err := insertMachine(ctx, tx, m); err != nil {
				return err
			}
			out, created = m, true
		case err != nil:
			return err
		default:
			existing.Hostname, existing.OS, existing.HardwareUUID = m.Hostname, m.OS, m.HardwareUUID
			existing.MACAddresses, existing.SerialNumbers, existing.UpdatedAt = m.MACAddresses, m.SerialNumbers, m.UpdatedAt
			if _, err := updateDescriptive(ctx, tx, existing); err != nil {
				return err
			}
			if m.Inventory != nil {
				existing.Inventory = m.Inventory
				u := agentUpdateOf(m.Inventory)
				if _, err := tx.ExecContext(ctx, `UPDATE machines SET inventory = ?2,
					update_result = CASE WHEN ?3 THEN ?4 ELSE update_result END,
					update_version = CASE WHEN ?3 THEN ?5 ELSE update_version END,
					update_at = CASE WHEN ?3 THEN ?6 ELSE update_at END WHERE id = ?1`,
					existing.ID, nullJSON(m.Inventory), u.known, u.result, u.version, u.at); err != nil {
					return err
				}
			}
			out = existing
		}
		tok.MachineID, tok.TenantID = out.ID, out.TenantID
		return replaceToken(ctx, tx, tok, true)
	})
	if out.ID != "" {
		s.tokens.forget(out.ID)
	}
	return out, created, wrap("register machine", err)
}

// CreateMachine inserts a machine without a token.
func (s *Store) CreateMachine(ctx context.Context, m store.Machine) error {
	return wrap("create machine", s.tx(ctx, func(tx *sql.Tx) error { return insertMachine(ctx, tx, m) }))
}

// GetMachine reads one machine.
func (s *Store) GetMachine(ctx context.Context, id string) (store.Machine, error) {
	s.settle()
	m, err := scanMachine(s.r.QueryRowContext(ctx, "SELECT "+machineCols+" FROM machines WHERE id = ?", id))
	return m, wrap("get machine", err)
}

// FindMachine matches a machine of the tenant by one identifier.
func (s *Store) FindMachine(ctx context.Context, tenantID string, kind store.IdentifierKind, value string) (store.Machine, error) {
	s.settle()
	q, err := sqlcol.MatchIDs(store.Lookup{Kind: kind}, false)
	if err != nil {
		return store.Machine{}, fmt.Errorf("sqlite: find machine: %w", err)
	}
	if value == "" {
		return store.Machine{}, wrap("find machine", sql.ErrNoRows)
	}
	m, err := scanMachine(s.r.QueryRowContext(ctx, "SELECT "+machineCols+" FROM machines WHERE id IN ("+q+") ORDER BY created_at, id LIMIT 1",
		tenantID, value))
	return m, wrap("find machine", err)
}

// UpdateMachine writes a machine's descriptive fields.
func (s *Store) UpdateMachine(ctx context.Context, m store.Machine) error {
	s.settle()
	err := s.tx(ctx, func(tx *sql.Tx) error {
		n, err := updateDescriptive(ctx, tx, m)
		if err == nil && n == 0 {
			err = sql.ErrNoRows
		}
		return err
	})
	return wrap("update machine", err)
}

// ListMachines lists machines matching f, ordered by ID.
func (s *Store) ListMachines(ctx context.Context, f store.MachineFilter) ([]store.Machine, error) {
	s.settle()
	var where []string
	var args []any
	add := func(cond string, a ...any) { where = append(where, cond); args = append(args, a...) }
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
		add(`(lower(hostname) LIKE ? ESCAPE '\' OR lower(id) LIKE ? ESCAPE '\' OR lower(serials) LIKE ? ESCAPE '\'
			OR lower(os_name) LIKE ? ESCAPE '\' OR lower(os_version) LIKE ? ESCAPE '\')`, like, like, like, like, like)
	}
	limit := f.Limit
	if limit <= 0 || limit > 500 {
		limit = 500
	}
	q := "SELECT " + machineCols + " FROM machines WHERE " + strings.Join(where, " AND ") +
		" ORDER BY id LIMIT " + fmt.Sprint(limit)
	rows, err := s.r.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, wrap("list machines", err)
	}
	defer rows.Close()
	var out []store.Machine
	for rows.Next() {
		m, err := scanMachine(rows)
		if err != nil {
			return nil, wrap("list machines", err)
		}
		out = append(out, m)
	}
	return out, wrap("list machines", rows.Err())
}

// DeleteMachine removes a machine and everything that belongs to it.
func (s *Store) DeleteMachine(ctx context.Context, id string) error {
	res, err := s.w.ExecContext(ctx, "DELETE FROM machines WHERE id = ?", id)
	s.tokens.forget(id)
	if err != nil {
		return wrap("delete machine", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return wrap("delete machine", sql.ErrNoRows)
	}
	return nil
}
