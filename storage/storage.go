// Package storage is where releases live: an object store with two backends,
// the local filesystem (the embedded default) and S3-compatible storage.
package storage

import (
	"context"
	"io"
	"time"

	"github.com/slipwayhq/slipway/storage/object"
)

// ErrNotFound is returned when a key does not exist.
var ErrNotFound = object.ErrNotFound

// ErrInvalidKey is returned for a key that breaks the key rules (see ValidateKey).
var ErrInvalidKey = object.ErrInvalidKey

// ErrPrecondition is returned by PutIf when its condition does not hold.
var ErrPrecondition = object.ErrPrecondition

// Conditional is a Store that can write conditionally (every backend in
// this module: fs, s3; wrappers should pass it through). Writers that
// share keys (several servers and `slipway apply` re-signing TUF
// metadata) use it so that no write is lost to a concurrent one.
type Conditional interface {
	Store
	// PutIf writes data to key only if the object's current content is
	// prev, or, with prev nil, only if key does not exist, and fails with
	// ErrPrecondition otherwise. It is atomic with respect to other PutIf
	// calls on the same key (S3 If-Match / If-None-Match; an exclusive
	// lock file for the filesystem).
	PutIf(ctx context.Context, key string, data []byte, contentType string, prev []byte) error
}

// Info describes one stored object (Key, Size, ModTime, ETag, ContentType).
type Info = object.Info

// ValidateKey checks a key: slash-separated non-empty segments, no "." or
// "..", no backslash or control characters, at most 1024 bytes.
func ValidateKey(key string) error { return object.ValidateKey(key) }

// Store is an object store addressed by slash-separated keys such as
// "releases/agent/1.4.0/release.json". Every method rejects a bad key with
// ErrInvalidKey before touching storage. Open picks a backend from a spec.
type Store interface {
	// Put writes the object atomically: readers see the old object or the
	// whole new one, never a partial write. size is the exact length or -1
	// if unknown (S3 then buffers parts in memory); a cancelled context or a
	// short reader leaves no object behind.
	Put(ctx context.Context, key string, r io.Reader, size int64, contentType string) error
	// Get opens the object; the caller closes it. ErrNotFound if absent.
	Get(ctx context.Context, key string) (io.ReadCloser, Info, error)
	// Stat describes the object. ErrNotFound if absent.
	Stat(ctx context.Context, key string) (Info, error)
	// List returns every object whose key starts with prefix, sorted by key.
	List(ctx context.Context, prefix string) ([]Info, error)
	// Delete removes the object; deleting a missing key is not an error.
	Delete(ctx context.Context, key string) error
	// URL returns a URL a client can download the object from: a presigned
	// S3 URL valid for ttl, or a file:// URL for the local store.
	URL(ctx context.Context, key string, ttl time.Duration) (string, error)
}
