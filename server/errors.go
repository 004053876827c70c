package server

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/slipwayhq/slipway/server/store"
)

// Error is the one error type handlers return; renderError writes it.
type Error struct {
	Status  int    // HTTP status
	Code    string // stable machine-readable code, e.g. "invalid_request"
	Message string // human-readable, safe to show
	Field   string // offending JSON field or query parameter, if any
	Err     error  // cause, logged but never rendered
	// Retry is the Retry-After of a 429 (default: 1 second).
	Retry time.Duration
	// Known marks a 401 for a credential this server issued and still
	// recognises (an expired or replaced machine token, an expired session
	// whose signature verified): it proves an earlier sign-in, not a guess,
	// so the failed-authentication limit does not count it.
	Known bool
}

func (e *Error) Error() string {
	msg := e.Code + ": " + e.Message
	if e.Field != "" {
		msg += " (" + e.Field + ")"
	}
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	return msg
}

func (e *Error) Unwrap() error { return e.Err }

// errorBody is the JSON shape of every error response.
type errorBody struct {
	Error   string `json:"error"`
	Message string `json:"message"`
	Field   string `json:"field,omitempty"`
}

func badRequest(field, format string, args ...any) *Error {
	return &Error{Status: http.StatusBadRequest, Code: "invalid_request", Field: field, Message: fmt.Sprintf(format, args...)}
}

func unauthorized(code, msg string) *Error {
	return &Error{Status: http.StatusUnauthorized, Code: code, Message: msg}
}

// rejected is unauthorized for a credential the server recognises (Known).
func rejected(code, msg string) *Error {
	return &Error{Status: http.StatusUnauthorized, Code: code, Message: msg, Known: true}
}

var (
	errNotFound  = &Error{Status: http.StatusNotFound, Code: "not_found", Message: "not found"}
	errForbidden = &Error{Status: http.StatusForbidden, Code: "forbidden", Message: "this token may not access that tenant"}
	errLimited   = &Error{Status: http.StatusTooManyRequests, Code: "rate_limited", Message: "too many requests, retry later"}
)

// renderError writes err as a JSON error response; anything that is not an
// *Error is logged and answered with a generic 500.
func (s *Server) renderError(w http.ResponseWriter, r *http.Request, err error) {
	var e *Error
	if errors.Is(err, store.ErrUnavailable) {
		e = &Error{Status: http.StatusServiceUnavailable, Code: "unavailable", Message: "the database cannot take this now; retry later"}
		w.Header().Set("Retry-After", "30")
		s.log.WarnContext(r.Context(), "request refused: store unavailable", "method", r.Method, "path", r.URL.Path, "err", err)
	} else if !errors.As(err, &e) {
		s.log.ErrorContext(r.Context(), "request failed", "method", r.Method, "path", r.URL.Path, "err", err)
		e = &Error{Status: http.StatusInternalServerError, Code: "internal", Message: "internal error"}
	} else if e.Status >= 500 {
		s.log.ErrorContext(r.Context(), "request failed", "method", r.Method, "path", r.URL.Path, "err", e)
	}
	if e.Status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="slipway"`)
		if e.Known {
			knownCredential(r)
		}
	}
	if e.Status == http.StatusTooManyRequests {
		w.Header().Set("Retry-After", retryAfter(e.Retry))
	}
	writeJSON(w, e.Status, errorBody{Error: e.Code, Message: e.Message, Field: e.Field})
}

// writeJSON writes v with the status.
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

// handlerFunc is an http handler that returns its error for renderError.
type handlerFunc func(w http.ResponseWriter, r *http.Request) error

func (s *Server) h(f handlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if err := f(w, r); err != nil {
			s.renderError(w, r, err)
		}
	}
}
