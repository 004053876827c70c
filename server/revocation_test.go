package server_test

import (
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/slipwayhq/slipway/server"
)

// whoami is a mounted route (like the updater's) that answers with the
// machine the server identified, or "anonymous".
func whoami(r chi.Router) {
	r.Get("/whoami", func(w http.ResponseWriter, r *http.Request) {
		c, ok := server.MachineFromContext(r.Context())
		if !ok {
			_, _ = w.Write([]byte("anonymous"))
			return
		}
		_, _ = w.Write([]byte(c.MachineID))
	})
}

// sessionCookie redeems a handshake code and returns the session cookie.
func (e *env) sessionCookie(code string, want int) string {
	e.t.Helper()
	r := expect(e.t, e.do("GET", "/machines/handshake?code="+url.QueryEscape(code), "", nil), want)
	for _, c := range (&http.Response{Header: r.Header}).Cookies() {
		if c.Name == server.SessionCookie {
			return c.Value
		}
	}
	return ""
}

// TestSessionsEndWithTheMachineToken is the sweep's finding: a machine's
// session JWTs and handshake cookies kept working for their whole TTL
// after its token was revoked or rotated, and after the machine was
// deleted. Each must be refused at once on every route, including routes
// mounted by other packages (the updater), and a handshake code issued
// before the revocation must not open a session.
func TestSessionsEndWithTheMachineToken(t *testing.T) {
	for _, action := range []string{"revoke", "rotate", "delete"} {
		t.Run(action, func(t *testing.T) {
			e := newEnvWith(t, server.Options{Mount: []func(chi.Router){whoami}})
			m := e.register(e.secret, "host-"+action, "S-"+action)
			jwt := expect(t, e.do("POST", "/api/machines/sessions", m.Token, nil), http.StatusOK).JSON(t)["token"].(string)
			code := expect(t, e.do("POST", "/api/machines/handshake", m.Token, nil), http.StatusCreated).JSON(t)["code"].(string)
			pending := expect(t, e.do("POST", "/api/machines/handshake", m.Token, nil), http.StatusCreated).JSON(t)["code"].(string)
			cookie := e.sessionCookie(code, http.StatusFound)
			creds := map[string][]string{
				"bearer JWT":       {"Authorization", "Bearer " + jwt},
				"handshake cookie": {"Cookie", server.SessionCookie + "=" + cookie},
			}
			for name, hdr := range creds {
				expect(t, e.do("GET", "/api/machines/me", "", nil, hdr...), http.StatusOK)
				if r := e.do("GET", "/whoami", "", nil, hdr...); r.Status != http.StatusOK || string(r.Body) != m.ID {
					t.Fatalf("%s before %s: mounted route saw %d %s", name, action, r.Status, r.Body)
				}
			}

			var fresh string
			switch action {
			case "revoke":
				expect(t, e.do("POST", "/api/admin/machines/"+m.ID+"/token/revoke", e.admin, nil), http.StatusOK)
			case "rotate":
				fresh = expect(t, e.do("POST", "/api/admin/machines/"+m.ID+"/token/rotate", e.admin, nil), http.StatusOK).JSON(t)["machineToken"].(string)
			case "delete":
				expect(t, e.do("DELETE", "/api/admin/machines/"+m.ID, e.admin, nil), http.StatusNoContent)
			}

			for name, hdr := range creds {
				for _, path := range []string{"/api/machines/me", "/whoami"} {
					r := expect(t, e.do("GET", path, "", nil, hdr...), http.StatusUnauthorized)
					if code := r.JSON(t)["error"]; code != "session_revoked" {
						t.Errorf("%s after %s on %s: error %v, want session_revoked", name, action, path, code)
					}
				}
			}
			e.sessionCookie(pending, http.StatusUnauthorized)

			if fresh != "" {
				// The rotated token opens sessions at once (same clock
				// instant as the rotation), and they work.
				jwt := expect(t, e.do("POST", "/api/machines/sessions", fresh, nil), http.StatusOK).JSON(t)["token"].(string)
				expect(t, e.do("GET", "/api/machines/me", jwt, nil), http.StatusOK)
				e.clock.Add(time.Millisecond) // codes of the rotation's own millisecond count as before it
				later := expect(t, e.do("POST", "/api/machines/handshake", fresh, nil), http.StatusCreated).JSON(t)["code"].(string)
				c := e.sessionCookie(later, http.StatusFound)
				expect(t, e.do("GET", "/api/machines/me", "", nil, "Cookie", server.SessionCookie+"="+c), http.StatusOK)
			}
		})
	}
}
