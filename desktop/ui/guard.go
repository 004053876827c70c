package ui

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"net/http"
	"strings"
)

// maxFormBytes bounds every form body.
const maxFormBytes = 16 << 10

// newSecret returns 256 random bits, URL-safe.
func newSecret() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b) // crypto/rand.Read never fails (Go ≥ 1.24)
	return base64.RawURLEncoding.EncodeToString(b)
}

// guard admits only requests that (1) name this listener exactly in Host
// (no DNS rebinding), (2) carry the per-launch secret as the first path
// segment, compared in constant time, and (3) for anything but GET/HEAD come
// from this origin (Origin, else Sec-Fetch-Site) and carry the form token.
// Everything else gets a bare 404/403 that reveals nothing.
func (s *Server) guard(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		setSecurityHeaders(w)
		if r.Host != s.host {
			http.Error(w, "forbidden", http.StatusForbidden)
			return
		}
		rest, ok := s.stripSecret(r.URL.Path)
		if !ok {
			http.NotFound(w, r)
			return
		}
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			if !s.sameOrigin(r) || !s.validFormToken(w, r) {
				http.Error(w, "forbidden", http.StatusForbidden)
				return
			}
		}
		r2 := r.Clone(r.Context())
		r2.URL.Path = rest
		r2.URL.RawPath = ""
		next.ServeHTTP(w, r2)
	})
}

func (s *Server) stripSecret(path string) (string, bool) {
	p := strings.TrimPrefix(path, "/")
	seg, rest, _ := strings.Cut(p, "/")
	if subtle.ConstantTimeCompare([]byte(seg), []byte(s.secret)) != 1 {
		return "", false
	}
	return "/" + rest, true
}

func (s *Server) sameOrigin(r *http.Request) bool {
	switch o := r.Header.Get("Origin"); o {
	case s.origin:
		return true
	case "", "null":
		// Our Referrer-Policy is no-referrer, so browsers send "Origin: null"
		// on our own form posts; accept it only when the browser itself
		// labels the request same-origin (Sec-Fetch-* cannot be set by pages).
		return r.Header.Get("Sec-Fetch-Site") == "same-origin"
	default:
		return false
	}
}

func (s *Server) validFormToken(w http.ResponseWriter, r *http.Request) bool {
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	if err := r.ParseForm(); err != nil {
		return false
	}
	return subtle.ConstantTimeCompare([]byte(r.PostForm.Get("csrf")), []byte(s.csrf)) == 1
}

func setSecurityHeaders(w http.ResponseWriter) {
	h := w.Header()
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
	h.Set("Referrer-Policy", "no-referrer") // the secret is in our URLs
	h.Set("X-Frame-Options", "DENY")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cache-Control", "no-store")
	h.Set("Cross-Origin-Opener-Policy", "same-origin")
	h.Set("Cross-Origin-Resource-Policy", "same-origin")
}
