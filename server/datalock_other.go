//go:build !unix

package server

import "errors"

// ErrDataDirInUse: another server process serves the same SQLite database.
var ErrDataDirInUse = errors.New("another slipway server is using this data directory")

// lockDataDir is a no-op where flock(2) is not available.
func lockDataDir(string) (func(), error) { return func() {}, nil }
