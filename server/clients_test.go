package server_test

import (
	"net/http"
	"testing"
)

// registerAs returns body with its client kind set.
func registerAs(body map[string]any, client string) map[string]any {
	body["client"] = client
	return body
}

// registerClient registers with the client kind and returns the machine.
func (e *env) registerClient(client string, want int, serials ...string) registered {
	e.t.Helper()
	r := expect(e.t, e.do("POST", "/api/machines/register", "", registerAs(registerBody(e.secret, "host", serials...), client)), want)
	m := r.JSON(e.t)
	return registered{ID: m["machineId"].(string), Token: m["machineToken"].(string)}
}

// usable checks that a machine token heartbeats and opens a session (or,
// when want is 401, that both are refused).
func (e *env) usable(name, tok string, want int) {
	e.t.Helper()
	hb := e.do("POST", "/api/machines/heartbeat", tok, map[string]any{"status": "ok"})
	ss := e.do("POST", "/api/machines/sessions", tok, map[string]any{})
	if hb.Status != want || ss.Status != want {
		e.t.Errorf("%s token: heartbeat %d, session %d, want %d", name, hb.Status, ss.Status, want)
	}
}

// TestAgentAndDesktopTokensCoexist is the end of the flip-flop: the agent
// and the desktop client of one machine register with the same hardware
// and both keep working; each re-registration revokes only its own kind.
func TestAgentAndDesktopTokensCoexist(t *testing.T) {
	e := newEnv(t)
	agent := e.registerClient("agent", http.StatusCreated, "SN-SHARED")
	desktop := e.registerClient("desktop", http.StatusOK, "SN-SHARED")
	if desktop.ID != agent.ID {
		t.Fatalf("desktop got machine %s, agent %s: want one machine", desktop.ID, agent.ID)
	}
	e.usable("agent", agent.Token, http.StatusOK)
	e.usable("desktop", desktop.Token, http.StatusOK)

	desktop2 := e.registerClient("desktop", http.StatusOK, "SN-SHARED")
	e.usable("old desktop", desktop.Token, http.StatusUnauthorized)
	e.usable("agent after desktop re-registration", agent.Token, http.StatusOK)
	e.usable("new desktop", desktop2.Token, http.StatusOK)

	// No client field is the agent: it replaces the agent's token only.
	agent2 := e.register(e.secret, "host", "SN-SHARED")
	e.usable("old agent", agent.Token, http.StatusUnauthorized)
	e.usable("new agent", agent2.Token, http.StatusOK)
	e.usable("desktop after agent re-registration", desktop2.Token, http.StatusOK)

	// An admin rotation replaces both, an admin revocation revokes both.
	r := expect(t, e.do("POST", "/api/admin/machines/"+agent.ID+"/token/rotate", e.admin, nil), http.StatusOK)
	rotated, _ := r.JSON(t)["machineToken"].(string)
	e.usable("agent after rotation", agent2.Token, http.StatusUnauthorized)
	e.usable("desktop after rotation", desktop2.Token, http.StatusUnauthorized)
	e.usable("rotated", rotated, http.StatusOK)
	desktop3 := e.registerClient("desktop", http.StatusOK, "SN-SHARED")
	expect(t, e.do("POST", "/api/admin/machines/"+agent.ID+"/token/revoke", e.admin, nil), http.StatusOK)
	e.usable("rotated after revocation", rotated, http.StatusUnauthorized)
	e.usable("desktop after revocation", desktop3.Token, http.StatusUnauthorized)
}

// TestRegisterClientValidated: the client field is one of two exact
// strings; anything else is a 400 naming the field and stores nothing.
func TestRegisterClientValidated(t *testing.T) {
	e := newEnv(t)
	m := e.register(e.secret, "victim", "V1")
	before := e.dump(m.Token)
	for _, client := range []any{"Agent", "DESKTOP", "browser", " desktop", "desktop\u0000", "agent,desktop", 1, true,
		[]string{"agent"}, map[string]any{}} {
		body := registerBody(e.secret, "victim", "V1")
		body["client"] = client
		r := expect(t, e.do("POST", "/api/machines/register", "", body), http.StatusBadRequest)
		if f := r.JSON(t)["field"]; f != "client" {
			t.Errorf("client %#v: field = %v, want client", client, f)
		}
	}
	if after := e.dump(m.Token); after != before {
		t.Fatal("a refused registration changed the store")
	}
	e.usable("victim", m.Token, http.StatusOK)
}
