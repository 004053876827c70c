package store

import (
	"context"
	"fmt"
	"time"
)

// RolloutGateStore keeps the rollout gate controller's state per product
// and channel (updater/gate) as an opaque JSON document with a revision.
// SaveRolloutGate is a compare-and-swap on that revision, so with several
// server replicas exactly one of them records each decision. SQLite and
// PostgreSQL implement it.
type RolloutGateStore interface {
	// LoadRolloutGate returns the state and its revision; nil, 0 when
	// none was saved.
	LoadRolloutGate(ctx context.Context, product, channel string) (state []byte, rev int64, err error)
	// SaveRolloutGate stores state as revision rev+1 if the stored
	// revision is still rev (0: none stored yet); ok is false otherwise.
	SaveRolloutGate(ctx context.Context, product, channel string, rev int64, state []byte, at time.Time) (ok bool, err error)
}

// MaxRolloutGateState bounds a stored state document.
const MaxRolloutGateState = 64 << 10

// CheckRolloutGate validates a save; the error wraps ErrInvalid.
func CheckRolloutGate(product, channel string, rev int64, state []byte) error {
	switch {
	case product == "" || len(product) > 64 || channel == "" || len(channel) > 64:
		return fmt.Errorf("rollout gate: product and channel must be 1..64 bytes: %w", ErrInvalid)
	case rev < 0:
		return fmt.Errorf("rollout gate: negative revision: %w", ErrInvalid)
	case len(state) == 0 || len(state) > MaxRolloutGateState:
		return fmt.Errorf("rollout gate: state must be 1..%d bytes: %w", MaxRolloutGateState, ErrInvalid)
	}
	return nil
}
