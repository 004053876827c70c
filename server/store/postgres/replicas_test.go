package postgres_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/slipwayhq/slipway/internal/pgtest"
	"github.com/slipwayhq/slipway/internal/testenv"
	"github.com/slipwayhq/slipway/server"
	"github.com/slipwayhq/slipway/server/keyseal"
	"github.com/slipwayhq/slipway/server/store/postgres"
)

const provisioning = "swp_prov_replica-test-secret-0123456789"

// replicas starts n servers on one PostgreSQL database, each with its own
// store (connection pool) and HTTP listener, as separate processes would be.
// They start concurrently, so first-start work races like it would in a
// real rollout. It returns their URLs and the bootstrap admin token.
func replicas(t *testing.T, n int) (urls []string, admin, dbURL string) {
	t.Helper()
	dbURL = pgtest.Start(t)
	dir := t.TempDir()
	// The deployment docs/admin.md recommends: one secret key file for all
	// replicas, so the session signing keys are sealed in the database.
	keyFile := filepath.Join(dir, "secret.key")
	if err := os.WriteFile(keyFile, []byte(strings.Repeat("5a", keyseal.KeySize)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	urls = make([]string, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			st := open(t, dbURL)
			cfg := server.Config{DataDir: dir, PublicURL: "http://slipway.test", RateLimit: 1000, RateBurst: 1000, SecretKeyFile: keyFile}
			err := st.WithLock(t.Context(), "bootstrap", func(ctx context.Context) error { // as server.Run does
				_, err := server.EnsureBootstrap(ctx, st, cfg.DataDir, server.Bootstrap{ProvisioningSecret: provisioning}, time.Now())
				return err
			})
			if err != nil {
				t.Errorf("bootstrap %d: %v", i, err)
				return
			}
			srv, err := server.New(cfg, server.Options{Store: st})
			if err != nil {
				t.Errorf("replica %d: %v", i, err)
				return
			}
			ts := httptest.NewServer(srv)
			t.Cleanup(func() { ts.Close(); srv.Close() })
			urls[i] = ts.URL
		})
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	tok, err := os.ReadFile(filepath.Join(dir, server.AdminTokenFile))
	if err != nil {
		t.Fatalf("the first replica should have written the admin token: %v", err)
	}
	return urls, strings.TrimSpace(string(tok)), dbURL
}

func registerAt(t *testing.T, base, serial string) (id, tok string) {
	t.Helper()
	code, out := testenv.CallJSON(t, "POST", base+"/api/machines/register", "", map[string]any{
		"provisioningSecret": provisioning, "hostname": "host-" + serial,
		"os":            map[string]string{"name": "linux", "version": "6.1", "architecture": "amd64"},
		"serialNumbers": []string{serial}, "macAddresses": []string{},
	})
	if code != http.StatusOK && code != http.StatusCreated {
		t.Fatalf("register: %d %v", code, out)
	}
	return out["machineId"].(string), out["machineToken"].(string)
}

func heartbeat(t *testing.T, base, tok string) int {
	t.Helper()
	code, _ := testenv.CallJSON(t, "POST", base+"/api/machines/heartbeat", tok, map[string]any{"status": "ok", "agentVersion": "1.0.0"})
	return code
}

func TestReplicasShareTokensAndKeys(t *testing.T) {
	urls, admin, _ := replicas(t, 2)
	a, b := urls[0], urls[1]
	id, tok := registerAt(t, a, "SN-1")
	if code := heartbeat(t, b, tok); code != http.StatusOK {
		t.Fatalf("heartbeat on the other replica: %d", code)
	}
	// Rotate on A; B refuses the old token at once and takes the new one.
	code, out := testenv.CallJSON(t, "POST", a+"/api/admin/machines/"+id+"/token/rotate", admin, nil)
	if code != http.StatusOK {
		t.Fatalf("rotate: %d %v", code, out)
	}
	if code := heartbeat(t, b, tok); code != http.StatusUnauthorized {
		t.Fatalf("old token on replica B after rotation on A: %d, want 401", code)
	}
	fresh := out["machineToken"].(string)
	if code := heartbeat(t, b, fresh); code != http.StatusOK {
		t.Fatalf("new token on B: %d", code)
	}
	// Revoke on B; A refuses.
	if code, _ := testenv.CallJSON(t, "POST", b+"/api/admin/machines/"+id+"/token/revoke", admin, nil); code != http.StatusOK && code != http.StatusNoContent {
		t.Fatalf("revoke: %d", code)
	}
	if code := heartbeat(t, a, fresh); code != http.StatusUnauthorized {
		t.Fatalf("revoked token on A: %d, want 401", code)
	}
	// A session issued by one replica verifies on the other: one signing key.
	_, tok2 := registerAt(t, b, "SN-2")
	code, sess := testenv.CallJSON(t, "POST", b+"/api/machines/sessions", tok2, nil)
	if code != http.StatusOK {
		t.Fatalf("session: %d %v", code, sess)
	}
	jwt, _ := sess["token"].(string)
	if code, me := testenv.CallJSON(t, "GET", a+"/api/machines/me", jwt, nil); code != http.StatusOK {
		t.Fatalf("session from B on A: %d %v", code, me)
	}
	_, ja := testenv.CallJSON(t, "GET", a+"/.well-known/jwks.json", "", nil)
	_, jb := testenv.CallJSON(t, "GET", b+"/.well-known/jwks.json", "", nil)
	if fmt.Sprint(ja) != fmt.Sprint(jb) || len(ja["keys"].([]any)) != 1 {
		t.Fatalf("replicas publish different keys:\n%v\n%v", ja, jb)
	}
}

func TestReplicasKeepEveryHeartbeat(t *testing.T) {
	urls, _, dbURL := replicas(t, 2)
	const machines, beats = 10, 20
	toks := make([]string, machines)
	for i := range toks {
		_, toks[i] = registerAt(t, urls[i%2], fmt.Sprintf("SN-%d", i))
	}
	var acked atomic.Int64
	var wg sync.WaitGroup
	for i, tok := range toks {
		wg.Go(func() {
			for j := range beats {
				if heartbeat(t, urls[(i+j)%2], tok) == http.StatusOK {
					acked.Add(1)
				}
			}
		})
	}
	wg.Wait()
	if acked.Load() != machines*beats {
		t.Fatalf("acked %d of %d", acked.Load(), machines*beats)
	}
	n, err := open(t, dbURL).CountHeartbeats(t.Context())
	// Registration records one "registered" heartbeat per machine.
	if err != nil || n != machines*beats+machines {
		t.Fatalf("stored %d heartbeats (%v), want %d acknowledged + %d registrations", n, err, machines*beats, machines)
	}
}

func TestServerSelectsPostgresByURL(t *testing.T) {
	url := pgtest.Start(t)
	srv, err := server.New(server.Config{DatabaseURL: url, DataDir: t.TempDir()}, server.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	if _, ok := srv.Store().(*postgres.Store); !ok {
		t.Fatalf("store is %T, want *postgres.Store", srv.Store())
	}
	if _, err := server.New(server.Config{DatabaseURL: "mysql://x"}, server.Options{}); err == nil {
		t.Fatal("accepted a non-PostgreSQL database URL")
	}
}

// TestReplicaWithAnotherSecretKeyRefusesToStart: the signing keys in the
// database are sealed; a replica given a different secret key file cannot
// open them and says so, instead of minting sessions nobody else accepts.
func TestReplicaWithAnotherSecretKeyRefusesToStart(t *testing.T) {
	_, _, dbURL := replicas(t, 1)
	st := open(t, dbURL)
	keys, err := st.SigningKeys(t.Context())
	if err != nil || len(keys) == 0 || !keyseal.Sealed(keys[0].Seed) {
		t.Fatalf("stored signing keys are not sealed: %d keys, %v", len(keys), err)
	}
	other := filepath.Join(t.TempDir(), "other.key")
	if err := os.WriteFile(other, []byte(strings.Repeat("77", keyseal.KeySize)), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err = server.New(server.Config{DataDir: t.TempDir(), SecretKeyFile: other}, server.Options{Store: st})
	if !errors.Is(err, keyseal.ErrWrongKey) {
		t.Fatalf("replica with another key file: %v", err)
	}
	_, err = server.New(server.Config{DataDir: t.TempDir(), SecretKeyFile: filepath.Join(t.TempDir(), "missing.key")}, server.Options{Store: st})
	if !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("replica with a missing key file: %v", err)
	}
}
