//go:build unix

package server

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
)

// ErrDataDirInUse: another server process serves the same SQLite database.
var ErrDataDirInUse = errors.New("another slipway server is using this data directory")

// lockDataDir takes an exclusive lock on dir/server.lock for the life of
// the server. SQLite serves one server process per database: its token
// cache is in-process, so a token revoked through one process would still
// be accepted by another (several servers need PostgreSQL). The lock is
// released by unlock, or by the kernel when the process ends.
func lockDataDir(dir string) (unlock func(), err error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("server: data dir: %w", err)
	}
	path := filepath.Join(dir, "server.lock")
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("server: lock file: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("server: %s: %w (SQLite serves one server per database; use PostgreSQL, SLIPWAY_DATABASE_URL, for several)", dir, ErrDataDirInUse)
		}
		return nil, fmt.Errorf("server: lock %s: %w", path, err)
	}
	// The holder's PID, for whoever finds the file.
	_ = f.Truncate(0)
	_, _ = f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	return func() { _ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN); f.Close() }, nil
}
