package storetest

import (
	"testing"
	"time"

	"github.com/slipwayhq/slipway/server/store"
)

// registerAs registers m with a token of the client kind and returns the
// stored machine and whether it was created.
func registerAs(t *testing.T, s store.Store, m store.Machine, secret, client string, at time.Time) (store.Machine, bool) {
	t.Helper()
	tok := token(secret, m.ID, m.TenantID, at)
	tok.Client = client
	got, created, err := s.RegisterMachine(t.Context(), m, tok)
	must(t, err)
	return got, created
}

// wantTokens checks the state of tokens by secret: true = active.
func wantTokens(t *testing.T, s store.Store, step string, want map[string]bool) {
	t.Helper()
	for secret, active := range want {
		got, err := s.GetToken(t.Context(), hash(secret))
		must(t, err)
		if got.RevokedAt.IsZero() != active {
			t.Errorf("%s: token %s active = %v, want %v", step, secret, got.RevokedAt.IsZero(), active)
		}
	}
}

// testTokenClients checks that re-registering a machine revokes only the
// tokens of the same client kind, while rotation and revocation by an admin
// revoke every kind.
func testTokenClients(t *testing.T, s store.Store) {
	ctx := t.Context()
	tenant(t, s, "a")
	m := machine("a", "m1", "fp1")
	registerAs(t, s, m, "a1", "", t0) // "" is the agent
	other := m
	other.ID = "m1-desktop-attempt"
	got, created := registerAs(t, s, other, "d1", store.ClientDesktop, t0.Add(time.Minute))
	if created || got.ID != "m1" {
		t.Fatalf("desktop registration: id %q created %v, want the existing m1", got.ID, created)
	}
	wantTokens(t, s, "desktop after agent", map[string]bool{"a1": true, "d1": true})
	for secret, client := range map[string]string{"a1": store.ClientAgent, "d1": store.ClientDesktop} {
		tok, err := s.GetToken(ctx, hash(secret))
		must(t, err)
		if tok.Client != client || tok.MachineID != "m1" {
			t.Errorf("token %s = %+v, want client %q of m1", secret, tok, client)
		}
	}

	registerAs(t, s, m, "d2", store.ClientDesktop, t0.Add(2*time.Minute))
	wantTokens(t, s, "desktop again", map[string]bool{"a1": true, "d1": false, "d2": true})
	if d1, _ := s.GetToken(ctx, hash("d1")); !d1.RevokedAt.Equal(t0.Add(2 * time.Minute)) {
		t.Errorf("d1 revoked at %v, want %v", d1.RevokedAt, t0.Add(2*time.Minute))
	}
	registerAs(t, s, m, "a2", store.ClientAgent, t0.Add(3*time.Minute))
	wantTokens(t, s, "agent again", map[string]bool{"a1": false, "a2": true, "d2": true})

	// An admin rotation replaces every token of the machine.
	must(t, s.ReplaceToken(ctx, token("r1", "m1", "a", t0.Add(4*time.Minute))))
	wantTokens(t, s, "rotation", map[string]bool{"a2": false, "d2": false, "r1": true})
	if r1, _ := s.GetToken(ctx, hash("r1")); r1.Client != store.ClientAgent {
		t.Errorf("rotated token client = %q, want %q", r1.Client, store.ClientAgent)
	}

	// So does an admin revocation, and it counts both kinds.
	registerAs(t, s, m, "d3", store.ClientDesktop, t0.Add(5*time.Minute))
	n, err := s.RevokeTokens(ctx, "m1", t0.Add(6*time.Minute))
	must(t, err)
	if n != 2 {
		t.Errorf("RevokeTokens = %d, want 2 (agent and desktop)", n)
	}
	wantTokens(t, s, "revocation", map[string]bool{"r1": false, "d3": false})
}
