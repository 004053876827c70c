package selfupdate

import (
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/slipwayhq/slipway/agent/enroll"
	"github.com/slipwayhq/slipway/agent/identity"
	"github.com/slipwayhq/slipway/signing/minisign"
	"github.com/slipwayhq/slipway/updater/client"
)

// The end-to-end update and rollback run in agent/update_test.go with real
// binaries; these cover configuration.
func TestNewDisabled(t *testing.T) {
	_, pk, err := minisign.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	cfg := enroll.Config{Server: "http://127.0.0.1:9"}
	tests := []struct {
		name    string
		files   map[string][]byte
		cfg     enroll.Config
		version string
		want    error
	}{
		{"no trust files", nil, cfg, "1.0.0", ErrDisabled},
		{"disabled", map[string][]byte{RootFile: []byte("{}"), MinisignFile: pk.Encode()}, enroll.Config{Update: enroll.UpdateConfig{Disabled: true}}, "1.0.0", ErrDisabled},
		{"dev build", map[string][]byte{RootFile: []byte("{}"), MinisignFile: pk.Encode()}, cfg, "dev", ErrDisabled},
		{"garbage key", map[string][]byte{RootFile: []byte("{}"), MinisignFile: []byte("not a key")}, cfg, "1.0.0", nil},
		{"oversize root", map[string][]byte{RootFile: make([]byte, maxTrustFile+1), MinisignFile: pk.Encode()}, cfg, "1.0.0", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			if err := os.MkdirAll(filepath.Join(dir, "update"), 0o700); err != nil {
				t.Fatal(err)
			}
			for name, data := range tc.files {
				if err := os.WriteFile(filepath.Join(dir, "update", name), data, 0o600); err != nil {
					t.Fatal(err)
				}
			}
			m, err := New(dir, identity.Store{Dir: dir}, tc.cfg, tc.version, nil)
			if m != nil || err == nil {
				t.Fatalf("manager created: %v", err)
			}
			if tc.want != nil && !errors.Is(err, tc.want) {
				t.Fatalf("want %v, got %v", tc.want, err)
			}
		})
	}
}

func TestNewEnabled(t *testing.T) {
	_, pk, err := minisign.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	_ = os.MkdirAll(filepath.Join(dir, "update"), 0o700)
	_ = os.WriteFile(filepath.Join(dir, "update", RootFile), []byte("{}"), 0o600)
	_ = os.WriteFile(filepath.Join(dir, "update", MinisignFile), pk.Encode(), 0o600)
	m, err := New(dir, identity.Store{Dir: dir}, enroll.Config{Server: "http://127.0.0.1:9"}, "1.2.3", nil)
	if err != nil {
		t.Fatal(err)
	}
	if m.cfg.Channel != "stable" || m.cfg.Product != "agent" || m.interval != 6*time.Hour || m.cfg.StateDir != StateDir(dir) {
		t.Fatalf("defaults: %+v interval %s", m.cfg, m.interval)
	}
}

// TestNewPackageManaged: a binary installed by a Linux package (its marker
// in PackageMarkerDir) never updates itself, even with trust files; the
// other product's marker does not count.
func TestNewPackageManaged(t *testing.T) {
	_, pk, err := minisign.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	_ = os.MkdirAll(filepath.Join(dir, "update"), 0o700)
	_ = os.WriteFile(filepath.Join(dir, "update", RootFile), []byte("{}"), 0o600)
	_ = os.WriteFile(filepath.Join(dir, "update", MinisignFile), pk.Encode(), 0o600)
	old := PackageMarkerDir
	PackageMarkerDir = t.TempDir()
	t.Cleanup(func() { PackageMarkerDir = old })
	if err := os.WriteFile(filepath.Join(PackageMarkerDir, "desktop.package-managed"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg := enroll.Config{Server: "http://127.0.0.1:9"}
	if _, err := New(dir, identity.Store{Dir: dir}, cfg, "1.2.3", nil); err != nil {
		t.Fatalf("agent disabled by the desktop's marker: %v", err)
	}
	if err := os.WriteFile(filepath.Join(PackageMarkerDir, "agent.package-managed"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	m, err := New(dir, identity.Store{Dir: dir}, cfg, "1.2.3", nil)
	if runtime.GOOS != "linux" {
		if err != nil {
			t.Fatalf("marker honoured outside Linux: %v", err)
		}
		return
	}
	if m != nil || !errors.Is(err, ErrDisabled) || !strings.Contains(err.Error(), "package") {
		t.Fatalf("package-managed agent: manager %v, err %v", m, err)
	}
}

func TestStartupWithNothingPending(t *testing.T) {
	dir := t.TempDir()
	store := identity.Store{Dir: dir}
	if err := Startup(dir, store, time.Now()); err != nil {
		t.Fatal(err)
	}
	if Status(store) != nil {
		t.Fatal("status recorded without an update")
	}
}

// TestReportClearsFailed reproduces "a failed status stays in every
// heartbeat after the machine recovered": a later check that finds nothing
// to do replaces it, while a rolled-back version stays reported.
func TestReportClearsFailed(t *testing.T) {
	store := identity.Store{Dir: t.TempDir()}
	m := &Manager{store: store}
	m.cfg.CurrentVersion = "1.0.0"
	steps := []struct {
		err               error
		result, available string
	}{
		{errors.New("update: server error: connection refused"), ResultFailed, ""},
		{nil, ResultCurrent, ""},
		{&client.RejectedError{Version: "1.1.0", Err: client.ErrTrial}, ResultRolledBack, "1.1.0"},
		{nil, ResultRolledBack, "1.1.0"},
	}
	for i, s := range steps {
		m.report(s.err)
		st := Status(store)
		if st == nil || st.Result != s.result || st.Available != s.available || st.Installed != "1.0.0" {
			t.Fatalf("step %d: %+v, want %s (available %q)", i, st, s.result, s.available)
		}
	}
}

// TestServiceCrashed: what the update guard counts as a crash, from
// systemd's ExecStopPost variables.
func TestServiceCrashed(t *testing.T) {
	for _, tt := range []struct {
		result, code, status string
		crash                bool
	}{
		{"success", "exited", "0", false},     // systemctl stop, clean exit
		{"", "", "", false},                   // not run by systemd
		{"exit-code", "exited", "3", false},   // hand-over after an update, or a rollback
		{"exit-code", "exited", "1", true},    // the new version failed
		{"exit-code", "exited", "2", true},    // panic (init or main)
		{"exit-code", "exited", "203", true},  // systemd could not exec it (wrong CPU)
		{"signal", "killed", "SEGV", true},    // killed by a signal
		{"core-dump", "dumped", "ABRT", true}, // crashed with a core
		{"watchdog", "killed", "ABRT", true},  // hung (watchdog)
		{"exit-code", "killed", "3", true},    // signal 3 (QUIT) is not exit status 3
	} {
		if got := ServiceCrashed(tt.result, tt.code, tt.status, 3); got != tt.crash {
			t.Errorf("ServiceCrashed(%q, %q, %q) = %v, want %v", tt.result, tt.code, tt.status, got, tt.crash)
		}
	}
}
