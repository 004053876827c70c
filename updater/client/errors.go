package client

import (
	"errors"
	"fmt"
	"strings"

	"github.com/theupdateframework/go-tuf/v2/metadata"
)

// The error family of the self-update client (match with errors.Is). Every
// attack the client resists maps to one of them, and none leaves the
// installed binary changed.
var (
	// ErrBadSignature: TUF metadata or the artifact's minisign signature
	// does not verify against the trusted keys.
	ErrBadSignature = errors.New("update: bad signature")
	// ErrBadHash: the downloaded artifact differs from its TUF length or
	// hashes (arbitrary software).
	ErrBadHash = errors.New("update: artifact does not match signed hashes")
	// ErrRollback: older metadata, or an older version than installed,
	// was offered.
	ErrRollback = errors.New("update: rollback attempt")
	// ErrExpired: signed metadata has expired (indefinite freeze). The
	// installed version keeps running; report the condition.
	ErrExpired = errors.New("update: metadata expired")
	// ErrFreeze is ErrExpired under the name of the attack it detects.
	ErrFreeze = ErrExpired
	// ErrMixAndMatch: metadata files from different repository states
	// were combined.
	ErrMixAndMatch = errors.New("update: inconsistent metadata (mix-and-match)")
	// ErrTooLarge: metadata or an artifact exceeds its size bound
	// (endless data).
	ErrTooLarge = errors.New("update: too large")
	// ErrWrongTarget: the offered file is for another product, OS,
	// architecture or version, or is not a signed target at all.
	ErrWrongTarget = errors.New("update: wrong target")
	// ErrSelfCheck: the new binary failed its self-check; nothing was swapped.
	ErrSelfCheck = errors.New("update: new binary failed its self-check")
	// ErrUnhealthy: the new version did not report healthy in time and
	// was rolled back.
	ErrUnhealthy = errors.New("update: new version unhealthy, rolled back")
	// ErrRollbackFailed: restoring the previous binary failed; the
	// machine needs attention.
	ErrRollbackFailed = errors.New("update: rollback to the previous binary failed")
	// ErrServer: the update server answered with an error or garbage.
	ErrServer = errors.New("update: server error")
)

// classify maps go-tuf errors onto the family. mix reports whether the
// fetcher saw a metadata file whose version differs from the one its URL
// asked for (the signature of a mix-and-match).
func classify(err error, mix bool) error {
	if err == nil {
		return nil
	}
	var kind error
	switch {
	case errors.Is(err, ErrTooLarge), errors.Is(err, ErrServer):
		return err
	case errors.Is(err, &metadata.ErrExpiredMetadata{}):
		kind = ErrExpired
	case errors.Is(err, &metadata.ErrUnsignedMetadata{}):
		kind = ErrBadSignature
	case errors.Is(err, &metadata.ErrBadVersionNumber{}) && mix:
		kind = ErrMixAndMatch
	case errors.Is(err, &metadata.ErrBadVersionNumber{}):
		kind = ErrRollback
	case errors.Is(err, &metadata.ErrLengthOrHashMismatch{}):
		kind = ErrMixAndMatch
	case errors.Is(err, &metadata.ErrDownloadLengthMismatch{}):
		kind = ErrTooLarge
	case strings.Contains(err.Error(), "signature"):
		kind = ErrBadSignature
	default:
		return fmt.Errorf("update metadata: %w", err)
	}
	return fmt.Errorf("%w: %w", kind, err)
}
