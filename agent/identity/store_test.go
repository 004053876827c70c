package identity

import (
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

func TestSaveLoadRoundTrip(t *testing.T) {
	s := Store{Dir: filepath.Join(t.TempDir(), "nested", "slipway")}
	if _, err := s.Load(); !errors.Is(err, ErrNotEnrolled) {
		t.Fatalf("empty store: %v", err)
	}
	want := State{Server: "https://s.example", MachineID: "m1", MachineToken: "swm_x", ExpiresAt: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	if err := s.Save(want); err != nil {
		t.Fatal(err)
	}
	got, err := s.Load()
	if err != nil || got.MachineToken != want.MachineToken || !got.ExpiresAt.Equal(want.ExpiresAt) {
		t.Fatalf("got %+v %v", got, err)
	}
	if runtime.GOOS != "windows" {
		for path, mode := range map[string]os.FileMode{s.Path(): 0o600, s.Dir: 0o700} {
			fi, err := os.Stat(path)
			if err != nil || fi.Mode().Perm() != mode {
				t.Errorf("%s: mode %v, want %v (%v)", path, fi.Mode().Perm(), mode, err)
			}
		}
	}
	entries, _ := os.ReadDir(s.Dir)
	if len(entries) != 1 {
		t.Errorf("temp files left behind: %v", entries)
	}
}

func TestUpdateBeforeEnrollment(t *testing.T) {
	s := Store{Dir: t.TempDir()}
	if err := s.Update(func(st *State) { st.Update = &UpdateStatus{Result: "installed"} }); err != nil {
		t.Fatal(err)
	}
	st, err := s.Load()
	if !errors.Is(err, ErrNotEnrolled) || st.Update == nil || st.Update.Result != "installed" {
		t.Fatalf("%+v %v", st, err)
	}
}

func TestLoadRejectsGarbage(t *testing.T) {
	tests := map[string]string{
		"truncated":  `{"server":"https://s","machineId":"m","machineTo`,
		"not json":   "hello",
		"wrong type": `{"server":1}`,
		"oversize":   `{"server":"` + strings.Repeat("x", maxStateBytes) + `"}`,
	}
	for name, body := range tests {
		t.Run(name, func(t *testing.T) {
			s := Store{Dir: t.TempDir()}
			if err := os.WriteFile(s.Path(), []byte(body), 0o600); err != nil {
				t.Fatal(err)
			}
			_, err := s.Load()
			if err == nil || errors.Is(err, ErrNotEnrolled) {
				t.Fatalf("want a parse error, got %v", err)
			}
		})
	}
}

func TestDefaultDirOverride(t *testing.T) {
	t.Setenv(EnvConfigDir, "/tmp/x")
	if DefaultDir() != "/tmp/x" || len(Candidates()) != 1 {
		t.Fatal("override ignored")
	}
}
