package main

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// Targets are every OS/arch pair both programs ship for.
var targets = []struct{ goos, goarch string }{
	{"linux", "amd64"}, {"linux", "arm64"},
	{"darwin", "amd64"}, {"darwin", "arm64"},
	{"windows", "amd64"}, {"windows", "arm64"},
}

// TestCrossCompile builds slipway-agent and slipway-desktop for all six
// targets with CGO_ENABLED=0 (12 binaries), proving both stay pure Go.
func TestCrossCompile(t *testing.T) {
	if testing.Short() {
		t.Skip("cross-compiling 12 binaries is slow; run without -short")
	}
	root := filepath.Join("..")
	for _, tg := range targets {
		for _, prog := range []string{"agent", "desktop"} {
			t.Run(tg.goos+"_"+tg.goarch+"/"+prog, func(t *testing.T) {
				out := filepath.Join(t.TempDir(), "bin")
				cmd := exec.CommandContext(t.Context(), "go", "build", "-trimpath", "-o", out, "./"+prog)
				cmd.Dir = root
				cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS="+tg.goos, "GOARCH="+tg.goarch, "GOFLAGS=-buildvcs=false")
				if b, err := cmd.CombinedOutput(); err != nil {
					t.Fatalf("%s/%s %s: %v\n%s", tg.goos, tg.goarch, prog, err, b)
				}
				st, err := os.Stat(out)
				if err != nil || st.Size() == 0 {
					t.Fatalf("no binary: %v", err)
				}
			})
		}
	}
}

func TestVersionLine(t *testing.T) {
	var out, errb bytes.Buffer
	if code := run(context.Background(), []string{"version"}, &out, &errb); code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	if got, want := out.String(), "slipway-agent "+version+" ("+commit+")\n"; got != want {
		t.Fatalf("got %q want %q", got, want)
	}
}

func TestUnknownCommand(t *testing.T) {
	var out, errb bytes.Buffer
	if code := run(context.Background(), []string{"frobnicate"}, &out, &errb); code != 2 {
		t.Fatalf("exit %d", code)
	}
}
