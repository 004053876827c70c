package store

import (
	"context"
	"fmt"
	"time"
)

// SSOSession is what the server keeps of a single sign-on admin page
// session so that it can ask the identity provider again, every few
// minutes, whether the user may still be signed in: the provider's grant
// (its refresh token, or its access token when it gave none), sealed by
// the caller, never stored in clear.
type SSOSession struct {
	ID        []byte    // the admin session's ID (a hash of its nonce), as in AdminSessionStore
	Grant     []byte    // sealed; at most MaxSSOGrant bytes
	CheckAt   time.Time // when the provider is next asked
	ExpiresAt time.Time // when the session ends anyway
}

// MaxSSOGrant bounds a sealed grant.
const MaxSSOGrant = 8 << 10

// SSOSessionStore keeps single sign-on sessions' grants, shared by replicas.
type SSOSessionStore interface {
	// PutSSOSession stores s, replacing a session with its ID, and forgets
	// sessions that expired before now.
	PutSSOSession(ctx context.Context, s SSOSession, now time.Time) error
	// GetSSOSession returns session id, or ErrNotFound.
	GetSSOSession(ctx context.Context, id []byte) (SSOSession, error)
	// ClaimSSOCheck moves session id's next check from due to next if it
	// is still due (no other request or replica claimed it since): it
	// reports whether this caller claimed it.
	ClaimSSOCheck(ctx context.Context, id []byte, due, next time.Time) (bool, error)
	// SetSSOGrant replaces session id's sealed grant (the provider rotated
	// its refresh token); ErrNotFound if the session is gone.
	SetSSOGrant(ctx context.Context, id, grant []byte) error
	// DeleteSSOSession forgets session id (signed out or ended); deleting
	// a missing session is not an error.
	DeleteSSOSession(ctx context.Context, id []byte) error
}

// CheckSSOSession validates s; the error wraps ErrInvalid.
func CheckSSOSession(s SSOSession) error {
	if err := CheckAdminSessionID(s.ID); err != nil {
		return err
	}
	if len(s.Grant) == 0 || len(s.Grant) > MaxSSOGrant {
		return fmt.Errorf("sso session grant of %d bytes: %w", len(s.Grant), ErrInvalid)
	}
	if s.CheckAt.IsZero() || s.ExpiresAt.IsZero() {
		return fmt.Errorf("sso session without check or expiry time: %w", ErrInvalid)
	}
	return nil
}
