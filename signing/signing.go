// Package signing holds Slipway's signature backends: cosign blob signatures,
// minisign (what Tauri's updater verifies), Windows Authenticode and macOS
// code signing. Each backend is one small type in its own sub-package that
// implements Backend; every format verifies with its real reference tool.
package signing

import (
	"context"
	"errors"
	"fmt"
)

// Backend is one signature format.
type Backend interface {
	// String is the backend's short name ("cosign", "minisign", "authenticode", "macos").
	fmt.Stringer
	// Sign signs the file at path. Detached signatures are written next to
	// it and their paths returned; in-place signers (Authenticode, macOS)
	// rewrite the file and return nil.
	Sign(ctx context.Context, path string) ([]string, error)
	// Verify checks the file's signature with this backend's own verifier.
	Verify(ctx context.Context, path string) error
	// Check reports what is missing for this backend to work (tools,
	// keys, passwords) for `slipway doctor`; nil means ready.
	Check(ctx context.Context) []error
}

// Errors shared by backends, matched with errors.Is.
var (
	// ErrBadSignature: the signature does not verify.
	ErrBadSignature = errors.New("signature verification failed")
	// ErrNoPassword: an encrypted key needs a password and none was given.
	ErrNoPassword = errors.New("key is encrypted and no password was given")
	// ErrWrongPassword: the password does not decrypt the key.
	ErrWrongPassword = errors.New("wrong password for key")
	// ErrBadKey: the key file is truncated, corrupt or of the wrong kind.
	ErrBadKey = errors.New("invalid key")
)

// File names of the detached signatures next to an artifact. cosign's
// signature is not named plain ".sig" because Tauri's updater owns that
// suffix (base64 of the .minisig text).
const (
	CosignSigExt    = ".cosign.sig"    // base64 DER signature, no newline
	CosignBundleExt = ".sigstore.json" // Sigstore bundle v0.3
	MinisigExt      = ".minisig"       // minisign signature file
	TauriSigExt     = ".sig"           // base64 of the whole .minisig text
)
