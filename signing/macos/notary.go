package macos

import (
	"context"
	"crypto/ecdsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"time"

	"github.com/anchore/quill/quill/notary"

	"github.com/slipwayhq/slipway/signing"
)

// Notary is an App Store Connect API key for Apple's notary service.
//
// Notarization is wired in but has not been exercised against Apple in
// Slipway's tests (that needs a paid developer account).
type Notary struct {
	// Issuer is the App Store Connect issuer ID (a UUID).
	Issuer string `json:"issuer" yaml:"issuer"`
	// KeyID is the API key's ID (10 characters).
	KeyID string `json:"key_id" yaml:"key_id"`
	// KeyPath is the AuthKey_<KeyID>.p8 file (PEM, EC P-256 private key).
	KeyPath string `json:"key_path" yaml:"key_path"`
	// Timeout bounds the wait for Apple's verdict. Default: 15 minutes.
	Timeout time.Duration `json:"timeout,omitempty" yaml:"timeout,omitempty"`
}

// ErrNotarization: Apple's notary service did not accept the binary.
var ErrNotarization = errors.New("notarization failed")

const maxP8Size = 16 << 10

// check reports missing fields and an unreadable .p8 key.
func (n *Notary) check() []error {
	var errs []error
	if n.Issuer == "" {
		errs = append(errs, errors.New("macos notary: issuer ID missing (SLIPWAY_MACOS_NOTARY_ISSUER)"))
	}
	if n.KeyID == "" {
		errs = append(errs, errors.New("macos notary: key ID missing (SLIPWAY_MACOS_NOTARY_KEY_ID)"))
	}
	if _, err := n.loadKey(); err != nil {
		errs = append(errs, err)
	}
	return errs
}

// loadKey reads and parses the .p8 so that a bad key fails before upload.
func (n *Notary) loadKey() (*ecdsa.PrivateKey, error) {
	if n.KeyPath == "" {
		return nil, fmt.Errorf("macos notary: API key path missing (SLIPWAY_MACOS_NOTARY_KEY): %w", signing.ErrBadKey)
	}
	f, err := os.Open(n.KeyPath)
	if err != nil {
		return nil, fmt.Errorf("macos notary: API key %s: %w", n.KeyPath, err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxP8Size+1))
	if err != nil {
		return nil, fmt.Errorf("macos notary: API key %s: %w", n.KeyPath, err)
	}
	block, _ := pem.Decode(data)
	if len(data) > maxP8Size || block == nil {
		return nil, fmt.Errorf("macos notary: API key %s is not a PEM .p8 file: %w", n.KeyPath, signing.ErrBadKey)
	}
	key, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("macos notary: API key %s: %w", n.KeyPath, signing.ErrBadKey)
	}
	ec, ok := key.(*ecdsa.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("macos notary: API key %s is %T, want an EC key: %w", n.KeyPath, key, signing.ErrBadKey)
	}
	return ec, nil
}

// submit uploads the signed binary and waits for Apple's verdict.
func (n *Notary) submit(ctx context.Context, path string, log *slog.Logger) error {
	if errs := n.check(); len(errs) > 0 {
		return errors.Join(errs...)
	}
	timeout := n.Timeout
	if timeout == 0 {
		timeout = 15 * time.Minute
	}
	token, err := notary.NewSignedToken(notary.TokenConfig{
		Issuer:        n.Issuer,
		PrivateKeyID:  n.KeyID,
		TokenLifetime: timeout + 2*time.Minute,
		PrivateKey:    n.KeyPath,
	})
	if err != nil {
		return fmt.Errorf("macos notary: API key %s: %w", n.KeyPath, err)
	}
	payload, err := notary.NewPayload(path)
	if err != nil {
		return fmt.Errorf("macos notary: %w", err)
	}
	sub := notary.NewSubmission(notary.NewAPIClient(token, 30*time.Second), payload)
	if err := sub.Start(ctx); err != nil {
		return fmt.Errorf("macos notary: submit %s: %w", path, err)
	}
	log.InfoContext(ctx, "notarization submitted", "path", path, "submission", sub.ID())
	status, err := notary.PollStatus(ctx, sub, notary.StatusConfig{Timeout: timeout, Poll: 10 * time.Second, Wait: true})
	if err != nil {
		return fmt.Errorf("macos notary: %s: %w: %w", path, ErrNotarization, err)
	}
	if status != notary.AcceptedStatus {
		return fmt.Errorf("macos notary: %s: status %q (see `quill submission logs %s`): %w", path, status, sub.ID(), ErrNotarization)
	}
	log.InfoContext(ctx, "notarized", "path", path, "submission", sub.ID())
	return nil
}
