package machineapi

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestParseServerURL(t *testing.T) {
	tests := []struct {
		in, want string
		ok       bool
	}{
		{"https://slipway.example.com/", "https://slipway.example.com", true},
		{" http://127.0.0.1:8080/base/ ", "http://127.0.0.1:8080/base", true},
		{"ftp://x", "", false},
		{"https://", "", false},
		{"https://user:pw@x.example", "", false},
		{"https://x.example/?a=b", "", false},
		{"https://x.example/#f", "", false},
		{"slipway.example.com", "", false},
		{"", "", false},
	}
	for _, tc := range tests {
		u, err := ParseServerURL(tc.in)
		if (err == nil) != tc.ok {
			t.Errorf("%q: err=%v", tc.in, err)
			continue
		}
		if tc.ok && u.String() != tc.want {
			t.Errorf("%q: got %q want %q", tc.in, u, tc.want)
		}
	}
}

func TestHandshakeURLEscapesCode(t *testing.T) {
	c, err := New("https://s.example/base", Options{})
	if err != nil {
		t.Fatal(err)
	}
	if got := c.HandshakeURL("a&b=c"); got != "https://s.example/base/machines/handshake?code=a%26b%3Dc" {
		t.Fatal(got)
	}
}

// TestErrorsAndLimits checks status mapping, the JSON error body, oversize
// and garbage answers against a loopback server.
func TestErrorsAndLimits(t *testing.T) {
	tests := []struct {
		name   string
		status int
		body   string
		is     error
		msg    string
	}{
		{"revoked", 401, `{"error":"token_revoked","message":"machine token was revoked or replaced"}`, ErrUnauthorized, "token_revoked: machine token was revoked"},
		{"rate limited", 429, `{"error":"rate_limited","message":"slow down"}`, ErrRateLimited, "rate_limited"},
		{"server error", 503, `oops`, ErrUnavailable, "503"},
		{"bad request", 400, `{"error":"invalid_request","message":"hostname is required","field":"hostname"}`, ErrRejected, "hostname is required"},
		{"garbage 200", 200, `<html>`, ErrBadResponse, ""},
		{"truncated 200", 200, `{"heartbeatIntervalSeconds":6`, ErrBadResponse, ""},
		{"oversize 200", 200, `{"x":"` + strings.Repeat("a", MaxResponseBytes) + `"}`, ErrBadResponse, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.Header.Get("Authorization") != "Bearer tok" {
					t.Errorf("authorization header %q", r.Header.Get("Authorization"))
				}
				w.Header().Set("Retry-After", "7")
				w.WriteHeader(tc.status)
				_, _ = w.Write([]byte(tc.body))
			}))
			defer srv.Close()
			c, err := New(srv.URL, Options{})
			if err != nil {
				t.Fatal(err)
			}
			_, err = c.Heartbeat(t.Context(), "tok", HeartbeatRequest{Status: "online"})
			if !errors.Is(err, tc.is) {
				t.Fatalf("want %v, got %v", tc.is, err)
			}
			if !strings.Contains(err.Error(), tc.msg) {
				t.Fatalf("error %q does not mention %q", err, tc.msg)
			}
			if strings.Contains(err.Error(), "tok\"") {
				t.Fatal("token leaked into the error")
			}
			var apiErr *Error
			if tc.status == 429 && (!errors.As(err, &apiErr) || apiErr.RetryAfter.Seconds() != 7) {
				t.Fatalf("retry-after not parsed: %v", err)
			}
		})
	}
}

func TestUnreachableIsUnavailable(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close()
	c, _ := New(url, Options{})
	if _, err := c.Me(t.Context(), "tok"); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("want ErrUnavailable, got %v", err)
	}
}

// TestRegisterClientKind: the kind travels in the body ("" stays out of it,
// for servers from before client kinds) and an unknown kind is refused
// before anything is sent.
func TestRegisterClientKind(t *testing.T) {
	var bodies []map[string]any
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var b map[string]any
		if err := json.NewDecoder(r.Body).Decode(&b); err != nil {
			t.Error(err)
		}
		bodies = append(bodies, b)
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"machineId":"m1","machineToken":"tok"}`))
	}))
	defer srv.Close()
	c, err := New(srv.URL, Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		client string
		want   any // the body's client value; nil: absent
		ok     bool
	}{
		{"", nil, true},
		{ClientAgent, "agent", true},
		{ClientDesktop, "desktop", true},
		{"Desktop", nil, false},
		{"browser", nil, false},
	} {
		n := len(bodies)
		_, err := c.Register(t.Context(), RegisterRequest{ProvisioningSecret: "s", Hostname: "h", Client: tc.client})
		if (err == nil) != tc.ok {
			t.Errorf("client %q: err %v, want ok %v", tc.client, err, tc.ok)
			continue
		}
		if !tc.ok {
			if len(bodies) != n {
				t.Errorf("client %q: a request was sent", tc.client)
			}
			continue
		}
		got, present := bodies[len(bodies)-1]["client"]
		if (tc.want == nil && present) || (tc.want != nil && got != tc.want) {
			t.Errorf("client %q: body client = %v (present %v), want %v", tc.client, got, present, tc.want)
		}
	}
}
