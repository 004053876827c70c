package server

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/slipwayhq/slipway/server/session"
	"github.com/slipwayhq/slipway/server/store"
	"github.com/slipwayhq/slipway/server/token"
)

// SessionCookie is the name of the HttpOnly machine session cookie.
const SessionCookie = "slipway_session"

type ctxKey int

const (
	machineKey ctxKey = iota
	adminKey
	tenantKey
)

// Caller is an authenticated machine.
type Caller struct {
	MachineID string
	TenantID  string
	// TokenHash and ExpiresAt are set when the machine authenticated with
	// its token (rather than a session).
	TokenHash []byte
	ExpiresAt time.Time
}

// MachineFromContext returns the machine that made the request, for routes
// mounted through Options.Mount and the machine routes.
func MachineFromContext(ctx context.Context) (Caller, bool) {
	c, ok := ctx.Value(machineKey).(Caller)
	return c, ok
}

func bearer(r *http.Request) string {
	v, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok {
		return ""
	}
	return strings.TrimSpace(v)
}

// checkMachineToken validates a machine token value.
func (s *Server) checkMachineToken(ctx context.Context, value string) (Caller, error) {
	if value == "" {
		return Caller{}, unauthorized("unauthorized", "a machine token is required")
	}
	if len(value) > token.MaxLen || !strings.HasPrefix(value, token.Machine) {
		return Caller{}, unauthorized("invalid_token", "invalid machine token")
	}
	h := token.Hash(value)
	t, err := s.st.GetToken(ctx, h)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return Caller{}, unauthorized("invalid_token", "invalid machine token")
	case err != nil:
		return Caller{}, err
	case !token.Equal(t.Hash, h):
		return Caller{}, unauthorized("invalid_token", "invalid machine token")
	case !t.RevokedAt.IsZero():
		return Caller{}, rejected("token_revoked", "machine token was revoked or replaced")
	case !s.now().Before(t.ExpiresAt):
		return Caller{}, rejected("token_expired", "machine token expired; register again")
	}
	return Caller{MachineID: t.MachineID, TenantID: t.TenantID, TokenHash: h, ExpiresAt: t.ExpiresAt}, nil
}

// checkSession validates a session JWT, and that its machine still exists
// and its sessions were not revoked after it was issued (one indexed read
// per request, so a revocation through any replica is honoured at once).
func (s *Server) checkSession(ctx context.Context, value string) (Caller, error) {
	c, err := s.sessions.Verify(ctx, value, s.now())
	if errors.Is(err, session.ErrExpired) {
		return Caller{}, rejected("session_expired", "session expired")
	}
	if err != nil {
		return Caller{}, unauthorized("invalid_session", "invalid session")
	}
	revoked, err := s.st.SessionsRevokedAt(ctx, c.MachineID())
	if errors.Is(err, store.ErrNotFound) {
		return Caller{}, rejected("session_revoked", "the session's machine no longer exists")
	}
	if err != nil {
		return Caller{}, err
	}
	if !time.Unix(c.IssuedAt, 0).After(revoked) {
		return Caller{}, rejected("session_revoked", "the session was revoked with the machine's token")
	}
	return Caller{MachineID: c.MachineID(), TenantID: c.Tenant}, nil
}

// callerFrom authenticates a machine by bearer token or JWT, or the
// session cookie. ok is false when no credential was presented.
func (s *Server) callerFrom(r *http.Request) (c Caller, ok bool, err error) {
	if b := bearer(r); b != "" {
		if strings.HasPrefix(b, token.Machine) {
			c, err = s.checkMachineToken(r.Context(), b)
		} else {
			c, err = s.checkSession(r.Context(), b)
		}
		return c, true, err
	}
	if ck, cerr := r.Cookie(SessionCookie); cerr == nil && ck.Value != "" {
		c, err = s.checkSession(r.Context(), ck.Value)
		return c, true, err
	}
	return Caller{}, false, nil
}

func withCaller(r *http.Request, c Caller) *http.Request {
	return r.WithContext(context.WithValue(r.Context(), machineKey, c))
}

