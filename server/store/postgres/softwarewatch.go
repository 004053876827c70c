package postgres

import (
	"context"
	"log/slog"
	"time"

	"github.com/slipwayhq/slipway/server/store"
)

// softwareChannel carries the machine ID of every committed agent list
// (pg_notify in ReplaceSoftware's transaction: delivered at commit, to
// every listening replica).
const softwareChannel = "slipway_software_lists"

var _ store.SoftwareListWatcher = (*Store)(nil)

// WatchSoftwareLists listens on softwareChannel on a connection of its own,
// reconnecting (after reset) when the connection is lost.
func (s *Store) WatchSoftwareLists(ctx context.Context, changed func(machineID string), reset func()) {
	backoff := 100 * time.Millisecond
	for ctx.Err() == nil {
		err := s.listen(ctx, changed, reset)
		if ctx.Err() != nil {
			return
		}
		// Changes may be missed until the next LISTEN.
		reset()
		slog.WarnContext(ctx, "software list notifications lost, listening again", "err", err, "in", backoff)
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 10*time.Second)
	}
}

func (s *Store) listen(ctx context.Context, changed func(machineID string), reset func()) error {
	pooled, err := s.pool.Acquire(ctx)
	if err != nil {
		return err
	}
	// Taken out of the pool for good (it holds the LISTEN), closed at the end.
	conn := pooled.Hijack()
	defer conn.Close(context.WithoutCancel(ctx))
	if _, err := conn.Exec(ctx, "LISTEN "+softwareChannel); err != nil {
		return err
	}
	reset() // anything committed before LISTEN was not seen
	for {
		n, err := conn.WaitForNotification(ctx)
		if err != nil {
			return err
		}
		changed(n.Payload)
	}
}
