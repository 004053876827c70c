package keyring

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/slipwayhq/slipway/signing"
	"github.com/slipwayhq/slipway/signing/authenticode"
	"github.com/slipwayhq/slipway/signing/binfmt"
	"github.com/slipwayhq/slipway/signing/macos"
	"github.com/slipwayhq/slipway/signing/minisign"
)

// Config says where each backend's key material comes from. It is plain
// data: paths, and passwords as Secret values.
type Config struct {
	// CosignKey is the path of a cosign.key (ENCRYPTED SIGSTORE PRIVATE
	// KEY). Env: SLIPWAY_COSIGN_KEY. Default: cosign not used.
	CosignKey string `json:"cosign_key,omitempty"`
	// CosignPassword decrypts CosignKey. Env: COSIGN_PASSWORD. Default: empty.
	CosignPassword Secret `json:"-"`

	// MinisignKey is the path of a minisign secret key (minisign text or
	// Tauri's base64 of it). Env: SLIPWAY_MINISIGN_KEY, else
	// TAURI_SIGNING_PRIVATE_KEY when that holds a path.
	MinisignKey string `json:"minisign_key,omitempty"`
	// MinisignKeyData is the key itself, from TAURI_SIGNING_PRIVATE_KEY
	// when that holds the key rather than a path. Used when MinisignKey is empty.
	MinisignKeyData Secret `json:"-"`
	// MinisignPassword decrypts the minisign key. Env:
	// SLIPWAY_MINISIGN_PASSWORD, else TAURI_SIGNING_PRIVATE_KEY_PASSWORD.
	// Default: empty (unencrypted keys, or keys encrypted with "").
	MinisignPassword Secret `json:"-"`
	// Version is the app version minisign writes into each trusted comment
	// ("version:<v>", checked by Tauri's updater). Not read from the
	// environment. Default: none.
	Version string `json:"version,omitempty"`

	// AuthenticodeP12 is the PKCS#12 file for Windows signing. Env:
	// SLIPWAY_AUTHENTICODE_P12. Default: Windows binaries are not signed.
	AuthenticodeP12 string `json:"authenticode_p12,omitempty"`
	// AuthenticodePassword opens AuthenticodeP12. Env: SLIPWAY_AUTHENTICODE_PASSWORD.
	AuthenticodePassword Secret `json:"-"`
	// AuthenticodeTimestampURL is an RFC 3161 server. Env:
	// SLIPWAY_AUTHENTICODE_TIMESTAMP_URL. Default: no timestamp.
	AuthenticodeTimestampURL string `json:"authenticode_timestamp_url,omitempty"`

	// MacOSP12 is the Developer ID PKCS#12 file. Env: SLIPWAY_MACOS_P12.
	// Default: ad-hoc signatures.
	MacOSP12 string `json:"macos_p12,omitempty"`
	// MacOSPassword opens MacOSP12. Env: SLIPWAY_MACOS_PASSWORD.
	MacOSPassword Secret `json:"-"`
}

// FromEnv reads the key configuration from the environment.
func FromEnv() Config {
	c := Config{
		CosignKey:                os.Getenv(EnvCosignKey),
		CosignPassword:           envSecret(EnvCosignPassword),
		MinisignKey:              os.Getenv(EnvMinisignKey),
		MinisignPassword:         envSecret(EnvMinisignPassword),
		AuthenticodeP12:          os.Getenv(EnvAuthenticodeP12),
		AuthenticodePassword:     envSecret(EnvAuthenticodePassword),
		AuthenticodeTimestampURL: os.Getenv(EnvAuthenticodeTimestampURL),
		MacOSP12:                 os.Getenv(EnvMacOSP12),
		MacOSPassword:            envSecret(EnvMacOSPassword),
	}
	if c.MinisignPassword == nil {
		c.MinisignPassword = envSecret(EnvTauriPassword)
	}
	if c.MinisignKey == "" {
		if v := os.Getenv(EnvTauriKey); isInlineMinisignKey(v) {
			c.MinisignKeyData = Secret(v)
		} else {
			c.MinisignKey = v
		}
	}
	return c
}

// envSecret is nil when the variable is unset, so "set but empty" (a real
// empty password) stays distinguishable.
func envSecret(name string) Secret {
	v, ok := os.LookupEnv(name)
	if !ok {
		return nil
	}
	return Secret(v)
}

