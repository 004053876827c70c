package machineapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Paths of the machine API (issue 2).
const (
	PathRegister      = "/api/machines/register"
	PathHeartbeat     = "/api/machines/heartbeat"
	PathSessions      = "/api/machines/sessions"
	PathHandshake     = "/api/machines/handshake"
	PathMe            = "/api/machines/me"
	PathHandshakePage = "/machines/handshake"
)

// MaxResponseBytes bounds every response body the client reads.
const MaxResponseBytes = 1 << 20

// Options tunes a Client; the zero value is safe.
type Options struct {
	// HTTPClient sends the requests. Default: a client with a 30 s timeout
	// that honours the proxy environment (HTTPS_PROXY, NO_PROXY).
	HTTPClient *http.Client
	// UserAgent is sent with every request. Default: "slipway-machineapi".
	UserAgent string
	// Logger receives debug lines (never tokens or secrets). Default: discard.
	Logger *slog.Logger
}

// Client calls one Slipway server's machine API.
type Client struct {
	base *url.URL
	http *http.Client
	ua   string
	log  *slog.Logger
}

// New returns a client for the server at baseURL (http or https, no query,
// no credentials in the URL).
func New(baseURL string, opts Options) (*Client, error) {
	u, err := ParseServerURL(baseURL)
	if err != nil {
		return nil, err
	}
	c := &Client{base: u, http: opts.HTTPClient, ua: opts.UserAgent, log: opts.Logger}
	if c.http == nil {
		c.http = &http.Client{Timeout: 30 * time.Second, Transport: http.DefaultTransport}
	}
	if c.ua == "" {
		c.ua = "slipway-machineapi"
	}
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	return c, nil
}

// ParseServerURL validates a server base URL and returns it normalised
// (no trailing slash).
func ParseServerURL(s string) (*url.URL, error) {
	u, err := url.Parse(strings.TrimSpace(s))
	if err != nil {
		return nil, fmt.Errorf("server url: %w", err)
	}
	switch {
	case u.Scheme != "http" && u.Scheme != "https":
		return nil, fmt.Errorf("server url %q: scheme must be http or https", s)
	case u.Host == "":
		return nil, fmt.Errorf("server url %q: missing host", s)
	case u.User != nil:
		return nil, fmt.Errorf("server url: credentials in the URL are not allowed")
	case u.RawQuery != "" || u.Fragment != "":
		return nil, fmt.Errorf("server url %q: query and fragment are not allowed", s)
	}
	u.Path = strings.TrimRight(u.Path, "/")
	return u, nil
}

// BaseURL returns the server base URL.
func (c *Client) BaseURL() string { return c.base.String() }

// HandshakeURL is the browser URL that redeems a one-time handshake code.
func (c *Client) HandshakeURL(code string) string {
	u := *c.base
	u.Path += PathHandshakePage
	u.RawQuery = url.Values{"code": {code}}.Encode()
	return u.String()
}

// Register enrolls this machine with a provisioning secret, for the client
// kind req.Client ("" is ClientAgent).
func (c *Client) Register(ctx context.Context, req RegisterRequest) (*RegisterResponse, error) {
	switch req.Client {
	case "", ClientAgent, ClientDesktop:
	default:
		return nil, fmt.Errorf("register: unknown client kind %q", req.Client)
	}
	var out RegisterResponse
	if err := c.do(ctx, http.MethodPost, PathRegister, "", req, &out); err != nil {
		return nil, err
	}
	if out.MachineID == "" || out.MachineToken == "" {
		return nil, fmt.Errorf("register: %w: missing machineId or machineToken", ErrBadResponse)
	}
	return &out, nil
}

