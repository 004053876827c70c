package adminui_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/slipwayhq/slipway/server/adminui"
)

func TestOIDCFromEnv(t *testing.T) {
	secret := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(secret, []byte("s3cret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	base := map[string]string{
		"SLIPWAY_OIDC_ISSUER": "https://login.example.com", "SLIPWAY_OIDC_CLIENT_ID": "slipway",
		"SLIPWAY_OIDC_CLIENT_SECRET_FILE": secret, "SLIPWAY_OIDC_ALLOWED_DOMAINS": "example.com, example.org",
		"SLIPWAY_OIDC_ROLES": "group:ops=admin, email:a@example.com=viewer@acme, domain:example.org=release-manager, *=viewer",
	}
	env := func(change map[string]string) func(string) string {
		return func(k string) string {
			if v, ok := change[k]; ok {
				return v
			}
			return base[k]
		}
	}
	c, err := adminui.OIDCFromEnv(env(nil), "https://slipway.example.com/")
	if err != nil {
		t.Fatal(err)
	}
	if c.ClientSecret != "s3cret" || c.RedirectURL != "https://slipway.example.com/admin/oidc/callback" || len(c.AllowedDomains) != 2 ||
		len(c.Roles) != 4 || c.Roles[1] != (adminui.RoleRule{Kind: "email", Value: "a@example.com", Role: "viewer", Tenant: "acme"}) || c.Roles[3].Kind != "*" {
		t.Fatalf("config %+v", c)
	}
	if c.Recheck != 0 {
		t.Errorf("recheck %v without SLIPWAY_OIDC_RECHECK; want 0 (the default, %v)", c.Recheck, adminui.DefaultRecheck)
	}
	for v, want := range map[string]time.Duration{"30s": 30 * time.Second, "2m": 2 * time.Minute, "1h": time.Hour} {
		if c, err := adminui.OIDCFromEnv(env(map[string]string{"SLIPWAY_OIDC_RECHECK": v}), "https://slipway.example.com"); err != nil || c.Recheck != want {
			t.Errorf("SLIPWAY_OIDC_RECHECK=%s: %v, %v", v, c, err)
		}
	}
	if c, err := adminui.OIDCFromEnv(env(map[string]string{"SLIPWAY_OIDC_ISSUER": ""}), ""); c != nil || err != nil {
		t.Fatalf("no issuer: %v %v", c, err)
	}
	for name, change := range map[string]map[string]string{
		"http issuer":       {"SLIPWAY_OIDC_ISSUER": "http://login.example.com"},
		"no client":         {"SLIPWAY_OIDC_CLIENT_ID": ""},
		"nobody allowed":    {"SLIPWAY_OIDC_ALLOWED_DOMAINS": ""},
		"no roles":          {"SLIPWAY_OIDC_ROLES": ""},
		"unknown role":      {"SLIPWAY_OIDC_ROLES": "group:ops=owner"},
		"unknown kind":      {"SLIPWAY_OIDC_ROLES": "team:ops=admin"},
		"no value":          {"SLIPWAY_OIDC_ROLES": "group:=admin"},
		"no role":           {"SLIPWAY_OIDC_ROLES": "group:ops"},
		"bad tenant":        {"SLIPWAY_OIDC_ROLES": "group:ops=admin@Not_A_Tenant"},
		"missing secret":    {"SLIPWAY_OIDC_CLIENT_SECRET_FILE": filepath.Join(t.TempDir(), "nope")},
		"garbage redirect":  {"SLIPWAY_OIDC_REDIRECT_URL": "::not a url"},
		"http redirect far": {"SLIPWAY_OIDC_REDIRECT_URL": "http://slipway.example.com/admin/oidc/callback"},
		"recheck garbage":   {"SLIPWAY_OIDC_RECHECK": "often"},
		"recheck no unit":   {"SLIPWAY_OIDC_RECHECK": "300"},
		"recheck zero":      {"SLIPWAY_OIDC_RECHECK": "0s"},
		"recheck negative":  {"SLIPWAY_OIDC_RECHECK": "-5m"},
		"recheck too often": {"SLIPWAY_OIDC_RECHECK": "29s"},
		"recheck too rare":  {"SLIPWAY_OIDC_RECHECK": "61m"},
	} {
		if _, err := adminui.OIDCFromEnv(env(change), "https://slipway.example.com"); err == nil {
			t.Errorf("%s: accepted", name)
		} else if strings.Contains(err.Error(), "s3cret") {
			t.Errorf("%s: error shows the secret: %v", name, err)
		}
	}
	if _, err := adminui.OIDCFromEnv(env(map[string]string{"SLIPWAY_OIDC_ISSUER": "http://127.0.0.1:5556"}), "http://127.0.0.1:8080"); err != nil {
		t.Errorf("loopback http issuer refused: %v", err)
	}
}
