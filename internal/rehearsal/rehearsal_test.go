package rehearsal

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/slipwayhq/slipway/storage/fs"
)

func TestControl(t *testing.T) {
	const token = "0123456789abcdef0123"
	start := time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)
	c, err := NewControl(token, start)
	if err != nil {
		t.Fatal(err)
	}
	st, err := fs.New(t.TempDir(), fs.Options{})
	if err != nil {
		t.Fatal(err)
	}
	wrapped := c.Wrap(st)
	ticks := 0
	c.SetTick(func(context.Context) error {
		ticks++
		return errors.New("storage unreachable")
	})
	r := chi.NewRouter()
	c.Routes(r)
	later := start.Add(48 * time.Hour)
	for _, tc := range []struct {
		name, path, token, remote string
		want                      int
	}{
		{"clock", "/_rehearsal/clock?ns=" + strconv.FormatInt(later.UnixNano(), 10), token, "127.0.0.1:5", http.StatusOK},
		{"no token", "/_rehearsal/clock?ns=1", "", "127.0.0.1:5", http.StatusForbidden},
		{"wrong token", "/_rehearsal/clock?ns=1", token[:19] + "x", "127.0.0.1:5", http.StatusForbidden},
		{"truncated token", "/_rehearsal/clock?ns=1", token[:10], "127.0.0.1:5", http.StatusForbidden},
		{"oversize token", "/_rehearsal/clock?ns=1", strings.Repeat(token, 100), "127.0.0.1:5", http.StatusForbidden},
		{"not loopback", "/_rehearsal/clock?ns=1", token, "192.0.2.1:5", http.StatusForbidden},
		{"garbage remote", "/_rehearsal/clock?ns=1", token, "garbage", http.StatusForbidden},
		{"garbage clock", "/_rehearsal/clock?ns=soon", token, "[::1]:5", http.StatusBadRequest},
		{"garbage store", "/_rehearsal/store?down=yes", token, "127.0.0.1:5", http.StatusBadRequest},
		{"store down", "/_rehearsal/store?down=1", token, "127.0.0.1:5", http.StatusOK},
		{"tick while down", "/_rehearsal/tick", token, "127.0.0.1:5", http.StatusOK},
		{"store up", "/_rehearsal/store?down=0", token, "127.0.0.1:5", http.StatusOK},
		{"tick failing", "/_rehearsal/tick", token, "127.0.0.1:5", http.StatusInternalServerError},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req := httptest.NewRequest(http.MethodPost, tc.path, nil)
			req.RemoteAddr = tc.remote
			if tc.token != "" {
				req.Header.Set(TokenHeader, tc.token)
			}
			w := httptest.NewRecorder()
			r.ServeHTTP(w, req)
			if w.Code != tc.want {
				t.Fatalf("HTTP %d, want %d: %s", w.Code, tc.want, w.Body)
			}
			if tc.name == "store down" {
				if _, err := wrapped.List(t.Context(), ""); !errors.Is(err, ErrDown) {
					t.Fatalf("store down: List = %v", err)
				}
			}
		})
	}
	if got := c.Clock.Now(); !got.Equal(later) {
		t.Errorf("clock %v, want %v (a refused request moved it?)", got, later)
	}
	if ticks != 2 {
		t.Errorf("%d ticks, want 2", ticks)
	}
	if _, err := wrapped.List(t.Context(), ""); err != nil {
		t.Errorf("store back up: %v", err)
	}
	if _, err := NewControl("short", start); err == nil {
		t.Error("a short token was accepted")
	}
	if _, err := ParseClock("tomorrow"); err == nil {
		t.Error("ParseClock accepted garbage")
	}
}
