package fs

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	iofs "io/fs"
	"os"
	"path/filepath"

	"github.com/slipwayhq/slipway/storage/object"
)

// lockPrefix names the lock files of conditional writes, one per key
// (TempPrefix, so List never shows them; SweepTemp leaves them alone).
const lockPrefix = TempPrefix + "lock-"

// PutIf writes data to key if its current content is prev (prev nil: if
// key does not exist), else fails with object.ErrPrecondition. Conditional
// writers of one key take an exclusive lock on a lock file next to it
// (flock, so it works across processes sharing the directory on one
// host; not on NFS), compare, then write atomically as Put does.
func (s *Store) PutIf(ctx context.Context, key string, data []byte, contentType string, prev []byte) error {
	p, err := s.path(key)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(p), s.opts.DirMode); err != nil {
		return fmt.Errorf("put %s: %w", key, err)
	}
	unlock, err := lockFile(filepath.Join(filepath.Dir(p), lockPrefix+filepath.Base(p)))
	if err != nil {
		return fmt.Errorf("put %s: lock: %w", key, err)
	}
	defer unlock()
	cur, err := os.ReadFile(p)
	switch {
	case err != nil && !errors.Is(err, iofs.ErrNotExist):
		return fmt.Errorf("put %s: %w", key, err)
	case prev == nil && err == nil:
		return fmt.Errorf("put %s: %w: it exists", key, object.ErrPrecondition)
	case prev != nil && err != nil:
		return fmt.Errorf("put %s: %w: it does not exist", key, object.ErrPrecondition)
	case prev != nil && !bytes.Equal(cur, prev):
		return fmt.Errorf("put %s: %w: it changed", key, object.ErrPrecondition)
	}
	return s.Put(ctx, key, bytes.NewReader(data), int64(len(data)), contentType)
}
