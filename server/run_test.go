package server_test

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/slipwayhq/slipway/server"
)

// TestOneServerPerSQLiteDataDir: a second server on the same SQLite data
// directory refuses to start (its token cache would miss the first one's
// revocations); once the first stops, the directory is free again.
func TestOneServerPerSQLiteDataDir(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	start := func(ctx context.Context) (chan error, bool) {
		ready := make(chan server.Info, 1)
		done := make(chan error, 1)
		go func() {
			done <- server.Run(ctx, server.Config{Addr: "127.0.0.1:0", DataDir: dir}, server.RunOptions{Ready: func(i server.Info) { ready <- i }})
		}()
		select {
		case <-ready:
			return done, true
		case err := <-done:
			done <- err
			return done, false
		case <-time.After(30 * time.Second):
			t.Fatal("server neither started nor failed")
		}
		return done, false
	}
	ctx1, stop1 := context.WithCancel(t.Context())
	done1, ok := start(ctx1)
	if !ok {
		t.Fatalf("first server: %v", <-done1)
	}
	done2, ok := start(t.Context())
	if ok {
		t.Fatal("a second server started on the same SQLite data directory")
	}
	if err := <-done2; !errors.Is(err, server.ErrDataDirInUse) {
		t.Fatalf("second server: %v, want ErrDataDirInUse", err)
	}
	stop1()
	if err := <-done1; err != nil {
		t.Fatalf("first server: %v", err)
	}
	ctx3, stop3 := context.WithCancel(t.Context())
	done3, ok := start(ctx3)
	if !ok {
		t.Fatalf("restart after the first stopped: %v", <-done3)
	}
	stop3()
	if err := <-done3; err != nil {
		t.Fatal(err)
	}
}
