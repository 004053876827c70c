package server

import (
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/go-chi/chi/v5/middleware"
)

// limitFailedAuth limits failed authentications per client address on
// every route: each 401 answer spends one token of the address's bucket
// (Config.AuthFailureRate, AuthFailureBurst), and while the bucket is
// empty the address is answered 429 with Retry-After before its
// credentials are even looked at. This covers the admin API, the admin
// page login (mounted), the Fleet webhook, heartbeats and sessions.
// Successful requests spend nothing, so a healthy fleet behind one NAT
// address is never limited by this; the probes of /healthz, /readyz and
// /metrics are never refused.
func (s *Server) limitFailedAuth(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/healthz", "/readyz", "/metrics":
			next.ServeHTTP(w, r)
			return
		}
		addr := clientAddr(r, s.cfg.TrustedProxies)
		area := authArea(r.URL.Path)
		if d := s.authFailures.wait(addr, s.now()); d > 0 {
			s.metrics.authLimited.WithLabelValues(area).Inc()
			s.renderError(w, r, &Error{Status: http.StatusTooManyRequests, Code: "rate_limited",
				Message: "too many failed authentications from this address; retry later", Retry: d})
			return
		}
		ww := middleware.NewWrapResponseWriter(w, r.ProtoMajor)
		next.ServeHTTP(ww, r)
		if ww.Status() == http.StatusUnauthorized {
			s.metrics.authFailures.WithLabelValues(area).Inc()
			s.authFailures.allow(addr, s.now())
		}
	})
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
