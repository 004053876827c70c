package main

import (
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"strings"

	"github.com/slipwayhq/slipway/agent/identity"
	"github.com/slipwayhq/slipway/agent/service"
)

// maxLogBytes: a service log file larger than this is truncated at start.
const maxLogBytes = 10 << 20

func newLogger(w io.Writer, level string) *slog.Logger {
	var l slog.Level
	if err := l.UnmarshalText([]byte(strings.ToUpper(level))); err != nil {
		l = slog.LevelInfo
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: l}))
}

// serviceLogOutput returns where `run` logs. systemd (journal) and launchd
// (LogOutput) capture stderr; the Windows service manager does not, so a
// Windows service writes %ProgramData%\Slipway\logs\agent.log.
func serviceLogOutput(stderr io.Writer) (io.Writer, func()) {
	if runtime.GOOS != "windows" || service.Interactive() {
		return stderr, func() {}
	}
	dir := filepath.Join(identity.SystemDir(), "logs")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return stderr, func() {}
	}
	path := filepath.Join(dir, "agent.log")
	flags := os.O_CREATE | os.O_WRONLY | os.O_APPEND
	if st, err := os.Stat(path); err == nil && st.Size() > maxLogBytes {
		flags |= os.O_TRUNC
	}
	f, err := os.OpenFile(path, flags, 0o600)
	if err != nil {
		return stderr, func() {}
	}
	return f, func() { f.Close() }
}
