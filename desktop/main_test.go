package main

import (
	"bytes"
	"context"
	"testing"
)

func TestVersionLine(t *testing.T) {
	var out, errb bytes.Buffer
	if code := run(context.Background(), []string{"version"}, &out, &errb); code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	if got, want := out.String(), "slipway-desktop "+version+" ("+commit+")\n"; got != want {
		t.Fatalf("got %q want %q", got, want)
	}
}

func TestBadFlag(t *testing.T) {
	var out, errb bytes.Buffer
	if code := run(context.Background(), []string{"--no-such-flag"}, &out, &errb); code != 2 {
		t.Fatalf("exit %d", code)
	}
}

// TestServeUntilCancelled starts the UI without a browser and stops it.
func TestServeUntilCancelled(t *testing.T) {
	t.Setenv("SLIPWAY_CONFIG_DIR", t.TempDir())
	t.Setenv("HOME", t.TempDir())
	t.Setenv("XDG_CONFIG_HOME", t.TempDir())
	ctx, cancel := context.WithCancel(t.Context())
	var out, errb bytes.Buffer
	done := make(chan int, 1)
	go func() { done <- run(ctx, []string{"--no-browser"}, &out, &errb) }()
	cancel()
	if code := <-done; code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
}
