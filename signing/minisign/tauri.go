package minisign

import (
	"errors"
	"fmt"
	"io"
	"regexp"
	"strings"
)

// Tauri's version rule (SPEC.md §1.5): after the signature verifies, the
// "version:" in the trusted comment must equal the version the updater was
// offered; a signature without one is refused when the app requires it.
var (
	// ErrSignedVersionMismatch: the signature is valid but was made for
	// another version than the one announced (a replayed old artifact).
	// The concrete error is a *VersionMismatchError.
	ErrSignedVersionMismatch = errors.New("signed version does not match the announced version")
	// ErrMissingSignedVersion: the trusted comment has no "version:" field
	// and the policy requires one.
	ErrMissingSignedVersion = errors.New("signature carries no signed version")
)

// VersionMismatchError is Tauri's SignedVersionMismatch{signed, announced}.
type VersionMismatchError struct {
	Signed, Announced string
}

func (e *VersionMismatchError) Error() string {
	return fmt.Sprintf("%v: signed %q, announced %q", ErrSignedVersionMismatch, e.Signed, e.Announced)
}

// Is makes errors.Is(err, ErrSignedVersionMismatch) match.
func (e *VersionMismatchError) Is(target error) bool { return target == ErrSignedVersionMismatch }

// TauriOptions is the updater policy for VerifyTauriWith.
type TauriOptions struct {
	// RequireSignedVersion refuses signatures without "version:" (the
	// updater's requireSignedVersion, which `tauri plugin add updater` now
	// sets). Default (false): old-style signatures are accepted.
	RequireSignedVersion bool
}

// VerifyTauri verifies a Tauri updater signature (the base64 .sig form)
// over data like the current updater plugin with requireSignedVersion:
// the signature must verify and carry version:<announced>.
func VerifyTauri(pk *PublicKey, data io.Reader, sigB64, announced string) (*Signature, error) {
	return VerifyTauriWith(pk, data, sigB64, announced, TauriOptions{RequireSignedVersion: true})
}

// VerifyTauriWith is VerifyTauri with an explicit policy. The version rule
// is applied only after the signature verifies, as the plugin does.
func VerifyTauriWith(pk *PublicKey, data io.Reader, sigB64, announced string, opts TauriOptions) (*Signature, error) {
	sig, err := ParseTauriSignature(sigB64)
	if err != nil {
		return nil, err
	}
	if err := Verify(pk, data, sig); err != nil {
		return nil, err
	}
	return sig, CheckSignedVersion(sig, announced, opts.RequireSignedVersion)
}

// CheckSignedVersion applies Tauri's version rule to a verified signature.
func CheckSignedVersion(sig *Signature, announced string, require bool) error {
	signed, ok := sig.Field("version")
	if !ok {
		if require {
			return ErrMissingSignedVersion
		}
		return nil
	}
	if !SameVersion(signed, announced) {
		return &VersionMismatchError{Signed: signed, Announced: announced}
	}
	return nil
}

// semverRE is the SemVer 2.0.0 grammar (semver.org).
var semverRE = regexp.MustCompile(`^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)` +
	`(?:-((?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?` +
	`(?:\+([0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?$`)

// SameVersion compares versions like the updater: as SemVer after
// stripping a leading "v" when both parse (valid SemVer text is canonical,
// so equal values are equal strings, build metadata included), else literally.
func SameVersion(a, b string) bool {
	na, oka := normalizeVersion(a)
	nb, okb := normalizeVersion(b)
	if oka && okb {
		return na == nb
	}
	return a == b
}

func normalizeVersion(v string) (string, bool) {
	v = strings.TrimPrefix(v, "v")
	return v, semverRE.MatchString(v)
}
