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

// TestEnvFile: agent.env is read again on every load, between agent.json
// and the process environment, so an agent that systemd started while the
// file was still being written (empty environment) enrolls once it is
// complete. Malformed lines are refused by number, never quoting a value.
func TestEnvFile(t *testing.T) {
	t.Setenv(EnvServer, "")
	t.Setenv(EnvSecret, "")
	dir := t.TempDir()
	write := func(name, body string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write(ConfigFileName, `{"server":"https://json.example","provisioningSecret":"json-secret"}`)
	for _, tc := range []struct {
		name, body         string
		wantServer, wantSc string
	}{
		{"missing file: agent.json", "", "https://json.example", "json-secret"},
		{"empty file (still being written)", "-", "https://json.example", "json-secret"},
		{"file beats agent.json", "SLIPWAY_SERVER=https://env.example\nSLIPWAY_PROVISIONING_SECRET=env-secret\n", "https://env.example", "env-secret"},
		{"comments, quotes, export, other keys, no final newline",
			"# dropped by the MDM\n; another comment\n\nHTTPS_PROXY=http://proxy:3128\nexport SLIPWAY_SERVER=\"https://q.example\"\n  SLIPWAY_PROVISIONING_SECRET = 's p'",
			"https://q.example", "s p"},
		{"truncated mid-value", "SLIPWAY_SERVER=https://tr", "https://tr", "json-secret"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			os.Remove(filepath.Join(dir, EnvFileName))
			if tc.body != "" {
				write(EnvFileName, strings.TrimPrefix(tc.body, "-"))
			}
			c, err := LoadConfig(dir, Config{})
			if err != nil || c.Server != tc.wantServer || c.ProvisioningSecret != tc.wantSc {
				t.Fatalf("got %q %q %v, want %q %q", c.Server, c.ProvisioningSecret, err, tc.wantServer, tc.wantSc)
			}
		})
	}
	t.Run("process environment beats the file", func(t *testing.T) {
		write(EnvFileName, "SLIPWAY_SERVER=https://env.example\n")
		t.Setenv(EnvServer, "https://process.example")
		if c, err := LoadConfig(dir, Config{}); err != nil || c.Server != "https://process.example" {
			t.Fatalf("%+v %v", c, err)
		}
	})
	for name, body := range map[string]string{
		"no equals sign": "SLIPWAY_PROVISIONING_SECRET=top-secret\nnot a key value line\n",
		"bad key":        "SLIPWAY SERVER=https://x\n",
		"empty key":      "=top-secret\n",
		"binary garbage": "\x00\x01\x02top-secret\n",
		"oversize":       "SLIPWAY_SERVER=https://x\n" + strings.Repeat("#", maxConfigBytes),
	} {
		t.Run(name, func(t *testing.T) {
			write(EnvFileName, body)
			_, err := LoadConfig(dir, Config{})
			if err == nil {
				t.Fatal("accepted")
			}
			if strings.Contains(err.Error(), "top-secret") {
				t.Errorf("the error quotes the file: %v", err)
			}
		})
	}
}