// Heartbeat reports status and metrics with the machine token.
func (c *Client) Heartbeat(ctx context.Context, token string, req HeartbeatRequest) (*HeartbeatResponse, error) {
	var out HeartbeatResponse
	if err := c.do(ctx, http.MethodPost, PathHeartbeat, token, req, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// Session exchanges the machine token for a short-lived session JWT.
func (c *Client) Session(ctx context.Context, token string) (*SessionResponse, error) {
	var out SessionResponse
	if err := c.do(ctx, http.MethodPost, PathSessions, token, struct{}{}, &out); err != nil {
		return nil, err
	}
	if out.Token == "" {
		return nil, fmt.Errorf("session: %w: missing token", ErrBadResponse)
	}
	return &out, nil
}

// Handshake gets a one-time code for the browser handshake URL.
func (c *Client) Handshake(ctx context.Context, token string) (*HandshakeResponse, error) {
	var out HandshakeResponse
	if err := c.do(ctx, http.MethodPost, PathHandshake, token, struct{}{}, &out); err != nil {
		return nil, err
	}
	if out.Code == "" {
		return nil, fmt.Errorf("handshake: %w: missing code", ErrBadResponse)
	}
	return &out, nil
}

// Me returns the server's summary of this machine.
func (c *Client) Me(ctx context.Context, token string) (*Machine, error) {
	var out Machine
	if err := c.do(ctx, http.MethodGet, PathMe, token, nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

func (c *Client) do(ctx context.Context, method, path, token string, in, out any) error {
	var body io.Reader
	gz, compressed := in.(gzipJSON)
	if compressed {
		body = bytes.NewReader(gz)
	} else if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return fmt.Errorf("%s %s: encode: %w", method, path, err)
		}
		body = bytes.NewReader(b)
	}
	u := *c.base
	u.Path += path
	req, err := http.NewRequestWithContext(ctx, method, u.String(), body)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", c.ua)
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if compressed {
		req.Header.Set("Content-Encoding", "gzip")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("%s %s: %w: %w", method, path, ErrUnavailable, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, MaxResponseBytes+1))
	if err != nil {
		return fmt.Errorf("%s %s: read: %w: %w", method, path, ErrUnavailable, err)
	}
	if len(data) > MaxResponseBytes {
		return fmt.Errorf("%s %s: %w: body over %d bytes", method, path, ErrBadResponse, MaxResponseBytes)
	}
	c.log.DebugContext(ctx, "machine api", "method", method, "path", path, "status", resp.StatusCode)
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("%s %s: %w", method, path, newError(resp, data))
	}
	if out == nil || resp.StatusCode == http.StatusNoContent {
		return nil
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("%s %s: %w: %w", method, path, ErrBadResponse, err)
	}
	return nil
}

// Error is a non-2xx answer from the server.
type Error struct {
	Status     int
	Message    string
	RetryAfter time.Duration
}

func (e *Error) Error() string {
	if e.Message == "" {
		return fmt.Sprintf("server answered %d %s", e.Status, http.StatusText(e.Status))
	}
	return fmt.Sprintf("server answered %d: %s", e.Status, e.Message)
}

// Is links status codes to the sentinel errors, so callers write
// errors.Is(err, machineapi.ErrUnauthorized).
func (e *Error) Is(target error) bool {
	switch target {
	case ErrUnauthorized:
		return e.Status == http.StatusUnauthorized
	case ErrRateLimited:
		return e.Status == http.StatusTooManyRequests
	case ErrUnavailable:
		return e.Status >= 500
	case ErrRejected:
		return e.Status >= 400 && e.Status < 500 && e.Status != http.StatusTooManyRequests
	}
	return false
}

// Sentinel errors matched with errors.Is.
var (
	// ErrUnauthorized: the token or secret is unknown, expired, revoked or rotated (401).
	ErrUnauthorized = errors.New("unauthorized")
	// ErrRateLimited: the server asks to slow down (429).
	ErrRateLimited = errors.New("rate limited")
	// ErrUnavailable: network failure or a 5xx; retry later.
	ErrUnavailable = errors.New("server unavailable")
	// ErrRejected: the server refused the request (4xx other than 429); retrying unchanged will not help.
	ErrRejected = errors.New("request rejected")
	// ErrBadResponse: the answer is not what the API defines.
	ErrBadResponse = errors.New("bad response")
)

func newError(resp *http.Response, body []byte) *Error {
	e := &Error{Status: resp.StatusCode}
	var env struct {
		Error   json.RawMessage `json:"error"`
		Message string          `json:"message"`
	}
	if json.Unmarshal(body, &env) == nil {
		var s string
		var obj struct {
			Message string `json:"message"`
			Code    string `json:"code"`
		}
		switch {
		case json.Unmarshal(env.Error, &s) == nil && s != "":
			e.Message = strings.TrimSuffix(s+": "+env.Message, ": ")
		case json.Unmarshal(env.Error, &obj) == nil && (obj.Message != "" || obj.Code != ""):
			e.Message = strings.TrimSpace(obj.Code + " " + obj.Message)
		default:
			e.Message = env.Message
		}
	}
	if len(e.Message) > 200 {
		e.Message = e.Message[:200]
	}
	if ra := resp.Header.Get("Retry-After"); ra != "" {
		var secs int
		if _, err := fmt.Sscanf(ra, "%d", &secs); err == nil && secs > 0 && secs < 86400 {
			e.RetryAfter = time.Duration(secs) * time.Second
		}
	}
	return e
}
