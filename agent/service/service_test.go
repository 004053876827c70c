package service

import (
	"runtime"
	"slices"
	"testing"
)

func TestConfigRunsTheAgent(t *testing.T) {
	c := Config("--config-dir", "/etc/slipway")
	if c.Name != Name || !slices.Equal(c.Arguments, []string{"run", "--config-dir", "/etc/slipway"}) {
		t.Fatalf("%+v", c)
	}
	if c.Option["Restart"] != "always" || c.Option["RunAtLoad"] != true || c.Option["OnFailure"] != "restart" {
		t.Fatalf("restart policy: %v", c.Option)
	}
	// systemd: the journal (a file: output would be overwritten at every
	// restart); launchd: its log file.
	if c.Option["LogOutput"] != (runtime.GOOS == "darwin") {
		t.Fatalf("LogOutput %v on %s", c.Option["LogOutput"], runtime.GOOS)
	}
	if ExitRestart == 0 {
		t.Fatal("a restart must exit non-zero so every service manager restarts it")
	}
}
