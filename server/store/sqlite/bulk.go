package sqlite

import (
	"context"
	"database/sql"
	"errors"

	"github.com/slipwayhq/slipway/server/store"
)

// BulkRegister inserts new machines, each with its token (toks[i] belongs to
// ms[i]), in one transaction. It is for imports and benchmark seeding; it
// does not deduplicate by fingerprint.
func (s *Store) BulkRegister(ctx context.Context, ms []store.Machine, toks []store.Token) error {
	if len(ms) != len(toks) {
		return errors.New("sqlite: bulk register: machines and tokens differ in length")
	}
	err := s.tx(ctx, func(tx *sql.Tx) error {
		for i, m := range ms {
			if err := insertMachine(ctx, tx, m); err != nil {
				return err
			}
			tok := toks[i]
			tok.MachineID, tok.TenantID = m.ID, m.TenantID
			if err := replaceToken(ctx, tx, tok, false); err != nil {
				return err
			}
		}
		return nil
	})
	for _, m := range ms {
		s.tokens.forget(m.ID)
	}
	return wrap("bulk register", err)
}
