package server

import (
	"context"
	"errors"
	"net/http"

	"github.com/go-chi/chi/v5/middleware"

	"github.com/slipwayhq/slipway/server/store"
)

// adminToken is the admin token that authenticated the request.
func adminToken(ctx context.Context) store.AdminToken {
	t, _ := ctx.Value(adminKey).(store.AdminToken)
	return t
}

// roleOf names a token's role ("" reads as admin).
func roleOf(t store.AdminToken) string {
	if t.Role == "" {
		return store.RoleAdmin
	}
	return t.Role
}

// requireRole refuses admin tokens whose role is below min with a 403
// (auditDenied records it). Routes state their minimum where they are
// registered.
func (s *Server) requireRole(min string) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			t := adminToken(r.Context())
			if store.RoleRank(t.Role) < store.RoleRank(min) {
				s.renderError(w, r, &Error{Status: http.StatusForbidden, Code: "forbidden_role",
					Message: "this admin token's role (" + roleOf(t) + ") may not do this; it needs " + min})
				return
			}
			next.ServeHTTP(w, r)
		})
	}
}

// auditDenied records every 403 of the admin API (a role too low, a
// tenant outside the token's scope) in the audit log, so refused attempts
// are visible to the admins.
func (s *Server) auditDenied(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ww := middleware.NewWrapResponseWriter(w, r.ProtoMajor)
		next.ServeHTTP(ww, r)
		if ww.Status() == http.StatusForbidden {
			s.audit(r, store.AuditDenied, adminScope(r.Context()), r.Method+" "+r.URL.Path,
				map[string]any{"role": roleOf(adminToken(r.Context()))}, errors.New("forbidden: refused with 403"))
		}
	})
}
