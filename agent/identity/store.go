// Package identity keeps the machine's enrollment (server URL, machine id and
// machine token) on disk: one JSON file, mode 0600, replaced atomically, in
// the OS configuration directory. The agent and the desktop client share it.
package identity

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"time"
)

// FileName is the state file inside the configuration directory.
const FileName = "machine.json"

// maxStateBytes bounds the state file we read.
const maxStateBytes = 64 << 10

// ErrNotEnrolled: there is no state file yet.
var ErrNotEnrolled = errors.New("not enrolled")

// State is what the machine remembers between restarts.
type State struct {
	// Server is the base URL of the Slipway server.
	Server string `json:"server"`
	// MachineID is the id the server assigned.
	MachineID string `json:"machineId"`
	// MachineToken is the bearer token (secret; never logged).
	MachineToken string `json:"machineToken"`
	// ExpiresAt is the token's expiry as last told by the server.
	ExpiresAt time.Time `json:"expiresAt"`
	// HeartbeatIntervalSeconds is the interval the server asked for.
	HeartbeatIntervalSeconds int `json:"heartbeatIntervalSeconds,omitempty"`
	// EnrolledAt is when the token was obtained.
	EnrolledAt time.Time `json:"enrolledAt"`
	// LastHeartbeatAt is the last acknowledged heartbeat (written by the agent).
	LastHeartbeatAt time.Time `json:"lastHeartbeatAt,omitzero"`
	// AgentVersion is the version of the agent that wrote this file.
	AgentVersion string `json:"agentVersion,omitempty"`
	// Update is the last self-update outcome (written by the agent).
	Update *UpdateStatus `json:"update,omitempty"`
}

// UpdateStatus is the last self-update outcome, shown by the desktop client and
// sent in heartbeats.
type UpdateStatus struct {
	Available string    `json:"available,omitempty"`
	Installed string    `json:"installed,omitempty"`
	Result    string    `json:"result,omitempty"`
	Error     string    `json:"error,omitempty"`
	At        time.Time `json:"at,omitzero"`
}

// Enrolled reports whether the state holds a usable enrollment.
func (s State) Enrolled() bool { return s.Server != "" && s.MachineID != "" && s.MachineToken != "" }

// Store reads and writes the state file in Dir.
type Store struct {
	Dir string
}

// Path is the state file path.
func (s Store) Path() string { return filepath.Join(s.Dir, FileName) }

// Load reads the state; ErrNotEnrolled when the file does not exist.
func (s Store) Load() (State, error) {
	var st State
	f, err := os.Open(s.Path())
	if errors.Is(err, fs.ErrNotExist) {
		return st, ErrNotEnrolled
	}
	if err != nil {
		return st, fmt.Errorf("load identity: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxStateBytes+1))
	if err != nil {
		return st, fmt.Errorf("load identity: %w", err)
	}
	if len(data) > maxStateBytes {
		return st, fmt.Errorf("load identity %s: file over %d bytes", s.Path(), maxStateBytes)
	}
	if err := json.Unmarshal(data, &st); err != nil {
		return st, fmt.Errorf("load identity %s: %w", s.Path(), err)
	}
	if !st.Enrolled() {
		return st, ErrNotEnrolled
	}
	return st, nil
}

// Save writes the state atomically (temp file in the same directory, fsync,
// rename) with mode 0600; the directory is created with mode 0700.
func (s Store) Save(st State) error {
	if err := os.MkdirAll(s.Dir, 0o700); err != nil {
		return fmt.Errorf("save identity: %w", err)
	}
	data, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return fmt.Errorf("save identity: %w", err)
	}
	tmp, err := os.CreateTemp(s.Dir, ".machine-*.tmp")
	if err != nil {
		return fmt.Errorf("save identity: %w", err)
	}
	defer os.Remove(tmp.Name()) // no-op after a successful rename
	if err := tmp.Chmod(0o600); err != nil && !isWindows {
		tmp.Close()
		return fmt.Errorf("save identity: %w", err)
	}
	if _, err := tmp.Write(append(data, '\n')); err != nil {
		tmp.Close()
		return fmt.Errorf("save identity: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("save identity: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("save identity: %w", err)
	}
	if err := os.Rename(tmp.Name(), s.Path()); err != nil {
		return fmt.Errorf("save identity: %w", err)
	}
	return nil
}

// Update loads the state, applies fn and saves it. It also works before
// enrollment (an update outcome recorded first is kept by Enroll).
func (s Store) Update(fn func(*State)) error {
	st, err := s.Load()
	if err != nil && !errors.Is(err, ErrNotEnrolled) {
		return err
	}
	fn(&st)
	return s.Save(st)
}

// Remove deletes the state file (uninstall, or a forced re-enrollment).
func (s Store) Remove() error {
	if err := os.Remove(s.Path()); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("remove identity: %w", err)
	}
	return nil
}
