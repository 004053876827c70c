package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/slipwayhq/slipway/signing/minisign"
	"github.com/slipwayhq/slipway/updater/updatertest"
)

// Each test mounts one attack from the TUF threat model against a real
// server and repository, and checks the client refuses with its specific
// error and leaves the installed binary untouched.

func TestAttackArbitrarySoftware(t *testing.T) {
	w := newWorld(t)
	key := "releases/agent/1.1.0/slipway-agent_1.1.0_linux_amd64.tar.gz"
	real := w.st.Bytes(key)
	evil := tarGz(t, "slipway-agent", []byte("#!/bin/sh\necho pwned 1.1.0\n"))
	evil = append(evil, make([]byte, max(0, len(real)-len(evil)))...)[:max(len(real), len(evil))]
	w.pub.Put(t, "agent", "1.1.0", "slipway-agent_1.1.0_linux_amd64.tar.gz", evil)
	_, err := w.client(t).Update(t.Context())
	if !errors.Is(err, ErrBadHash) {
		t.Fatalf("err = %v, want ErrBadHash", err)
	}
	w.intact(t)
}

func TestAttackRollbackMetadata(t *testing.T) {
	w := newWorld(t)
	if _, err := w.client(t).Check(t.Context()); err != nil {
		t.Fatal(err)
	}
	old := w.st.Bytes("tuf/timestamp.json")
	// The repository moves on and the client sees it...
	w.pub.Publish(t, "other", "9.1.0", agentRelease(t, "9.1.0", script("9.1.0"))...)
	w.promote(t, "other", "9.1.0")
	if _, err := w.client(t).Check(t.Context()); err != nil {
		t.Fatal(err)
	}
	// ...then an attacker replays the older, validly signed timestamp.
	w.set("/tuf/timestamp.json", func(rw http.ResponseWriter, r *http.Request) { rw.Write(old) })
	_, err := w.client(t).Update(t.Context())
	if !errors.Is(err, ErrRollback) {
		t.Fatalf("err = %v, want ErrRollback", err)
	}
	w.intact(t)
}

func TestAttackRollbackVersion(t *testing.T) {
	w := newWorld(t)
	w.cfg.CurrentVersion = "1.0.5"
	// 1.0.0 stays a signed target because a machine is pinned to it.
	if err := w.file.Pin("agent", "stable", "machine", "m-pinned", "1.0.0"); err != nil {
		t.Fatal(err)
	}
	w.apply(t)
	// The server (or a man in the middle) offers the older, validly
	// signed 1.0.0, which no channel currently serves.
	w.offer(t, func(o map[string]any) {
		o["version"], o["target"] = "1.0.0", "agent/1.0.0/slipway-agent_1.0.0_linux_amd64.tar.gz"
	})
	_, err := w.client(t).Update(t.Context())
	if !errors.Is(err, ErrRollback) {
		t.Fatalf("err = %v, want ErrRollback", err)
	}
	w.intact(t)
}

func TestAttackIndefiniteFreeze(t *testing.T) {
	w := newWorld(t)
	// The server stops refreshing the timestamp (or an attacker replays
	// the last one) and the 24 h lifetime passes.
	late := w.metaAt.Add(48 * time.Hour)
	w.cfg.Now = func() time.Time { return late }
	_, err := w.client(t).Update(t.Context())
	if !errors.Is(err, ErrFreeze) || !errors.Is(err, ErrExpired) {
		t.Fatalf("err = %v, want ErrExpired", err)
	}
	w.intact(t)
	// The agent keeps running: the poll loop reports and carries on.
	ctx, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
	defer cancel()
	var reported []error
	res, err := w.client(t).Run(ctx, 20*time.Millisecond, func(err error) { reported = append(reported, err) })
	if res != nil || !errors.Is(err, context.DeadlineExceeded) || len(reported) < 2 || !errors.Is(reported[0], ErrExpired) {
		t.Fatalf("run: %v %v %v", res, err, reported)
	}
	w.intact(t)
}

