// Package storage is where releases live: an object store with two backends,
// the local filesystem (the embedded default) and S3-compatible storage.
package storage

import (
	"context"
	"errors"
	"io"
	"time"
)

// ErrNotFound is returned when a key does not exist.
var ErrNotFound = errors.New("object not found")

// Info describes one stored object.
type Info struct {
	Key     string
	Size    int64
	ModTime time.Time
	ETag    string
}

// Store is an object store addressed by slash-separated keys such as
// "releases/agent/1.4.0/release.json".
type Store interface {
	// Put writes the object atomically: readers see the old object or the
	// whole new one, never a partial write.
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
