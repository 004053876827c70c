package browser

import (
	"path/filepath"
	"runtime"
	"testing"

	"github.com/slipwayhq/slipway/internal/testenv"
)

// TestChromiumFound checks the app-window lookup finds the Chromium that
// scripts/tools.sh installs (Debian's /usr/bin/chromium).
func TestChromiumFound(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("Debian chromium")
	}
	want := testenv.Tool(t, "chromium", "scripts/tools.sh apt")
	got, ok := Chromium()
	if !ok {
		t.Fatal("no Chromium-based browser found")
	}
	if filepath.Base(got) != filepath.Base(want) && filepath.Base(got) != "google-chrome" && filepath.Base(got) != "google-chrome-stable" {
		t.Fatalf("found %s, want %s", got, want)
	}
}