func TestAttackMixAndMatch(t *testing.T) {
	tests := []struct {
		name string
		path func(w *world) (string, []byte)
	}{
		{"targets from another snapshot", func(w *world) (string, []byte) {
			return "/tuf/3.targets.json", w.st.Bytes("tuf/2.targets.json")
		}},
		{"snapshot from another timestamp", func(w *world) (string, []byte) {
			return "/tuf/3.snapshot.json", w.st.Bytes("tuf/2.snapshot.json")
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := newWorld(t)
			p, body := tt.path(w)
			if body == nil {
				t.Fatalf("fixture missing for %s; have %v", p, w.st.Keys())
			}
			w.set(p, func(rw http.ResponseWriter, r *http.Request) { rw.Write(body) })
			_, err := w.client(t).Update(t.Context())
			if !errors.Is(err, ErrMixAndMatch) {
				t.Fatalf("err = %v, want ErrMixAndMatch", err)
			}
			w.intact(t)
		})
	}
}

func TestAttackEndlessData(t *testing.T) {
	endless := func(rw http.ResponseWriter, r *http.Request) {
		chunk := bytes.Repeat([]byte("A"), 64<<10)
		for range 100 { // 6.4 MiB, past every bound
			if _, err := rw.Write(chunk); err != nil {
				return
			}
		}
	}
	tests := []struct {
		name  string
		setup func(t *testing.T, w *world)
	}{
		{"endless timestamp", func(t *testing.T, w *world) { w.set("/tuf/timestamp.json", endless) }},
		{"endless targets", func(t *testing.T, w *world) { w.set("/tuf/3.targets.json", endless) }},
		{"artifact longer than signed", func(t *testing.T, w *world) {
			full := w.st.Bytes("releases/agent/1.1.0/slipway-agent_1.1.0_linux_amd64.tar.gz")
			w.set("/v1/download/agent/1.1.0/slipway-agent_1.1.0_linux_amd64.tar.gz", func(rw http.ResponseWriter, r *http.Request) {
				rw.Write(full)
				endless(rw, r)
			})
		}},
		{"artifact over the client's bound", func(t *testing.T, w *world) { w.cfg.Limits.Artifact = 16 }},
		{"endless update answer", func(t *testing.T, w *world) { w.set("/v1/updates/agent/stable", endless) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := newWorld(t)
			tt.setup(t, w)
			_, err := w.client(t).Update(t.Context())
			if !errors.Is(err, ErrTooLarge) {
				t.Fatalf("err = %v, want ErrTooLarge", err)
			}
			w.intact(t)
		})
	}
}

func TestAttackWrongTarget(t *testing.T) {
	tests := []struct {
		name          string
		version, path string
	}{
		{"other OS", "1.1.0", "agent/1.1.0/slipway-agent_1.1.0_windows_amd64.tar.gz"},
		{"other product", "9.0.0", "other/9.0.0/other_9.0.0_linux_amd64.tar.gz"},
		{"not a target", "1.1.0", "agent/1.1.0/evil.tar.gz"},
		{"version differs from target", "2.0.0", "agent/1.1.0/slipway-agent_1.1.0_linux_amd64.tar.gz"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := newWorld(t)
			w.offer(t, func(o map[string]any) { o["version"], o["target"] = tt.version, tt.path })
			_, err := w.client(t).Update(t.Context())
			if !errors.Is(err, ErrWrongTarget) {
				t.Fatalf("err = %v, want ErrWrongTarget", err)
			}
			w.intact(t)
		})
	}
}

func TestAttackBadSignature(t *testing.T) {
	tests := []struct {
		name  string
		setup func(t *testing.T, w *world)
	}{
		{"artifact signed by another key", func(t *testing.T, w *world) {
			other := updatertest.New(t, w.st, "", 9)
			data := w.st.Bytes("releases/agent/1.1.0/slipway-agent_1.1.0_linux_amd64.tar.gz")
			sig, err := minisign.Sign(other.SK, bytes.NewReader(data), minisign.SignOptions{Version: "1.1.0"})
			if err != nil {
				t.Fatal(err)
			}
			w.offer(t, func(o map[string]any) { o["signatures"] = map[string]string{"minisign": string(sig.Encode())} })
		}},
		{"no artifact signature", func(t *testing.T, w *world) {
			w.offer(t, func(o map[string]any) { o["signatures"] = map[string]string{} })
		}},
		{"timestamp altered", func(t *testing.T, w *world) {
			ts := string(w.st.Bytes("tuf/timestamp.json"))
			evil := strings.Replace(ts, `"expires":"`, `"expires":"2`, 1)
			evil = strings.Replace(evil, `"expires":"22026`, `"expires":"2099`, 1)
			w.set("/tuf/timestamp.json", func(rw http.ResponseWriter, r *http.Request) { rw.Write([]byte(evil)) })
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := newWorld(t)
			tt.setup(t, w)
			_, err := w.client(t).Update(t.Context())
			if !errors.Is(err, ErrBadSignature) {
				t.Fatalf("err = %v, want ErrBadSignature", err)
			}
			w.intact(t)
		})
	}
}

