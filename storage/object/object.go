// Package object holds what every storage backend shares: the description of
// a stored object, the errors, and the rules for valid keys. It has no
// dependencies so that the backends (storage/fs, storage/s3) and the storage
// package, which opens them, can all import it without a cycle. Users should
// use the aliases in package storage.
package object

import (
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"
)

// ErrNotFound is returned when a key does not exist.
var ErrNotFound = errors.New("object not found")

// ErrInvalidKey is returned for a key or prefix that breaks the key rules.
var ErrInvalidKey = errors.New("invalid object key")

// ErrPrecondition is returned by a conditional write whose condition did
// not hold: the key exists (create-only) or changed since it was read.
var ErrPrecondition = errors.New("object precondition failed")

// Info describes one stored object.
type Info struct {
	Key     string
	Size    int64
	ModTime time.Time
	// ETag changes whenever the object is rewritten. Its form is backend
	// specific: quoted-free S3 ETag (MD5 for single-part uploads) or, for the
	// filesystem, "<mtime-ns-hex>-<size-hex>".
	ETag string
	// ContentType as stored (S3) or derived from the key's extension (fs).
	ContentType string
}

// MaxKeyLen is the longest key accepted, in bytes (S3's own limit, which a
// backend's prefix counts against).
const MaxKeyLen = 1024

// MaxSegmentLen is the longest slash-separated segment, in bytes (the usual
// filesystem NAME_MAX).
const MaxSegmentLen = 255

// ValidateKey checks a key: slash-separated, non-empty segments, no "." or
// "..", no backslash, no control characters, valid UTF-8, bounded length.
// These keys map onto filesystem paths and S3 keys alike without surprises.
func ValidateKey(key string) error {
	if key == "" {
		return fmt.Errorf("%w: empty", ErrInvalidKey)
	}
	if len(key) > MaxKeyLen {
		return fmt.Errorf("%w: %d bytes, limit %d", ErrInvalidKey, len(key), MaxKeyLen)
	}
	for _, seg := range strings.Split(key, "/") {
		if why := segmentProblem(seg); why != "" {
			return fmt.Errorf("%w: %q: %s", ErrInvalidKey, key, why)
		}
	}
	return nil
}

// ValidatePrefix checks a List prefix: "" (everything), or a key, or a key
// followed by "/", or a key whose last segment is incomplete ("releases/ag").
func ValidatePrefix(prefix string) error {
	if prefix == "" {
		return nil
	}
	if len(prefix) > MaxKeyLen {
		return fmt.Errorf("%w: prefix %d bytes, limit %d", ErrInvalidKey, len(prefix), MaxKeyLen)
	}
	segs := strings.Split(prefix, "/")
	last := len(segs) - 1
	for i, seg := range segs {
		if i == last && (seg == "" || seg == ".") {
			// "releases/" or "releases/." (a partial ".." or ".hidden").
			continue
		}
		if why := segmentProblem(seg); why != "" {
			return fmt.Errorf("%w: prefix %q: %s", ErrInvalidKey, prefix, why)
		}
	}
	return nil
}

// segmentProblem says what is wrong with one key segment, or "" if nothing.
func segmentProblem(seg string) string {
	switch {
	case seg == "":
		return "empty segment (leading, trailing or double slash)"
	case seg == "." || seg == "..":
		return `"." or ".." segment`
	case len(seg) > MaxSegmentLen:
		return fmt.Sprintf("segment longer than %d bytes", MaxSegmentLen)
	case !utf8.ValidString(seg):
		return "not valid UTF-8"
	}
	for _, r := range seg {
		if r == '\\' {
			return "backslash"
		}
		if r < 0x20 || r == 0x7f {
			return "control character"
		}
	}
	return ""
}
