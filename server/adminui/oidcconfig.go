package adminui

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/slipwayhq/slipway/server/store"
)

// OIDC configures single sign-on for the admin page: OpenID Connect
// authorization code flow with PKCE against Issuer. Who may sign in is
// limited by email domain and/or group; Roles map them to a role.
type OIDC struct {
	Issuer       string
	ClientID     string
	ClientSecret string // may be empty for a public client (PKCE only)
	RedirectURL  string // <public URL>/admin/oidc/callback
	Scopes       []string
	// AllowedDomains: the verified email's domain must be one of these
	// (when set). AllowedGroups: the user must be in one of these (when
	// set). At least one of the two must be set.
	AllowedDomains []string
	AllowedGroups  []string
	GroupsClaim    string // default "groups"
	// Roles are tried in order; the first that matches gives the role.
	// A user no rule matches is refused.
	Roles []RoleRule
	// Recheck: how often a signed-in user's session is checked with the
	// provider (refresh token, userinfo); between MinRecheck and
	// MaxRecheck. Default (0): DefaultRecheck.
	Recheck time.Duration
	// HTTPClient talks to the provider. Default: 10 s timeout.
	HTTPClient *http.Client
}

// RoleRule maps users to a role, optionally scoped to a tenant. Kind is
// "group", "email", "domain" or "*" (everyone allowed in).
type RoleRule struct {
	Kind, Value, Role, Tenant string
}

func (r RoleRule) matches(email string, groups []string) bool {
	switch r.Kind {
	case "*":
		return true
	case "group":
		return slices.Contains(groups, r.Value)
	case "email":
		return strings.EqualFold(email, r.Value)
	case "domain":
		return strings.EqualFold(domainOf(email), r.Value)
	}
	return false
}

func domainOf(email string) string {
	_, d, ok := strings.Cut(email, "@")
	if !ok {
		return ""
	}
	return d
}

var tenantRE = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,62}$`)

// ParseRoleRules parses "KIND:VALUE=ROLE[@TENANT]" rules separated by
// commas, e.g. "group:release=release-manager,domain:example.com=viewer@default,*=viewer".
func ParseRoleRules(s string) ([]RoleRule, error) {
	var out []RoleRule
	for part := range strings.SplitSeq(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		who, role, ok := strings.Cut(part, "=")
		if !ok {
			return nil, fmt.Errorf("role rule %q: want KIND:VALUE=ROLE[@TENANT]", part)
		}
		var rule RoleRule
		rule.Role, rule.Tenant, _ = strings.Cut(strings.TrimSpace(role), "@")
		if who = strings.TrimSpace(who); who == "*" {
			rule.Kind = "*"
		} else if rule.Kind, rule.Value, ok = strings.Cut(who, ":"); !ok || rule.Value == "" ||
			!slices.Contains([]string{"group", "email", "domain"}, rule.Kind) {
			return nil, fmt.Errorf("role rule %q: the left side is group:NAME, email:ADDRESS, domain:NAME or *", part)
		}
		if !slices.Contains(store.Roles, rule.Role) {
			return nil, fmt.Errorf("role rule %q: role must be one of %s", part, strings.Join(store.Roles, ", "))
		}
		if rule.Tenant != "" && !tenantRE.MatchString(rule.Tenant) {
			return nil, fmt.Errorf("role rule %q: bad tenant ID", part)
		}
		out = append(out, rule)
	}
	return out, nil
}

func list(s string) []string {
	var out []string
	for v := range strings.SplitSeq(s, ",") {
		if v = strings.TrimSpace(v); v != "" {
			out = append(out, v)
		}
	}
	return out
}

// OIDCFromEnv reads the SLIPWAY_OIDC_* settings (docs/admin.md); nil when
// SLIPWAY_OIDC_ISSUER is unset. publicURL gives the default redirect URL.
func OIDCFromEnv(getenv func(string) string, publicURL string) (*OIDC, error) {
	issuer := getenv("SLIPWAY_OIDC_ISSUER")
	if issuer == "" {
		return nil, nil
	}
	c := &OIDC{Issuer: issuer, ClientID: getenv("SLIPWAY_OIDC_CLIENT_ID"), RedirectURL: getenv("SLIPWAY_OIDC_REDIRECT_URL"),
		Scopes: strings.Fields(getenv("SLIPWAY_OIDC_SCOPES")), AllowedDomains: list(getenv("SLIPWAY_OIDC_ALLOWED_DOMAINS")),
		AllowedGroups: list(getenv("SLIPWAY_OIDC_ALLOWED_GROUPS")), GroupsClaim: getenv("SLIPWAY_OIDC_GROUPS_CLAIM")}
	if c.RedirectURL == "" {
		c.RedirectURL = strings.TrimRight(publicURL, "/") + "/admin/oidc/callback"
	}
	if p := getenv("SLIPWAY_OIDC_CLIENT_SECRET_FILE"); p != "" {
		b, err := os.ReadFile(p)
		if err != nil {
			return nil, fmt.Errorf("SLIPWAY_OIDC_CLIENT_SECRET_FILE: %w", err)
		}
		c.ClientSecret = strings.TrimSpace(string(b))
	}
	var err error
	if v := getenv("SLIPWAY_OIDC_RECHECK"); v != "" {
		if c.Recheck, err = time.ParseDuration(v); err != nil || c.Recheck == 0 {
			return nil, fmt.Errorf("SLIPWAY_OIDC_RECHECK: want a duration between %v and %v, such as 5m, not %q", MinRecheck, MaxRecheck, v)
		}
	}
	if c.Roles, err = ParseRoleRules(getenv("SLIPWAY_OIDC_ROLES")); err != nil {
		return nil, fmt.Errorf("SLIPWAY_OIDC_ROLES: %w", err)
	}
	return c, c.validate()
}

// loopback reports whether u's host is 127.0.0.1, ::1 or localhost.
func loopback(u *url.URL) bool {
	if u.Hostname() == "localhost" {
		return true
	}
	ip := net.ParseIP(u.Hostname())
	return ip != nil && ip.IsLoopback()
}

func (c *OIDC) validate() error {
	for name, v := range map[string]string{"issuer": c.Issuer, "redirect URL": c.RedirectURL} {
		u, err := url.Parse(v)
		if err != nil || u.Host == "" || (u.Scheme != "https" && !(u.Scheme == "http" && loopback(u))) {
			return fmt.Errorf("oidc: the %s must be an https URL (http only on loopback): %q", name, v)
		}
	}
	if c.ClientID == "" {
		return errors.New("oidc: SLIPWAY_OIDC_CLIENT_ID is required")
	}
	if len(c.AllowedDomains) == 0 && len(c.AllowedGroups) == 0 {
		return errors.New("oidc: set SLIPWAY_OIDC_ALLOWED_DOMAINS and/or SLIPWAY_OIDC_ALLOWED_GROUPS: without them anyone the provider knows could sign in")
	}
	if len(c.Roles) == 0 {
		return errors.New("oidc: SLIPWAY_OIDC_ROLES maps nobody to a role")
	}
	if c.Recheck != 0 && (c.Recheck < MinRecheck || c.Recheck > MaxRecheck) {
		return fmt.Errorf("oidc: SLIPWAY_OIDC_RECHECK %v is out of range: between %v and %v", c.Recheck, MinRecheck, MaxRecheck)
	}
	return nil
}
