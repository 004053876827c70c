//go:build !windows

package service

import "errors"

// ErrNotWindows: recovery actions are a Windows service setting (systemd
// and launchd restart the agent through their own unit and plist).
var ErrNotWindows = errors.New("service recovery actions are a Windows service setting")

// SetRecovery is Windows only; elsewhere it returns ErrNotWindows.
func SetRecovery() error { return ErrNotWindows }
