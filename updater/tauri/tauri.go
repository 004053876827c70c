// Package tauri is the wire format of the Tauri v2 updater plugin (see
// docs/updater.md and the interop SPEC §1): the dynamic and static
// response bodies, the mapping between Go os/arch and Tauri target names,
// and Validate, which parses a response the way the plugin does so tests
// can prove a Tauri app accepts what Slipway serves.
package tauri

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/slipwayhq/slipway/signing/minisign"
	"github.com/slipwayhq/slipway/updater/semver"
)

// Dynamic is the body of a dynamic update response (HTTP 200).
type Dynamic struct {
	Version   string `json:"version"`
	Notes     string `json:"notes,omitempty"`
	PubDate   string `json:"pub_date,omitempty"`
	URL       string `json:"url"`
	Signature string `json:"signature"`
}

// Static is a latest.json manifest.
type Static struct {
	Version   string              `json:"version"`
	Notes     string              `json:"notes,omitempty"`
	PubDate   string              `json:"pub_date,omitempty"`
	Platforms map[string]Platform `json:"platforms"`
}

// Platform is one entry of Static.Platforms.
type Platform struct {
	Signature string `json:"signature"`
	URL       string `json:"url"`
}

var archToGo = map[string]string{"x86_64": "amd64", "i686": "386", "aarch64": "arm64", "armv7": "arm", "riscv64": "riscv64"}

// GoPlatform maps a Tauri {{target}} and {{arch}} to Go's GOOS/GOARCH.
func GoPlatform(target, arch string) (goos, goarch string, ok bool) {
	switch target {
	case "linux", "darwin", "windows":
	default:
		return "", "", false
	}
	goarch, ok = archToGo[arch]
	return target, goarch, ok
}

// Arch maps a GOARCH to Tauri's arch name ("" if Tauri has none).
func Arch(goarch string) string {
	for t, g := range archToGo {
		if g == goarch {
			return t
		}
	}
	return ""
}

// Bundles are the bundle types of the newer plugin, per OS, in the order
// Slipway prefers them for the plain {os}-{arch} key.
var Bundles = map[string][]string{
	"linux":   {"appimage", "deb", "rpm"},
	"darwin":  {"app"},
	"windows": {"nsis", "msi"},
}

// IsBundle reports whether b is a bundle type valid on goos.
func IsBundle(goos, b string) bool {
	for _, x := range Bundles[goos] {
		if x == b {
			return true
		}
	}
	return false
}

// PubDate formats a release date for pub_date (RFC 3339, UTC), or "" for
// the zero time so the key is omitted.
func PubDate(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}

// Errors from Validate and SignedVersion (match with errors.Is).
var (
	ErrBody      = errors.New("tauri: response rejected")
	ErrSignature = errors.New("tauri: signature field is not the base64 of a minisign signature")
)

// SignedVersion extracts the `version:` field of the trusted comment in a
// .sig value (base64 of the .minisig text). ok is false when the
// signature carries no version (older Tauri CLI).
func SignedVersion(sig string) (version string, ok bool, err error) {
	// Rust's STANDARD engine rejects whitespace; Go's decoder skips \r\n.
	if strings.ContainsAny(sig, "\r\n\t ") {
		return "", false, fmt.Errorf("%w: whitespace in base64", ErrSignature)
	}
	s, err := minisign.ParseTauriSignature(sig)
	if err != nil {
		return "", false, fmt.Errorf("%w: %w", ErrSignature, err)
	}
	version, ok = s.Field("version")
	return version, ok, nil
}

