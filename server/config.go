package server

import (
	"errors"
	"fmt"
	"net/netip"
	"net/url"
	"strings"
	"time"
)

// Config is the server's plain configuration. Defaults are applied by
// Default and checked by Validate; docs/server.md lists the env variables.
type Config struct {
	// Addr is the listen address. Default: 127.0.0.1:8080.
	Addr string `json:"addr"`
	// DataDir holds the SQLite database and the bootstrap secret files. Default: ./data.
	DataDir string `json:"dataDir"`
	// DatabaseURL (SLIPWAY_DATABASE_URL) selects PostgreSQL
	// (postgres://user:pass@host/db) instead of SQLite under DataDir, so
	// several replicas can share one database. It may hold a password and is
	// never logged. Default: "" (SQLite).
	DatabaseURL string `json:"-"`
	// PublicURL is the externally visible base URL (handshake links, JWT
	// issuer, Secure cookies when https). Default: http://<Addr>.
	PublicURL string `json:"publicUrl"`
	// PortalURL is where a completed browser handshake redirects. Default:
	// <PublicURL>/api/machines/me.
	PortalURL string `json:"portalUrl"`
	// RedirectOrigins are further origins a handshake may redirect to
	// (scheme://host[:port]). The PortalURL origin is always allowed.
	RedirectOrigins []string `json:"redirectOrigins"`
	// CORSOrigins are allowed browser origins on top of the desktop client's
	// (tauri://localhost, http://tauri.localhost, http://localhost:1420).
	CORSOrigins []string `json:"corsOrigins"`
	// TokenTTL is the sliding lifetime of machine tokens. Default: 30 days.
	TokenTTL time.Duration `json:"tokenTtl"`
	// SecretKeyFile is the key-encryption key that seals the session
	// signing keys in the database (32 random bytes, raw or hex). Every
	// replica must be given the same file. Default with SQLite:
	// DataDir/secret.key, created on first start; with PostgreSQL there is
	// no default (and the keys stay unsealed, with a warning at start).
	SecretKeyFile string `json:"secretKeyFile"`
	// HeartbeatBatchWait holds each heartbeat batch open this long to gather
	// more heartbeats per database transaction (or, on SQLite, per journal
	// fdatasync). Zero: the store's default (1ms on PostgreSQL, 250µs on
	// SQLite with its heartbeat journal, none without); negative: commit at once.
	HeartbeatBatchWait time.Duration `json:"heartbeatBatchWait"`
	// HeartbeatInterval is what machines are told to use. Default: 60s.
	HeartbeatInterval time.Duration `json:"heartbeatInterval"`
	// StaleAfter: a machine not seen for this long is "stale" (before, "online").
	// Default: 3 × HeartbeatInterval.
	StaleAfter time.Duration `json:"staleAfter"`
	// OfflineAfter: a machine not seen for this long is "offline". Default: 24h.
	OfflineAfter time.Duration `json:"offlineAfter"`
	// SessionTTL is the lifetime of session JWTs and cookies. Default: 15 minutes.
	SessionTTL time.Duration `json:"sessionTtl"`
	// HandshakeTTL is the lifetime of one-time handshake codes. Default: 60s.
	HandshakeTTL time.Duration `json:"handshakeTtl"`
	// HeartbeatRetention: history rows older than this are pruned hourly. Default: 7 days.
	HeartbeatRetention time.Duration `json:"heartbeatRetention"`
	// AuditRetention: audit log entries older than this are pruned hourly.
	// Default: 365 days.
	AuditRetention time.Duration `json:"auditRetention"`
	// SoftwareHistoryRetention: software install/removal history older
	// than this is pruned hourly. Default: 90 days.
	SoftwareHistoryRetention time.Duration `json:"softwareHistoryRetention"`
	// MaxBodyBytes limits machine and admin request bodies. Default: 1 MiB.
	MaxBodyBytes int64 `json:"maxBodyBytes"`
	// MaxFleetBodyBytes limits Fleet webhook bodies. Default: 16 MiB.
	MaxFleetBodyBytes int64 `json:"maxFleetBodyBytes"`
	// RateLimit is the per-client-address rate for register and handshake
	// (requests per second). Default: 1.
	RateLimit float64 `json:"rateLimit"`
	// RateBurst is the burst allowed on top of RateLimit. Default: 20.
	RateBurst int `json:"rateBurst"`
	// AuthFailureRate is how fast a client address earns back failed
	// authentications (401 answers: wrong admin token, machine token,
	// session, Fleet secret, admin page login), per second. Past
	// AuthFailureBurst failures the address gets 429 with Retry-After until
	// it has earned one back. Default: 0.2 (12 a minute).
	AuthFailureRate float64 `json:"authFailureRate"`
	// AuthFailureBurst is how many failed authentications a client address
	// may make in a row. Default: 20.
	AuthFailureBurst int `json:"authFailureBurst"`
	// TrustedProxies are the load balancers and reverse proxies in front of
	// the server. A request from one of them is rate-limited by the client
	// address it reports in X-Forwarded-For; without this, every client
	// behind a load balancer shares the load balancer's limit. Default: none
	// (the header is ignored).
	TrustedProxies []netip.Prefix `json:"trustedProxies,omitempty"`
}