// rolledBackWorld publishes and promotes 1.3.0, captures the update answer
// a machine on 1.0.0 gets for it and the TUF timestamp of that moment,
// then rolls the channel back to 1.1.0 (revoking 1.3.0).
func rolledBackWorld(t *testing.T) (w *world, offer13, timestamp13 []byte) {
	t.Helper()
	w = newWorld(t)
	w.pub.Publish(t, "agent", "1.3.0", agentRelease(t, "1.3.0", script("1.3.0"))...)
	w.promote(t, "agent", "1.3.0")
	o, _, err := w.client(t).ask(t.Context())
	if err != nil || o == nil || o.Version != "1.3.0" {
		t.Fatalf("offer of 1.3.0: %+v %v", o, err)
	}
	offer13, _ = json.Marshal(o)
	timestamp13 = w.st.Bytes("tuf/timestamp.json")
	if v, err := w.file.Rollback("agent", "stable"); err != nil || v != "1.1.0" {
		t.Fatalf("rollback = %s, %v", v, err)
	}
	w.apply(t)
	return w, offer13, timestamp13
}

func TestSignedRollbackAccepted(t *testing.T) {
	w, _, _ := rolledBackWorld(t)
	w.cfg.CurrentVersion = "1.3.0"
	res, err := w.client(t).Update(t.Context())
	if err != nil || res == nil || res.To != "1.1.0" {
		t.Fatalf("rollback update: %+v %v", res, err)
	}
	if data, _ := os.ReadFile(w.bin); !bytes.Equal(data, script("1.1.0")) {
		t.Fatalf("installed %q", data)
	}
}

func TestAttackUnsignedDowngrade(t *testing.T) {
	w := newWorld(t)
	w.pub.Publish(t, "agent", "1.3.0", agentRelease(t, "1.3.0", script("1.3.0"))...)
	w.promote(t, "agent", "1.3.0")
	// The channel is pointed back at 1.1.0 by a plain promote: signed as
	// the channel head, but 1.3.0 is not revoked.
	w.promote(t, "agent", "1.1.0")
	w.offer(t, func(map[string]any) {}) // the 1.1.0 answer a machine on 1.0.0 gets
	w.cfg.CurrentVersion = "1.3.0"
	_, err := w.client(t).Update(t.Context())
	if !errors.Is(err, ErrRollback) {
		t.Fatalf("err = %v, want ErrRollback", err)
	}
	w.intact(t)
}

func TestAttackReplayPreRollbackMetadata(t *testing.T) {
	w, offer13, ts13 := rolledBackWorld(t)
	// A machine that took 1.3.0 sees the rollback metadata...
	w.cfg.CurrentVersion = "1.3.0"
	if o, err := w.client(t).Check(t.Context()); err != nil || o == nil || o.Version != "1.1.0" {
		t.Fatalf("rollback offer: %+v %v", o, err)
	}
	// ...and, back on 1.1.0, is served the pre-rollback metadata and
	// the old answer offering 1.3.0 again.
	w.cfg.CurrentVersion = "1.1.0"
	w.set("/tuf/timestamp.json", func(rw http.ResponseWriter, r *http.Request) { rw.Write(ts13) })
	w.set("/v1/updates/agent/stable", func(rw http.ResponseWriter, r *http.Request) { rw.Write(offer13) })
	_, err := w.client(t).Update(t.Context())
	if !errors.Is(err, ErrRollback) {
		t.Fatalf("err = %v, want ErrRollback", err)
	}
	w.intact(t)
}