// Validate parses body as the Tauri v2 plugin does (SPEC §1.3-1.5) for a
// client on key (such as "linux-x86_64"; "" skips the platform lookup),
// and returns the announced version, URL and signature. It checks the
// version is SemVer (leading "v"s trimmed), pub_date is RFC 3339, URLs
// are absolute, every static platform entry is valid, the signature is
// the base64 of a minisign text and its signed version (if any) equals
// the announced one.
func Validate(body []byte, key string, fallbacks ...string) (version, url, signature string, err error) {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(body, &raw); err != nil {
		return "", "", "", fmt.Errorf("%w: not a JSON object: %w", ErrBody, err)
	}
	var common struct {
		Version *string `json:"version"`
		Name    *string `json:"name"`
		Notes   *string `json:"notes"`
		PubDate *string `json:"pub_date"`
	}
	if err := json.Unmarshal(body, &common); err != nil {
		return "", "", "", fmt.Errorf("%w: %w", ErrBody, err)
	}
	if common.Version != nil && common.Name != nil {
		return "", "", "", fmt.Errorf("%w: duplicate field `version`", ErrBody)
	}
	if common.Version == nil {
		common.Version = common.Name
	}
	if common.Version == nil {
		return "", "", "", fmt.Errorf("%w: missing field `version`", ErrBody)
	}
	if _, err := semver.ParseTauri(*common.Version); err != nil {
		return "", "", "", fmt.Errorf("%w: %w", ErrBody, err)
	}
	if common.PubDate != nil {
		if _, err := time.Parse(time.RFC3339, *common.PubDate); err != nil {
			return "", "", "", fmt.Errorf("%w: invalid value for `pub_date`: %w", ErrBody, err)
		}
	}
	url, sig, err := locate(body, raw, key, fallbacks)
	if err != nil {
		return "", "", "", err
	}
	if signed, ok, err := SignedVersion(sig); err != nil {
		return "", "", "", err
	} else if ok && !sameVersion(signed, *common.Version) {
		return "", "", "", fmt.Errorf("%w: signed version %s, announced %s", ErrBody, signed, *common.Version)
	}
	return *common.Version, url, sig, nil
}

func locate(body []byte, raw map[string]json.RawMessage, key string, fallbacks []string) (string, string, error) {
	if _, static := raw["platforms"]; !static {
		var d struct {
			URL       *string `json:"url"`
			Signature *string `json:"signature"`
		}
		if err := json.Unmarshal(body, &d); err != nil {
			return "", "", fmt.Errorf("%w: %w", ErrBody, err)
		}
		if d.URL == nil {
			return "", "", fmt.Errorf("%w: the `url` field was not set on the updater response", ErrBody)
		}
		if d.Signature == nil {
			return "", "", fmt.Errorf("%w: the `signature` field was not set on the updater response", ErrBody)
		}
		return *d.URL, *d.Signature, absolute(*d.URL)
	}
	var s struct {
		Platforms map[string]struct {
			URL       *string `json:"url"`
			Signature *string `json:"signature"`
		} `json:"platforms"`
	}
	if err := json.Unmarshal(body, &s); err != nil {
		return "", "", fmt.Errorf("%w: %w", ErrBody, err)
	}
	for k, p := range s.Platforms {
		if p.URL == nil || p.Signature == nil {
			return "", "", fmt.Errorf("%w: platform %s: missing url or signature", ErrBody, k)
		}
		if err := absolute(*p.URL); err != nil {
			return "", "", fmt.Errorf("platform %s: %w", k, err)
		}
	}
	for _, k := range append(fallbacks, key) {
		if p, ok := s.Platforms[k]; ok {
			return *p.URL, *p.Signature, nil
		}
	}
	if key == "" {
		return "", "", nil
	}
	return "", "", fmt.Errorf("%w: None of the fallback platforms %q were found in the response `platforms` object", ErrBody, append(fallbacks, key))
}

func absolute(s string) error {
	u, err := url.Parse(s)
	if err != nil || !u.IsAbs() || u.Host == "" {
		return fmt.Errorf("%w: url %q: relative URL without a base", ErrBody, s)
	}
	return nil
}

func sameVersion(a, b string) bool {
	va, errA := semver.ParseTauri(a)
	vb, errB := semver.ParseTauri(b)
	if errA != nil || errB != nil {
		return a == b
	}
	return semver.Compare(va, vb) == 0
}

// Encode marshals a body without HTML escaping (URLs keep their '&').
func Encode(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}
