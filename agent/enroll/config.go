// Package enroll registers the machine with a Slipway server using a
// provisioning secret and stores the machine token (agent/identity).
package enroll

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/slipwayhq/slipway/machineapi"
)

// Environment variables read by LoadConfig.
const (
	EnvServer = "SLIPWAY_SERVER"
	EnvSecret = "SLIPWAY_PROVISIONING_SECRET"
)

// ConfigFileName is the file an installer or MDM drops in the system
// configuration directory (identity.SystemDir).
const ConfigFileName = "agent.json"

const maxConfigBytes = 16 << 10

// ErrNoServer: no server URL was configured anywhere.
var ErrNoServer = errors.New("no server configured (--server, " + EnvServer + " or " + ConfigFileName + ")")

// ErrNoSecret: no provisioning secret was configured anywhere.
var ErrNoSecret = errors.New("no provisioning secret (--code, " + EnvSecret + " or " + ConfigFileName + ")")

// Config is where to enroll and with which secret. It is read from
// agent.json, then the environment, then flags (later wins).
type Config struct {
	// Server is the Slipway server base URL, e.g. https://slipway.example.com.
	Server string `json:"server"`
	// ProvisioningSecret is the tenant's provisioning secret (never logged).
	ProvisioningSecret string `json:"provisioningSecret"`
	// Update configures self-update (agent.json only).
	Update UpdateConfig `json:"update,omitzero"`
}

// UpdateConfig is the "update" section of agent.json. Self-update also
// needs the trust material an installer drops next to agent.json:
// update/root.json (initial TUF root) and update/minisign.pub.
type UpdateConfig struct {
	// Disabled turns self-update off. Default: false.
	Disabled bool `json:"disabled,omitempty"`
	// Channel to follow. Default: stable.
	Channel string `json:"channel,omitempty"`
	// Server serving updates. Default: the enrollment server.
	Server string `json:"server,omitempty"`
	// IntervalSeconds between update checks. Default: 21600 (6 h).
	IntervalSeconds int `json:"intervalSeconds,omitempty"`
	// HealthDeadlineSeconds a new version has to heartbeat successfully
	// after the swap before its next start rolls it back. Default: 120.
	HealthDeadlineSeconds int `json:"healthDeadlineSeconds,omitempty"`
	// TrialSeconds bound the trial run: the running agent starts the new
	// one, which must heartbeat successfully within this time or is
	// killed and rejected. Default: 120.
	TrialSeconds int `json:"trialSeconds,omitempty"`
}

// Validate checks the server URL and the secret's presence.
func (c Config) Validate() error {
	if c.Server == "" {
		return ErrNoServer
	}
	if _, err := machineapi.ParseServerURL(c.Server); err != nil {
		return err
	}
	if c.ProvisioningSecret == "" {
		return ErrNoSecret
	}
	return nil
}

// LoadConfig merges <dir>/agent.json (if present), the environment and the
// given flag values. A malformed file is an error; a missing one is not.
func LoadConfig(dir string, flags Config) (Config, error) {
	var c Config
	if dir != "" {
		fc, err := readConfigFile(filepath.Join(dir, ConfigFileName))
		if err != nil {
			return c, err
		}
		c = fc
	}
	if dir != "" {
		// The systemd unit's EnvironmentFile, read again here: the unit's
		// path trigger may start the agent while an MDM is still writing
		// it, and a process's environment never changes afterwards.
		ec, err := readEnvFile(filepath.Join(dir, EnvFileName))
		if err != nil {
			return c, err
		}
		c = c.overlay(ec)
	}
	c = c.overlay(Config{Server: os.Getenv(EnvServer), ProvisioningSecret: os.Getenv(EnvSecret)})
	return c.overlay(flags), nil
}

// EnvFileName is the environment file the Linux packages' systemd unit
// reads (EnvironmentFile=/etc/slipway/agent.env).
const EnvFileName = "agent.env"

var envKeyRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// readEnvFile reads SLIPWAY_SERVER and SLIPWAY_PROVISIONING_SECRET from a
// KEY=VALUE file as systemd's EnvironmentFile= does: blank lines and lines
// starting with # or ; are skipped, a value may be in single or double
// quotes, other keys are ignored. A missing file is not an error; a line
// that is not KEY=VALUE is, named by its number only (values are secret).
func readEnvFile(path string) (Config, error) {
	var c Config
	data, err := readSmallFile(path)
	if data == nil || err != nil {
		return c, err
	}
	for i, line := range strings.Split(string(data), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || line[0] == '#' || line[0] == ';' {
			continue
		}
		key, value, ok := strings.Cut(strings.TrimPrefix(line, "export "), "=")
		key, value = strings.TrimSpace(key), strings.TrimSpace(value)
		if !ok || !envKeyRE.MatchString(key) {
			return Config{}, fmt.Errorf("parse %s: line %d is not KEY=VALUE", path, i+1)
		}
		if n := len(value); n >= 2 && (value[0] == '"' || value[0] == '\'') && value[n-1] == value[0] {
			value = value[1 : n-1]
		}
		switch key {
		case EnvServer:
			c.Server = value
		case EnvSecret:
			c.ProvisioningSecret = value
		}
	}
	return c, nil
}

func (c Config) overlay(o Config) Config {
	if o.Update != (UpdateConfig{}) {
		c.Update = o.Update
	}
	if s := strings.TrimSpace(o.Server); s != "" {
		c.Server = s
	}
	if s := strings.TrimSpace(o.ProvisioningSecret); s != "" {
		c.ProvisioningSecret = s
	}
	return c
}

// readSmallFile reads a configuration file of at most maxConfigBytes; a
// missing file gives nil and no error.
func readSmallFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxConfigBytes+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	if len(data) > maxConfigBytes {
		return nil, fmt.Errorf("read %s: over %d bytes", path, maxConfigBytes)
	}
	if data == nil {
		data = []byte{} // present but empty
	}
	return data, nil
}

func readConfigFile(path string) (Config, error) {
	var c Config
	data, err := readSmallFile(path)
	if data == nil || err != nil {
		return c, err
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil {
		return c, fmt.Errorf("parse %s: %w", path, err)
	}
	if dec.More() {
		return c, fmt.Errorf("parse %s: trailing data", path)
	}
	return c, nil
}
