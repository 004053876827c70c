package postgres_test

import (
	"testing"
	"time"

	"github.com/slipwayhq/slipway/machineapi"
)

// TestReplicasSoftwareHashCache reproduces the stale hash cache of issue 17:
// a machine uploads list A through replica 1 (which caches A), then list B
// through replica 2, then goes back to A. Replica 1 must ask for A again:
// the database holds B. (Replica 2's commit reaches replica 1 as a
// notification; the loop below waits for it, up to 20 s.)
func TestReplicasSoftwareHashCache(t *testing.T) {
	urls, _, _ := replicas(t, 2)
	_, tok := registerAt(t, urls[0], "SN-SW")
	clients := make([]*machineapi.Client, 2)
	for i, u := range urls {
		c, err := machineapi.New(u, machineapi.Options{})
		if err != nil {
			t.Fatal(err)
		}
		clients[i] = c
	}
	list := func(v string) machineapi.SoftwareUpload {
		items := []machineapi.SoftwareItem{{Name: "firefox", Version: v, Source: "deb_packages"}}
		return machineapi.SoftwareUpload{Hash: machineapi.SoftwareHash(items), Software: items}
	}
	a, b := list("127.0"), list("128.0")
	needed := func(replica int, hash string) bool {
		t.Helper()
		res, err := clients[replica].Heartbeat(t.Context(), tok, machineapi.HeartbeatRequest{Status: "ok", AgentVersion: "1.0.0", SoftwareHash: hash})
		if err != nil {
			t.Fatal(err)
		}
		return res.SoftwareNeeded
	}
	upload := func(replica int, up machineapi.SoftwareUpload) {
		t.Helper()
		if _, err := clients[replica].UploadSoftware(t.Context(), tok, up); err != nil {
			t.Fatal(err)
		}
	}
	if !needed(0, a.Hash) {
		t.Fatal("replica 1 does not ask for the first list")
	}
	upload(0, a)
	if needed(0, a.Hash) {
		t.Fatal("replica 1 asks again for the list it stored")
	}
	if !needed(1, b.Hash) {
		t.Fatal("replica 2 does not ask for list B")
	}
	upload(1, b)
	deadline := time.Now().Add(20 * time.Second)
	for !needed(0, a.Hash) {
		if time.Now().After(deadline) {
			t.Fatal("replica 1 still answers 'not needed' for list A, but the database holds list B")
		}
		time.Sleep(50 * time.Millisecond)
	}
	upload(0, a)
	if needed(0, a.Hash) || needed(1, a.Hash) {
		t.Fatal("a replica asks again for list A once it is stored")
	}
}
