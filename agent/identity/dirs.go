package identity

import (
	"os"
	"path/filepath"
	"runtime"
)

const isWindows = runtime.GOOS == "windows"

// EnvConfigDir overrides the configuration directory (tests, portable installs).
const EnvConfigDir = "SLIPWAY_CONFIG_DIR"

// SystemDir is the machine-wide configuration directory the agent service
// uses and where an installer or MDM drops agent.json:
//
//	linux   /etc/slipway
//	darwin  /Library/Application Support/Slipway
//	windows %ProgramData%\Slipway
func SystemDir() string {
	switch runtime.GOOS {
	case "windows":
		pd := os.Getenv("ProgramData")
		if pd == "" {
			pd = `C:\ProgramData`
		}
		return filepath.Join(pd, "Slipway")
	case "darwin":
		return "/Library/Application Support/Slipway"
	default:
		return "/etc/slipway"
	}
}

// UserDir is the per-user configuration directory
// (~/.config/slipway, ~/Library/Application Support/Slipway, %AppData%\Slipway).
func UserDir() (string, error) {
	d, err := os.UserConfigDir()
	if err != nil {
		return "", err
	}
	name := "slipway"
	if runtime.GOOS != "linux" {
		name = "Slipway"
	}
	return filepath.Join(d, name), nil
}

// DefaultDir is where this process keeps its state: $SLIPWAY_CONFIG_DIR when
// set, the system directory when running as root/Administrator-owned service
// (euid 0 on POSIX, always on Windows), else the user directory.
func DefaultDir() string {
	if d := os.Getenv(EnvConfigDir); d != "" {
		return d
	}
	if isWindows || os.Geteuid() == 0 {
		return SystemDir()
	}
	if d, err := UserDir(); err == nil {
		return d
	}
	return SystemDir()
}

// Candidates lists the directories the desktop client looks in, in order: an
// explicit override, the system (agent service) directory, the user directory.
func Candidates() []string {
	if d := os.Getenv(EnvConfigDir); d != "" {
		return []string{d}
	}
	out := []string{SystemDir()}
	if d, err := UserDir(); err == nil && d != out[0] {
		out = append(out, d)
	}
	return out
}
