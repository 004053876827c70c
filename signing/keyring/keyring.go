// Package keyring finds Slipway's signing key material (files named by
// environment variables, or Tauri's inline key), builds the signing
// backends from it, and generates development keys.
//
// Secrets are held as Secret values, which never print or log, and key
// files are written mode 0600 through a temporary file and a rename. Every
// error names the key it is about (a path or an environment variable) and
// wraps the shared signing errors (ErrNoPassword, ErrWrongPassword,
// ErrBadKey) for errors.Is.
package keyring

import (
	"errors"
	"fmt"
	"log/slog"
)

// Environment variables read by FromEnv.
const (
	EnvCosignKey                = "SLIPWAY_COSIGN_KEY"
	EnvCosignPassword           = "COSIGN_PASSWORD"
	EnvMinisignKey              = "SLIPWAY_MINISIGN_KEY"
	EnvMinisignPassword         = "SLIPWAY_MINISIGN_PASSWORD"
	EnvTauriKey                 = "TAURI_SIGNING_PRIVATE_KEY"
	EnvTauriPassword            = "TAURI_SIGNING_PRIVATE_KEY_PASSWORD"
	EnvAuthenticodeP12          = "SLIPWAY_AUTHENTICODE_P12"
	EnvAuthenticodePassword     = "SLIPWAY_AUTHENTICODE_PASSWORD"
	EnvAuthenticodeTimestampURL = "SLIPWAY_AUTHENTICODE_TIMESTAMP_URL"
	EnvMacOSP12                 = "SLIPWAY_MACOS_P12"
	EnvMacOSPassword            = "SLIPWAY_MACOS_PASSWORD"
)

// ErrNotConfigured: no key material for a backend that was asked for.
var ErrNotConfigured = errors.New("no signing key configured")

// Secret is a password or inline key. It never prints, logs or marshals.
type Secret []byte

const redacted = "[redacted]"

// String hides the secret from %v and %s.
func (Secret) String() string { return redacted }

// GoString hides the secret from %#v.
func (Secret) GoString() string { return redacted }

// Format hides the secret from every other fmt verb (%x, %q, %d...).
func (Secret) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte(redacted)) }

// LogValue hides the secret from log/slog.
func (Secret) LogValue() slog.Value { return slog.StringValue(redacted) }

// MarshalText hides the secret from encoding/json and friends.
func (Secret) MarshalText() ([]byte, error) { return []byte(redacted), nil }
