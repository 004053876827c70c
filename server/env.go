package server

import (
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"time"
)

// FromEnv reads the configuration from environment variables (getenv is
// os.Getenv in production). SLIPWAY_* variables configure the server; the
// original plan's MACHINE_TOKEN_TTL_MS, MACHINE_PROVISIONING_SECRET and
// FLEET_SYNC_SECRET keep working. docs/server.md lists them all.
func FromEnv(getenv func(string) string) (Config, Bootstrap, error) {
	var c Config
	var errs []error
	dur := func(name string, dst *time.Duration) {
		v := getenv(name)
		if v == "" {
			return
		}
		r := envRanges[name]
		d, err := time.ParseDuration(v)
		if err != nil || d < r.min || d > r.max {
			errs = append(errs, fmt.Errorf("%s=%.40q: want a duration from %s to %s, like 90s, 30m or 720h", name, v, r.min, r.max))
			return
		}
		*dst = d
	}
	list := func(name string) []string {
		var out []string
		for _, v := range strings.Split(getenv(name), ",") {
			if v = strings.TrimSpace(v); v != "" {
				out = append(out, strings.TrimRight(v, "/"))
			}
		}
		return out
	}
	c.Addr = getenv("SLIPWAY_ADDR")
	c.DataDir = getenv("SLIPWAY_DATA")
	c.DatabaseURL = getenv("SLIPWAY_DATABASE_URL")
	c.PublicURL = getenv("SLIPWAY_PUBLIC_URL")
	c.SecretKeyFile = getenv("SLIPWAY_SECRET_KEY_FILE")
	c.PortalURL = getenv("SLIPWAY_PORTAL_URL")
	c.RedirectOrigins = list("SLIPWAY_REDIRECT_ORIGINS")
	c.CORSOrigins = list("SLIPWAY_CORS_ORIGINS")
	dur("SLIPWAY_HEARTBEAT_INTERVAL", &c.HeartbeatInterval)
	dur("SLIPWAY_STALE_AFTER", &c.StaleAfter)
	dur("SLIPWAY_OFFLINE_AFTER", &c.OfflineAfter)
	dur("SLIPWAY_SESSION_TTL", &c.SessionTTL)
	dur("SLIPWAY_HEARTBEAT_RETENTION", &c.HeartbeatRetention)
	dur("SLIPWAY_AUDIT_RETENTION", &c.AuditRetention)
	dur("SLIPWAY_SOFTWARE_HISTORY_RETENTION", &c.SoftwareHistoryRetention)
	if v := getenv("SLIPWAY_HEARTBEAT_BATCH_WAIT"); v != "" {
		d, err := time.ParseDuration(v)
		switch {
		case err != nil || d < 0 || d > time.Second:
			errs = append(errs, errors.New("SLIPWAY_HEARTBEAT_BATCH_WAIT: want a duration from 0 (commit at once) to 1s, like 1ms"))
		case d == 0:
			c.HeartbeatBatchWait = -1
		default:
			c.HeartbeatBatchWait = d
		}
	}
	if v := getenv("MACHINE_TOKEN_TTL_MS"); v != "" {
		// Range-checked in milliseconds before converting: a large value
		// would overflow time.Duration into a negative or tiny TTL.
		r := envRanges["MACHINE_TOKEN_TTL_MS"]
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < r.min.Milliseconds() || n > r.max.Milliseconds() {
			errs = append(errs, fmt.Errorf("MACHINE_TOKEN_TTL_MS=%.40q: want an integer of milliseconds from %d (%s) to %d (%s)",
				v, r.min.Milliseconds(), r.min, r.max.Milliseconds(), r.max))
		} else {
			c.TokenTTL = time.Duration(n) * time.Millisecond
		}
	}
	if v := getenv("SLIPWAY_RATE_LIMIT"); v != "" {
		f, err := strconv.ParseFloat(v, 64)
		if err != nil || f <= 0 {
			errs = append(errs, errors.New("SLIPWAY_RATE_LIMIT: want a positive number of requests per second"))
		}
		c.RateLimit = f
	}
	if v := getenv("SLIPWAY_RATE_BURST"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n <= 0 {
			errs = append(errs, errors.New("SLIPWAY_RATE_BURST: want a positive integer"))
		}
		c.RateBurst = n
	}
	if v := getenv("SLIPWAY_AUTH_FAILURE_RATE"); v != "" {
		f, err := strconv.ParseFloat(v, 64)
		if err != nil || f <= 0 {
			errs = append(errs, errors.New("SLIPWAY_AUTH_FAILURE_RATE: want a positive number of failures per second"))
		}
		c.AuthFailureRate = f
	}
	if v := getenv("SLIPWAY_AUTH_FAILURE_BURST"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n <= 0 {
			errs = append(errs, errors.New("SLIPWAY_AUTH_FAILURE_BURST: want a positive integer"))
		}
		c.AuthFailureBurst = n
	}
	for _, v := range list("SLIPWAY_TRUSTED_PROXIES") {
		p, err := parsePrefix(v)
		if err != nil {
			errs = append(errs, fmt.Errorf("SLIPWAY_TRUSTED_PROXIES: %q: want an IP address or CIDR prefix such as 10.0.0.0/8", v))
			continue
		}
		c.TrustedProxies = append(c.TrustedProxies, p)
	}
	b := Bootstrap{
		ProvisioningSecret: strings.TrimSpace(getenv("MACHINE_PROVISIONING_SECRET")),
		FleetSecret:        strings.TrimSpace(getenv("FLEET_SYNC_SECRET")),
	}
	return c, b, errors.Join(errs...)
}

// envRange bounds a duration from the environment.
type envRange struct{ min, max time.Duration }

const day = 24 * time.Hour

// envRanges are the accepted values of every duration variable.
var envRanges = map[string]envRange{
	"SLIPWAY_HEARTBEAT_INTERVAL":  {time.Second, day},
	"SLIPWAY_STALE_AFTER":         {time.Second, 30 * day},
	"SLIPWAY_OFFLINE_AFTER":       {time.Second, 3650 * day},
	"SLIPWAY_SESSION_TTL":         {time.Minute, 30 * day},
	"SLIPWAY_HEARTBEAT_RETENTION": {time.Hour, 3650 * day},
	"SLIPWAY_AUDIT_RETENTION":     {time.Hour, 3650 * day},
	"MACHINE_TOKEN_TTL_MS":        {time.Minute, 3650 * day},
}

// parsePrefix reads a CIDR prefix or a single address (a /32 or /128).
func parsePrefix(v string) (netip.Prefix, error) {
	if strings.Contains(v, "/") {
		p, err := netip.ParsePrefix(v)
		return p.Masked(), err
	}
	a, err := netip.ParseAddr(v)
	if err != nil {
		return netip.Prefix{}, err
	}
	a = a.Unmap()
	return netip.PrefixFrom(a, a.BitLen()), nil
}