func (s *Server) requireMachineToken(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := s.checkMachineToken(r.Context(), bearer(r))
		if err != nil {
			s.renderError(w, r, err)
			return
		}
		next.ServeHTTP(w, withCaller(r, c))
	})
}

func (s *Server) requireMachineSession(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, ok, err := s.callerFrom(r)
		if err == nil && !ok {
			err = unauthorized("unauthorized", "a machine session or token is required")
		}
		if err != nil {
			s.renderError(w, r, err)
			return
		}
		next.ServeHTTP(w, withCaller(r, c))
	})
}

// identifyMachine attaches the caller when valid credentials are presented
// and rejects invalid ones; anonymous requests pass through.
func (s *Server) identifyMachine(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(bearer(r), token.Admin) {
			next.ServeHTTP(w, r) // admin tokens are for the mounted routes to check
			return
		}
		c, ok, err := s.callerFrom(r)
		if err != nil {
			s.renderError(w, r, err)
			return
		}
		if ok {
			r = withCaller(r, c)
		}
		next.ServeHTTP(w, r)
	})
}

func (s *Server) requireAdmin(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		value := bearer(r)
		if value == "" || len(value) > token.MaxLen || !strings.HasPrefix(value, token.Admin) {
			s.renderError(w, r, unauthorized("unauthorized", "an admin token is required"))
			return
		}
		h := token.Hash(value)
		t, err := s.st.GetAdminToken(r.Context(), h)
		if errors.Is(err, store.ErrNotFound) || (err == nil && (!token.Equal(t.Hash, h) || !t.Active(s.now()) || store.RoleRank(t.Role) == 0)) {
			err = unauthorized("invalid_token", "invalid, revoked or expired admin token")
		}
		if err != nil {
			s.renderError(w, r, err)
			return
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), adminKey, t)))
	})
}

// adminScope returns the tenant an admin token is limited to ("" = all).
func adminScope(ctx context.Context) string {
	t, _ := ctx.Value(adminKey).(store.AdminToken)
	return t.TenantID
}

// allowTenant rejects access to a tenant outside the admin token's scope.
func allowTenant(ctx context.Context, tenantID string) error {
	if scope := adminScope(ctx); scope != "" && scope != tenantID {
		return errForbidden
	}
	return nil
}

// findSecret returns the active secret with this value.
func (s *Server) findSecret(ctx context.Context, value string) (store.Secret, error) {
	if value == "" || len(value) > token.MaxLen {
		return store.Secret{}, store.ErrNotFound
	}
	h := token.Hash(value)
	sec, err := s.st.FindSecret(ctx, h)
	if err != nil {
		return sec, err
	}
	if !token.Equal(sec.Hash, h) || !sec.RevokedAt.IsZero() {
		return store.Secret{}, store.ErrNotFound
	}
	return sec, nil
}

// requireFleetSecret accepts a tenant's Fleet secret, or its provisioning
// secret when the tenant has no active Fleet secret.
func (s *Server) requireFleetSecret(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		value := r.Header.Get("x-fleet-secret")
		if value == "" {
			value = r.URL.Query().Get("secret")
		}
		tenantID, err := s.fleetTenant(r.Context(), value)
		if err != nil {
			s.renderError(w, r, err)
			return
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), tenantKey, tenantID)))
	})
}

func (s *Server) fleetTenant(ctx context.Context, value string) (string, error) {
	bad := unauthorized("unauthorized", "a valid Fleet secret is required (x-fleet-secret header or secret parameter)")
	sec, err := s.findSecret(ctx, value)
	if errors.Is(err, store.ErrNotFound) {
		return "", bad
	}
	if err != nil {
		return "", err
	}
	switch sec.Kind {
	case store.SecretFleet:
		return sec.TenantID, nil
	case store.SecretProvisioning:
		all, err := s.st.ListSecrets(ctx, sec.TenantID)
		if err != nil {
			return "", err
		}
		for _, o := range all {
			if o.Kind == store.SecretFleet && o.RevokedAt.IsZero() {
				return "", bad
			}
		}
		return sec.TenantID, nil
	}
	return "", bad
}
