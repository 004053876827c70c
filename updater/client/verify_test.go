package client

import (
	"errors"
	"net/http"
	"testing"
	"time"
)

// TestNoUpdateStillChecksTUF: a 204 "no update" used to return before
// TUF was refreshed, so an up-to-date machine never noticed its metadata
// expired (docs/updater.md promises it notices within a day), and a 204
// from anyone froze it silently.
func TestNoUpdateStillChecksTUF(t *testing.T) {
	w := newWorld(t)
	w.cfg.CurrentVersion = "1.1.0" // the channel head: the endpoint answers 204
	if o, err := w.client(t).Check(t.Context()); err != nil || o != nil {
		t.Fatalf("up to date: %v %v", o, err)
	}
	// Two days later, nobody re-signed the timestamp.
	w.cfg.Now = func() time.Time { return w.metaAt.Add(48 * time.Hour) }
	if _, err := w.client(t).Check(t.Context()); !errors.Is(err, ErrExpired) {
		t.Fatalf("expired metadata on a 204: %v, want ErrExpired", err)
	}
}

// TestNoUpdateFromStaleMetadata: the endpoint says it decided on a newer
// timestamp than the one the client can fetch (a stale proxy or a freeze
// in front of /tuf/): the client reports it instead of trusting the 204.
func TestNoUpdateFromStaleMetadata(t *testing.T) {
	w := newWorld(t)
	w.cfg.CurrentVersion = "1.1.0"
	old := w.st.Bytes("tuf/timestamp.json")
	w.pub.Publish(t, "other", "9.1.0", agentRelease(t, "9.1.0", script("9.1.0"))...)
	w.promote(t, "other", "9.1.0")
	w.set("/tuf/timestamp.json", func(rw http.ResponseWriter, r *http.Request) { rw.Write(old) })
	if _, err := w.client(t).Check(t.Context()); !errors.Is(err, ErrFreeze) {
		t.Fatalf("stale timestamp behind a 204: %v, want ErrFreeze", err)
	}
	w.set("/tuf/timestamp.json", nil)
	if o, err := w.client(t).Check(t.Context()); err != nil || o != nil {
		t.Fatalf("fresh again: %v %v", o, err)
	}
	// A garbage header is refused.
	w.set("/v1/updates/agent/stable", func(rw http.ResponseWriter, r *http.Request) {
		rw.Header().Set(timestampHeader, "-1")
		rw.WriteHeader(http.StatusNoContent)
	})
	if _, err := w.client(t).Check(t.Context()); !errors.Is(err, ErrServer) {
		t.Fatalf("bad header: %v", err)
	}
}
