package repo

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/theupdateframework/go-tuf/v2/metadata"
)

// ExpiryWarning is how long before an offline role (root, targets)
// expires that it needs attention: the server logs it, the admin page
// shows it and `slipway tuf status --check` fails. Online roles warn
// when a quarter of their lifetime is left (the server re-signs them at
// half), which only happens when the server is not refreshing them.
const ExpiryWarning = 30 * 24 * time.Hour

// RoleStatus is the current version and expiry of one TUF role.
type RoleStatus struct {
	Role    string    `json:"role"` // root, targets, snapshot, timestamp
	Version int64     `json:"version"`
	Expires time.Time `json:"expires"`
	// Online: the server's online key signs this role and re-signs it
	// on its own; offline roles need `slipway tuf refresh`.
	Online bool `json:"online"`
	// Lifetime is the role's configured lifetime when re-signed.
	Lifetime time.Duration `json:"-"`
}

// Warn reports whether the role expires soon enough to need attention.
func (s RoleStatus) Warn(now time.Time) bool {
	return s.Left(now) < min(ExpiryWarning, s.Lifetime/4)
}

// Left is the time until the role expires (negative once expired).
func (s RoleStatus) Left(now time.Time) time.Duration { return s.Expires.Sub(now) }

// Status lists every role's version and expiry, root first.
func (r *Repo) Status() []RoleStatus {
	return []RoleStatus{
		{metadata.ROOT, r.Root.Signed.Version, r.Root.Signed.Expires, false, r.opts.RootExpiry},
		{metadata.TARGETS, r.Targets.Signed.Version, r.Targets.Signed.Expires, false, r.opts.TargetsExpiry},
		{metadata.SNAPSHOT, r.Snapshot.Signed.Version, r.Snapshot.Signed.Expires, true, r.opts.SnapshotExpiry},
		{metadata.TIMESTAMP, r.Timestamp.Signed.Version, r.Timestamp.Signed.Expires, true, r.opts.TimestampExpiry},
	}
}

// RefreshOffline re-signs the roles the offline keys sign (root, targets)
// when they expire within `within`, with the keys given (re-signed
// targets are followed by a new snapshot and timestamp, with the online
// key; the server keeps those two fresh on its own otherwise). It returns the roles it
// re-signed. A role that is due but whose key is missing is an error
// (ErrNoKey) after everything else due was refreshed, so a scheduled job
// fails loudly instead of letting the fleet's metadata expire.
func (r *Repo) RefreshOffline(ctx context.Context, keys *Keys, now time.Time, within time.Duration) ([]string, error) {
	due := func(exp time.Time) bool { return !now.Add(within).Before(exp) }
	var done []string
	var missing []error
	if due(r.Root.Signed.Expires) {
		if err := r.resignRoot(ctx, keys.Root, now); errors.Is(err, ErrNoKey) {
			missing = append(missing, err)
		} else if err != nil {
			return done, err
		} else {
			done = append(done, metadata.ROOT)
		}
	}
	if due(r.Targets.Signed.Expires) {
		if keys.Targets == nil || keys.Online == nil {
			missing = append(missing, fmt.Errorf("re-sign targets: %w (targets and online keys)", ErrNoKey))
		} else {
			if err := r.publish(ctx, keys, now, true); err != nil {
				return done, err
			}
			done = append(done, metadata.TARGETS, metadata.SNAPSHOT, metadata.TIMESTAMP)
		}
	}
	return done, errors.Join(missing...)
}

// resignRoot writes root version N+1 with the same keys and a new expiry,
// signed by the root keys given (at least the root threshold of the
// current root's keys).
func (r *Repo) resignRoot(ctx context.Context, rootKeys []*Signer, now time.Time) error {
	role := r.Root.Signed.Roles[metadata.ROOT]
	trusted := map[string]bool{}
	for _, id := range role.KeyIDs {
		trusted[id] = true
	}
	var signers []*Signer
	for _, k := range rootKeys {
		if trusted[k.ID] {
			signers = append(signers, k)
		}
	}
	if len(signers) < role.Threshold {
		return fmt.Errorf("re-sign root: %w (%d of the %d root keys needed)", ErrNoKey, len(signers), role.Threshold)
	}
	root := r.Root
	root.Signed.Version++
	root.Signed.Expires = now.Add(r.opts.RootExpiry).UTC()
	root.ClearSignatures()
	for _, s := range signers {
		if _, err := root.Sign(s); err != nil {
			return fmt.Errorf("sign root: %w", err)
		}
	}
	return r.putRoot(ctx)
}

// CanSign reports whether s is a key the current root trusts for role.
func (r *Repo) CanSign(s *Signer, role string) bool {
	if s == nil {
		return false
	}
	rl, ok := r.Root.Signed.Roles[role]
	if !ok {
		return false
	}
	for _, id := range rl.KeyIDs {
		if id == s.ID {
			return true
		}
	}
	return false
}
