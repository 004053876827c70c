package server

import (
	"context"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/go-chi/chi/v5/middleware"
)

// limitFailedAuth limits failed authentications per client address on
// every route: each 401 answer to a credential the server does not
// recognise spends one token of the address's bucket
// (Config.AuthFailureRate, AuthFailureBurst), and while the bucket is
// empty the address is answered 429 with Retry-After before its
// credentials are even looked at. This covers the admin API, the admin
// page login (mounted), the Fleet webhook, heartbeats and sessions.
// Successful requests spend nothing, and neither does a 401 for a
// credential the server issued and still recognises (Error.Known: an
// expired or replaced machine token, an expired session): guessing one is
// as hard as guessing a valid one, and a fleet behind one NAT address that
// comes back after an outage longer than the token lifetime must be able
// to re-enroll rather than lock its whole address out. The probes of
// /healthz, /readyz and /metrics are never refused, and neither is a
// request that tests no credential (anonymousPublic): the update checks,
// TUF metadata and downloads of the machines behind an address where
// someone guesses tokens go on.
func (s *Server) limitFailedAuth(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/healthz", "/readyz", "/metrics":
			next.ServeHTTP(w, r)
			return
		}
		addr := clientAddr(r, s.cfg.TrustedProxies)
		area := authArea(r.URL.Path)
		if d := s.authFailures.wait(addr, s.now()); d > 0 && !anonymousPublic(r, area) {
			s.metrics.authLimited.WithLabelValues(area).Inc()
			s.renderError(w, r, &Error{Status: http.StatusTooManyRequests, Code: "rate_limited",
				Message: "too many failed authentications from this address; retry later", Retry: d})
			return
		}
		ww := middleware.NewWrapResponseWriter(w, r.ProtoMajor)
		var o authOutcome
		next.ServeHTTP(ww, r.WithContext(context.WithValue(r.Context(), authOutcomeKey{}, &o)))
		if ww.Status() == http.StatusUnauthorized {
			s.metrics.authFailures.WithLabelValues(area).Inc()
			if !o.known {
				s.authFailures.allow(addr, s.now())
			}
		}
	})
}

// anonymousPublic reports whether r tests no credential: a route outside
// the authentication areas (update checks, TUF metadata, downloads,
// documents, keys) with neither an Authorization header nor a session
// cookie, the only credentials those routes read (identifyMachine).
func anonymousPublic(r *http.Request, area string) bool {
	if area != "other" || r.Header.Get("Authorization") != "" {
		return false
	}
	_, err := r.Cookie(SessionCookie)
	return err != nil
}

// authOutcome is what a request's handler tells limitFailedAuth about its
// 401, through the request context.
type authOutcome struct{ known bool }

type authOutcomeKey struct{}

// knownCredential records that r is answered 401 for a credential the
// server recognises (see limitFailedAuth).
func knownCredential(r *http.Request) {
	if o, ok := r.Context().Value(authOutcomeKey{}).(*authOutcome); ok {
		o.known = true
	}
}

// authArea is the metric label of a path: a handful of fixed values.
func authArea(path string) string {
	for _, a := range []struct{ prefix, area string }{
		{"/api/admin/", "admin_api"},
		{"/admin/", "admin_page"},
		{"/api/integrations/fleet/", "fleet"},
		{"/api/machines/", "machine"},
		{"/machines/", "machine"},
	} {
		if strings.HasPrefix(path, a.prefix) {
			return a.area
		}
	}
	return "other"
}

// retryAfter renders a wait as whole seconds, at least 1.
func retryAfter(d time.Duration) string {
	return strconv.FormatInt(int64(max(1, math.Ceil(d.Seconds()))), 10)
}
