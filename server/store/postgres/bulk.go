package postgres

import (
	"context"
	"errors"

	"github.com/jackc/pgx/v5"

	"github.com/slipwayhq/slipway/server/store"
)

// BulkRegister inserts new machines, each with its token (toks[i] belongs to
// ms[i]), with COPY in one transaction. It is for imports and benchmark
// seeding; it does not deduplicate by fingerprint.
func (s *Store) BulkRegister(ctx context.Context, machinesIn []store.Machine, toks []store.Token) error {
	if len(machinesIn) != len(toks) {
		return errors.New("postgres: bulk register: machines and tokens differ in length")
	}
	machines := make([][]any, len(machinesIn))
	serials := make([][]any, 0, len(machinesIn))
	var macs [][]any
	tokens := make([][]any, len(machinesIn))
	for i, m := range machinesIn {
		u := updateOf(m.Inventory)
		machines[i] = []any{m.ID, m.TenantID, m.Fingerprint, m.Hostname, m.OS.Name, m.OS.Version, m.OS.Architecture,
			list(m.MACAddresses), list(m.SerialNumbers), m.HardwareUUID, m.Source, nullJSON(m.Fleet),
			m.AgentVersion, m.Status, nullJSON(m.Inventory), nullJSON(m.Metrics),
			ms(m.LastSeenAt), ms(m.CreatedAt), ms(m.UpdatedAt), u.Result, u.Version, u.At}
		seen := map[string]bool{}
		for _, sn := range m.SerialNumbers {
			if !seen[sn] {
				seen[sn] = true
				serials = append(serials, []any{m.TenantID, sn, m.ID})
			}
		}
		clear(seen)
		for _, mac := range m.MACAddresses {
			if !seen[mac] {
				seen[mac] = true
				macs = append(macs, []any{m.TenantID, mac, m.ID})
			}
		}
		t := toks[i]
		tokens[i] = []any{t.Hash, m.ID, m.TenantID, store.ClientOf(t), ms(t.CreatedAt), ms(t.ExpiresAt), ms(t.RevokedAt)}
	}
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		cols := []string{"id", "tenant_id", "fingerprint", "hostname", "os_name", "os_version", "os_arch", "macs", "serials",
			"hardware_uuid", "source", "fleet", "agent_version", "status", "inventory", "metrics", "last_seen_at",
			"created_at", "updated_at", "update_result", "update_version", "update_at"}
		if _, err := tx.CopyFrom(ctx, pgx.Identifier{"machines"}, cols, pgx.CopyFromRows(machines)); err != nil {
			return err
		}
		if _, err := tx.CopyFrom(ctx, pgx.Identifier{"machine_serials"}, []string{"tenant_id", "serial", "machine_id"},
			pgx.CopyFromRows(serials)); err != nil {
			return err
		}
		if _, err := tx.CopyFrom(ctx, pgx.Identifier{"machine_macs"}, []string{"tenant_id", "mac", "machine_id"},
			pgx.CopyFromRows(macs)); err != nil {
			return err
		}
		_, err := tx.CopyFrom(ctx, pgx.Identifier{"tokens"},
			[]string{"hash", "machine_id", "tenant_id", "client", "created_at", "expires_at", "revoked_at"}, pgx.CopyFromRows(tokens))
		return err
	})
	if err == nil {
		// Fresh statistics, so the planner uses the indexes right away.
		_, err = s.pool.Exec(ctx, "ANALYZE machines, machine_serials, machine_macs, tokens")
	}
	return wrap("bulk register", err)
}
