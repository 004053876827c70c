package enroll

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestLoadConfigPrecedence(t *testing.T) {
	dir := t.TempDir()
	file := `{"server":"https://file.example","provisioningSecret":"file-secret","update":{"channel":"beta"}}`
	if err := os.WriteFile(filepath.Join(dir, ConfigFileName), []byte(file), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name               string
		env, flags         Config
		wantServer, wantSc string
	}{
		{"file only", Config{}, Config{}, "https://file.example", "file-secret"},
		{"env beats file", Config{Server: "https://env.example"}, Config{}, "https://env.example", "file-secret"},
		{"flags beat env", Config{Server: "https://env.example", ProvisioningSecret: "env"}, Config{ProvisioningSecret: "flag"}, "https://env.example", "flag"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv(EnvServer, tc.env.Server)
			t.Setenv(EnvSecret, tc.env.ProvisioningSecret)
			c, err := LoadConfig(dir, tc.flags)
			if err != nil {
				t.Fatal(err)
			}
			if c.Server != tc.wantServer || c.ProvisioningSecret != tc.wantSc || c.Update.Channel != "beta" {
				t.Fatalf("%+v", c)
			}
			if err := c.Validate(); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestLoadConfigRejectsBadFiles(t *testing.T) {
	tests := map[string]string{
		"unknown field": `{"server":"https://s","secret":"x"}`,
		"truncated":     `{"server":"https://s`,
		"trailing":      `{} {}`,
		"wrong type":    `{"server":42}`,
		"oversize":      `{"server":"` + strings.Repeat("x", maxConfigBytes) + `"}`,
	}
	for name, body := range tests {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			if err := os.WriteFile(filepath.Join(dir, ConfigFileName), []byte(body), 0o600); err != nil {
				t.Fatal(err)
			}
			if _, err := LoadConfig(dir, Config{}); err == nil {
				t.Fatal("accepted")
			}
		})
	}
}

func TestValidate(t *testing.T) {
	t.Setenv(EnvServer, "")
	t.Setenv(EnvSecret, "")
	c, err := LoadConfig(t.TempDir(), Config{})
	if err != nil {
		t.Fatal(err)
	}
	if !errors.Is(c.Validate(), ErrNoServer) {
		t.Fatal("no server accepted")
	}
	c.Server = "https://s.example"
	if !errors.Is(c.Validate(), ErrNoSecret) {
		t.Fatal("no secret accepted")
	}
	c.Server = "ftp://s"
	if c.Validate() == nil {
		t.Fatal("bad scheme accepted")
	}
}