// isInlineMinisignKey tells a key from a path: minisign key text starts
// with its comment line, Tauri's base64 of it with "dW50cnVzdGVk".
func isInlineMinisignKey(v string) bool {
	v = strings.TrimSpace(v)
	return strings.HasPrefix(v, "untrusted comment:") || strings.HasPrefix(v, "dW50cnVzdGVk")
}

// minisignSource names the minisign key in errors without revealing it.
func (c Config) minisignSource() string {
	if c.MinisignKey != "" {
		return c.MinisignKey
	}
	return "$" + EnvTauriKey
}

// MinisignConfigured reports whether a minisign key is set.
func (c Config) MinisignConfigured() bool { return c.MinisignKey != "" || len(c.MinisignKeyData) > 0 }

// LoadMinisignKey reads and decrypts the minisign secret key.
func (c Config) LoadMinisignKey() (*minisign.SecretKey, error) {
	if !c.MinisignConfigured() {
		return nil, fmt.Errorf("minisign: %w (set %s or %s)", ErrNotConfigured, EnvMinisignKey, EnvTauriKey)
	}
	text := []byte(c.MinisignKeyData)
	if c.MinisignKey != "" {
		var err error
		if text, err = readKeyFile(c.MinisignKey, int64(minisign.MaxKeyLen)); err != nil {
			return nil, fmt.Errorf("minisign key %s: %w", c.MinisignKey, err)
		}
	}
	sk, err := minisign.ParseSecretKey(text, c.MinisignPassword)
	switch {
	case errors.Is(err, signing.ErrNoPassword):
		return nil, fmt.Errorf("minisign key %s: %w (set %s)", c.minisignSource(), err, EnvMinisignPassword)
	case err != nil:
		return nil, fmt.Errorf("minisign key %s: %w", c.minisignSource(), err)
	}
	return sk, nil
}

// MinisignSigner builds the minisign backend (writes .minisig and Tauri .sig).
func (c Config) MinisignSigner() (*minisign.Signer, error) {
	sk, err := c.LoadMinisignKey()
	if err != nil {
		return nil, err
	}
	return minisign.New(sk, minisign.Options{Version: c.Version})
}

// readKeyFile reads a key file, refusing anything larger than limit.
func readKeyFile(path string, limit int64) ([]byte, error) {
	b, err := signing.ReadFileLimited(path, limit)
	if err != nil && !errors.Is(err, os.ErrNotExist) && !errors.Is(err, os.ErrPermission) {
		return nil, fmt.Errorf("%w: %w", signing.ErrBadKey, err)
	}
	return b, err
}

// ArtifactSigners returns the detached-signature backends (cosign,
// minisign) that have keys configured, loading and checking every key. It
// fails when none is configured or any configured key does not load (all
// problems are reported together).
func (c Config) ArtifactSigners() ([]signing.Backend, error) {
	var out []signing.Backend
	var errs []error
	if c.CosignKey != "" {
		s, err := c.CosignSigner()
		out, errs = appendBackend(out, errs, s, err)
	}
	if c.MinisignConfigured() {
		s, err := c.MinisignSigner()
		out, errs = appendBackend(out, errs, s, err)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%w: set %s and/or %s (or %s)", ErrNotConfigured, EnvCosignKey, EnvMinisignKey, EnvTauriKey)
	}
	return out, nil
}

func appendBackend[B signing.Backend](out []signing.Backend, errs []error, b B, err error) ([]signing.Backend, []error) {
	if err != nil {
		return out, append(errs, err)
	}
	return append(out, b), errs
}

// BinarySigner picks the in-place code signer for an executable from its
// format: Authenticode for PE and MSI (nil when no certificate is
// configured), macOS for Mach-O (ad-hoc without a certificate), nil for
// anything else.
func (c Config) BinarySigner(path string) (signing.Backend, error) {
	f, err := binfmt.DetectFile(path)
	if err != nil {
		return nil, fmt.Errorf("detect format of %s: %w", path, err)
	}
	switch {
	case f == binfmt.PE || f == binfmt.MSI:
		if c.AuthenticodeP12 == "" {
			return nil, nil
		}
		return c.authenticode(), nil
	case f.IsMachO():
		return c.macOS(), nil
	}
	return nil, nil
}

func (c Config) authenticode() *authenticode.Signer {
	return authenticode.New(c.AuthenticodeP12, c.AuthenticodePassword, authenticode.Options{TimestampURL: c.AuthenticodeTimestampURL})
}

func (c Config) macOS() *macos.Signer {
	return macos.New(c.MacOSP12, c.MacOSPassword, macos.Options{})
}
