package server

import (
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/slipwayhq/slipway/server/store/sqlite"
)

// A store that cannot take a write now (the SQLite heartbeat journal full
// while the database fails) is a 503 with Retry-After, not a 500: the
// agent keeps its heartbeat and tries again.
func TestStoreUnavailableIs503(t *testing.T) {
	s := &Server{log: slog.New(slog.DiscardHandler)}
	w := httptest.NewRecorder()
	s.renderError(w, httptest.NewRequest("POST", "/api/machines/heartbeat", nil),
		fmt.Errorf("heartbeat: commit 3: %w", sqlite.ErrJournalFull))
	if w.Code != http.StatusServiceUnavailable || w.Header().Get("Retry-After") == "" {
		t.Fatalf("status %d, Retry-After %q; want 503 with Retry-After", w.Code, w.Header().Get("Retry-After"))
	}
}
