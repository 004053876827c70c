// Package sqlcol is how the SQL stores (SQLite and PostgreSQL) encode a
// machine into columns: times as Unix milliseconds, lists and free-form
// objects as JSON text. Both stores share one schema shape, so they share
// these codecs and the machine row scanner.
package sqlcol

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/slipwayhq/slipway/server/store"
)

// Scanner is a row: *sql.Row, *sql.Rows, pgx.Row or pgx.Rows.
type Scanner interface{ Scan(dest ...any) error }

// Millis converts a time to stored milliseconds (0 for the zero time).
func Millis(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMilli()
}

// Time converts stored milliseconds back (0 is the zero time).
func Time(v int64) time.Time {
	if v == 0 {
		return time.Time{}
	}
	return time.UnixMilli(v).UTC()
}

// List encodes a string list as a JSON array ("[]" for nil).
func List(v []string) string {
	if v == nil {
		v = []string{}
	}
	b, _ := json.Marshal(v)
	return string(b)
}

// RawJSON reads a nullable JSON column (nil for NULL or "").
func RawJSON(v *string) []byte {
	if v == nil || *v == "" {
		return nil
	}
	return []byte(*v)
}

// MachineColumns lists the machine columns ScanMachine reads, in order.
const MachineColumns = `id, tenant_id, fingerprint, hostname, os_name, os_version, os_arch, macs, serials,
	hardware_uuid, source, fleet, agent_version, status, inventory, metrics, last_seen_at, created_at, updated_at`

// ScanMachine reads one row of MachineColumns.
func ScanMachine(row Scanner) (store.Machine, error) {
	var m store.Machine
	var macs, serials string
	var fleet, inv, metrics *string
	var seen, created, updated int64
	err := row.Scan(&m.ID, &m.TenantID, &m.Fingerprint, &m.Hostname, &m.OS.Name, &m.OS.Version, &m.OS.Architecture,
		&macs, &serials, &m.HardwareUUID, &m.Source, &fleet, &m.AgentVersion, &m.Status, &inv, &metrics,
		&seen, &created, &updated)
	if err != nil {
		return m, err
	}
	if err := json.Unmarshal([]byte(macs), &m.MACAddresses); err != nil {
		return m, fmt.Errorf("macs: %w", err)
	}
	if err := json.Unmarshal([]byte(serials), &m.SerialNumbers); err != nil {
		return m, fmt.Errorf("serials: %w", err)
	}
	m.Fleet, m.Inventory, m.Metrics = RawJSON(fleet), RawJSON(inv), RawJSON(metrics)
	m.LastSeenAt, m.CreatedAt, m.UpdatedAt = Time(seen), Time(created), Time(updated)
	return m, nil
}

// AuditColumns lists the audit log columns ScanAudit reads, in order.
const AuditColumns = "id, at, tenant_id, actor_id, actor_name, action, target, detail, result"

// ScanAudit reads one row of AuditColumns.
func ScanAudit(row Scanner) (store.AuditEntry, error) {
	var e store.AuditEntry
	var at int64
	err := row.Scan(&e.ID, &at, &e.TenantID, &e.ActorID, &e.ActorName, &e.Action, &e.Target, &e.Detail, &e.Result)
	e.At = Time(at)
	return e, err
}

// ListAuditSQL builds the query of one ListAudit page (newest first, on
// the table audit_log) for q, already validated; param renders the n-th
// placeholder ("?" or "$n"). The tenant filter and the cursor use the
// (tenant_id, id) index, walked backwards.
func ListAuditSQL(q store.AuditQuery, param func(n int) string) (string, []any) {
	var where []string
	var args []any
	add := func(cond string, a any) {
		args = append(args, a)
		where = append(where, cond+param(len(args)))
	}
	if q.TenantID != "" {
		add("tenant_id = ", q.TenantID)
	}
	if q.Action != "" {
		add("action = ", q.Action)
	}
	if q.Failed {
		add("result <> ", store.AuditOK)
	}
	if q.Before > 0 {
		add("id < ", q.Before)
	}
	sql := "SELECT " + AuditColumns + " FROM audit_log"
	if len(where) > 0 {
		sql += " WHERE " + strings.Join(where, " AND ")
	}
	return sql + fmt.Sprintf(" ORDER BY id DESC LIMIT %d", q.PageLimit()), args
}
