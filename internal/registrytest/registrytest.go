// Package registrytest runs a real OCI registry (go-containerregistry's
// in-memory registry, the one `crane registry serve` runs) on 127.0.0.1
// for tests, optionally behind HTTP basic authentication as registries
// that need a login answer: 401 with a Basic challenge.
package registrytest

import (
	"crypto/subtle"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/google/go-containerregistry/pkg/registry"
)

// Registry is a running test registry.
type Registry struct {
	// Host is host:port, for image references (Host + "/repo/name").
	Host string
	// URL is http://Host.
	URL string
	// Authenticated counts requests that carried the right credentials.
	Authenticated *atomic.Int64
}

// Handler serves a fresh in-memory registry; with a non-empty user every
// request must carry that user and password.
func Handler(user, password string, authenticated *atomic.Int64) http.Handler {
	reg := registry.New(registry.Logger(log.New(io.Discard, "", 0)))
	if user == "" {
		return reg
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u, p, ok := r.BasicAuth()
		if !ok || subtle.ConstantTimeCompare([]byte(u), []byte(user))&subtle.ConstantTimeCompare([]byte(p), []byte(password)) != 1 {
			w.Header().Set("WWW-Authenticate", `Basic realm="registrytest"`)
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusUnauthorized)
			_, _ = io.WriteString(w, `{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}`)
			return
		}
		authenticated.Add(1)
		reg.ServeHTTP(w, r)
	})
}

// Start runs a registry for the test's lifetime; user "" needs no login.
func Start(t testing.TB, user, password string) *Registry {
	t.Helper()
	n := new(atomic.Int64)
	srv := httptest.NewServer(Handler(user, password, n))
	t.Cleanup(srv.Close)
	return &Registry{Host: strings.TrimPrefix(srv.URL, "http://"), URL: srv.URL, Authenticated: n}
}