// Desktop client origins, always allowed by CORS.
var desktopOrigins = []string{"tauri://localhost", "http://tauri.localhost", "http://localhost:1420"}

// Default returns c with every unset field set to its default.
func (c Config) Default() Config {
	set := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	if c.Addr == "" {
		c.Addr = "127.0.0.1:8080"
	}
	if c.DataDir == "" {
		c.DataDir = "./data"
	}
	if c.PublicURL == "" {
		c.PublicURL = "http://" + c.Addr
	}
	c.PublicURL = strings.TrimRight(c.PublicURL, "/")
	if c.PortalURL == "" {
		c.PortalURL = c.PublicURL + "/api/machines/me"
	}
	set(&c.TokenTTL, 30*24*time.Hour)
	set(&c.HeartbeatInterval, 60*time.Second)
	set(&c.StaleAfter, 3*c.HeartbeatInterval)
	set(&c.OfflineAfter, 24*time.Hour)
	set(&c.SessionTTL, 15*time.Minute)
	set(&c.HandshakeTTL, 60*time.Second)
	set(&c.HeartbeatRetention, 7*24*time.Hour)
	set(&c.AuditRetention, 365*24*time.Hour)
	set(&c.SoftwareHistoryRetention, 90*24*time.Hour)
	if c.MaxBodyBytes == 0 {
		c.MaxBodyBytes = 1 << 20
	}
	if c.MaxFleetBodyBytes == 0 {
		c.MaxFleetBodyBytes = 16 << 20
	}
	if c.RateLimit == 0 {
		c.RateLimit = 1
	}
	if c.RateBurst == 0 {
		c.RateBurst = 20
	}
	if c.AuthFailureRate == 0 {
		c.AuthFailureRate = 0.2
	}
	if c.AuthFailureBurst == 0 {
		c.AuthFailureBurst = 20
	}
	return c
}

// Validate reports configuration errors (call it on a defaulted Config).
func (c Config) Validate() error {
	var errs []error
	for name, u := range map[string]string{"publicUrl": c.PublicURL, "portalUrl": c.PortalURL} {
		if _, err := origin(u); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", name, err))
		}
	}
	for _, list := range [][]string{c.RedirectOrigins, c.CORSOrigins} {
		for _, o := range list {
			if got, err := origin(o); err != nil || got != strings.TrimRight(o, "/") {
				errs = append(errs, fmt.Errorf("origin %q: want scheme://host[:port]", o))
			}
		}
	}
	for name, d := range map[string]time.Duration{"tokenTtl": c.TokenTTL, "heartbeatInterval": c.HeartbeatInterval,
		"staleAfter": c.StaleAfter, "offlineAfter": c.OfflineAfter, "sessionTtl": c.SessionTTL,
		"handshakeTtl": c.HandshakeTTL, "heartbeatRetention": c.HeartbeatRetention, "auditRetention": c.AuditRetention,
		"softwareHistoryRetention": c.SoftwareHistoryRetention} {
		if d <= 0 {
			errs = append(errs, fmt.Errorf("%s must be positive", name))
		}
	}
	if c.HeartbeatBatchWait > time.Second {
		errs = append(errs, errors.New("heartbeatBatchWait must not exceed 1s"))
	}
	if c.StaleAfter > c.OfflineAfter {
		errs = append(errs, errors.New("staleAfter must not exceed offlineAfter"))
	}
	if c.DatabaseURL != "" && !strings.HasPrefix(c.DatabaseURL, "postgres://") && !strings.HasPrefix(c.DatabaseURL, "postgresql://") {
		errs = append(errs, errors.New("databaseUrl: want postgres://... (SQLite is the default when unset)"))
	}
	if c.MaxBodyBytes <= 0 || c.MaxFleetBodyBytes <= 0 || c.RateLimit <= 0 || c.RateBurst <= 0 ||
		c.AuthFailureRate <= 0 || c.AuthFailureBurst <= 0 {
		errs = append(errs, errors.New("body limits and rate limits must be positive"))
	}
	return errors.Join(errs...)
}

// origin returns scheme://host[:port] of an absolute http(s) or tauri URL.
func origin(raw string) (string, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return "", err
	}
	switch u.Scheme {
	case "http", "https", "tauri":
	default:
		return "", fmt.Errorf("unsupported scheme %q", u.Scheme)
	}
	if u.Host == "" || u.User != nil {
		return "", errors.New("need a host and no user info")
	}
	return u.Scheme + "://" + strings.ToLower(u.Host), nil
}
