package main

import (
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/slipwayhq/slipway/signing"
	"github.com/slipwayhq/slipway/signing/authenticode"
	"github.com/slipwayhq/slipway/signing/binfmt"
	"github.com/slipwayhq/slipway/signing/keyring"
	"github.com/slipwayhq/slipway/signing/macos"
)

func init() { register(newSignBinaryCmd) }

// Environment variables for Apple notarization (the P12 variables are in
// the keyring contract).
const (
	envNotaryIssuer   = "SLIPWAY_MACOS_NOTARY_ISSUER"
	envNotaryKeyID    = "SLIPWAY_MACOS_NOTARY_KEY_ID"
	envNotaryKey      = "SLIPWAY_MACOS_NOTARY_KEY"
	envMacOSTimestamp = "SLIPWAY_MACOS_TIMESTAMP_URL"
	// appleTSA is Apple's time-stamping server, used when notarizing
	// without SLIPWAY_MACOS_TIMESTAMP_URL: the notary requires a timestamp.
	appleTSA = "http://timestamp.apple.com/ts01"
)

type signBinaryOptions struct {
	verify   bool   // verify each signature right after signing
	caFile   string // trusted roots (PEM) for --verify
	require  bool   // fail when a Windows binary has no certificate configured
	notarize bool   // submit signed Mach-O files to Apple's notary service
}

func newSignBinaryCmd() *cobra.Command {
	var o signBinaryOptions
	cmd := &cobra.Command{
		Use:   "sign-binary PATH...",
		Short: "Code-sign executables in place: Authenticode for Windows, Apple code signature for macOS",
		Long: `Detects each file's format from its header and signs it in place:

  Windows PE (.exe, .dll) and .msi   Authenticode SHA-256 via osslsigncode, with
                                     SLIPWAY_AUTHENTICODE_P12 + SLIPWAY_AUTHENTICODE_PASSWORD
                                     (+ SLIPWAY_AUTHENTICODE_TIMESTAMP_URL); skipped
                                     with a notice when no certificate is set
  Mach-O (thin or universal)         Apple code signature (pure Go, quill) with
                                     SLIPWAY_MACOS_P12 + SLIPWAY_MACOS_PASSWORD, or ad hoc
                                     when SLIPWAY_MACOS_P12 is unset
  macOS .app bundle (a directory)    its executable signed as above with the bundle
                                     identifier, Info.plist and the resource seal
                                     Contents/_CodeSignature/CodeResources bound
                                     (bundles without resources only)
  ELF and anything else              left untouched

SLIPWAY_MACOS_TIMESTAMP_URL adds an RFC 3161 timestamp to macOS signatures.
With --notarize (default when SLIPWAY_MACOS_NOTARY_KEY is set), signed Mach-O
files are timestamped (Apple's server unless SLIPWAY_MACOS_TIMESTAMP_URL is
set) and submitted to Apple's notary service with the App Store Connect API
key SLIPWAY_MACOS_NOTARY_ISSUER, SLIPWAY_MACOS_NOTARY_KEY_ID and
SLIPWAY_MACOS_NOTARY_KEY (path of the .p8 file). Notarization is untested
here (it needs an Apple developer account).

Made to run as a GoReleaser post-build hook, before archiving.`,
		Example: `  slipway sign-binary dist/slipway-agent_windows_amd64_v1/slipway-agent.exe
  slipway sign-binary --verify --ca-file my-ca.pem dist/*/slipway-agent*

  # .goreleaser.yaml
  builds:
    - hooks:
        post: slipway sign-binary "{{ .Path }}"`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			keys := keyring.FromEnv()
			var failed []error
			for _, path := range args {
				if err := signBinary(cmd, path, keys, o); err != nil {
					failed = append(failed, err)
				}
			}
			return errors.Join(failed...)
		},
	}
	_, notaryKeySet := os.LookupEnv(envNotaryKey)
	f := cmd.Flags()
	f.BoolVar(&o.verify, "verify", false, "verify each signature after signing (Authenticode trusts --ca-file or the system roots)")
	f.StringVar(&o.caFile, "ca-file", "", "PEM file of trusted root certificates for --verify")
	f.BoolVar(&o.require, "require", false, "fail instead of skipping a Windows binary when no Authenticode certificate is configured")
	f.BoolVar(&o.notarize, "notarize", notaryKeySet, "notarize signed Mach-O files with Apple (needs "+envNotaryIssuer+", "+envNotaryKeyID+", "+envNotaryKey+")")
	return cmd
}

// signBinary signs one file according to its format and reports what it did.
func signBinary(cmd *cobra.Command, path string, keys keyring.Config, o signBinaryOptions) error {
	out := cmd.OutOrStdout()
	if st, err := os.Stat(path); err == nil && st.IsDir() {
		return signBundle(cmd, path, keys, o)
	}
	format, err := binfmt.DetectFile(path)
	if err != nil {
		return err
	}
	if format == binfmt.MSI && !strings.EqualFold(filepath.Ext(path), ".msi") {
		format = binfmt.Other // an OLE compound file, but a Word document or the like, not an installer
	}
	backend, err := binarySigner(format, keys, o)
	if err != nil {
		return err
	}
	if backend == nil {
		return skipBinary(out, path, format, o)
	}
	ctx := cmd.Context()
	if _, err := backend.Sign(ctx, path); err != nil {
		return err
	}
	if o.verify {
		if err := backend.Verify(ctx, path); err != nil {
			return err
		}
	}
	how := backend.String()
	if m, ok := backend.(*macos.Signer); ok && m.AdHoc() {
		how += ", ad hoc: set SLIPWAY_MACOS_P12 for a Developer ID signature"
	}
	fmt.Fprintf(out, "%s: signed (%s)\n", path, how)
	return nil
}

// binarySigner builds the backend for a format, or nil when there is
// nothing to sign with.
func binarySigner(format binfmt.Format, keys keyring.Config, o signBinaryOptions) (signing.Backend, error) {
	var roots *x509.CertPool
	if o.caFile != "" {
		pemData, err := os.ReadFile(o.caFile)
		if err != nil {
			return nil, fmt.Errorf("--ca-file: %w", err)
		}
		roots = x509.NewCertPool()
		if !roots.AppendCertsFromPEM(pemData) {
			return nil, fmt.Errorf("--ca-file %s: no PEM certificates", o.caFile)
		}
	}
	switch {
	case format == binfmt.PE || format == binfmt.MSI:
		if keys.AuthenticodeP12 == "" {
			return nil, nil
		}
		return authenticode.New(keys.AuthenticodeP12, keys.AuthenticodePassword, authenticode.Options{
			TimestampURL: keys.AuthenticodeTimestampURL,
			CAFile:       o.caFile,
		}), nil
	case format.IsMachO():
		mo := macos.Options{Roots: roots, TimestampURL: os.Getenv(envMacOSTimestamp)}
		if o.notarize && mo.TimestampURL == "" {
			mo.TimestampURL = appleTSA
		}
		if o.notarize {
			mo.Notary = &macos.Notary{
				Issuer:  os.Getenv(envNotaryIssuer),
				KeyID:   os.Getenv(envNotaryKeyID),
				KeyPath: os.Getenv(envNotaryKey),
			}
		}
		return macos.New(keys.MacOSP12, keys.MacOSPassword, mo), nil
	}
	return nil, nil
}

// signBundle signs a macOS .app bundle directory.
func signBundle(cmd *cobra.Command, dir string, keys keyring.Config, o signBinaryOptions) error {
	if !strings.HasSuffix(filepath.Clean(dir), ".app") {
		return fmt.Errorf("%s: a directory, but not an .app bundle", dir)
	}
	b, err := binarySigner(binfmt.MachO, keys, o)
	if err != nil {
		return err
	}
	s := b.(*macos.Signer)
	if err := s.SignBundle(cmd.Context(), dir); err != nil {
		return err
	}
	if o.verify {
		if err := s.VerifyBundle(cmd.Context(), dir); err != nil {
			return err
		}
	}
	how := s.String()
	if s.AdHoc() {
		how += ", ad hoc: set SLIPWAY_MACOS_P12 for a Developer ID signature"
	}
	fmt.Fprintf(cmd.OutOrStdout(), "%s: bundle signed (%s)\n", dir, how)
	return nil
}

func skipBinary(out io.Writer, path string, format binfmt.Format, o signBinaryOptions) error {
	switch format {
	case binfmt.PE, binfmt.MSI:
		if o.require {
			return fmt.Errorf("%s: Windows %v file but SLIPWAY_AUTHENTICODE_P12 is not set (--require)", path, format)
		}
		fmt.Fprintf(out, "%s: Windows %v file, not signed: SLIPWAY_AUTHENTICODE_P12 is not set\n", path, format)
	case binfmt.ELF:
		fmt.Fprintf(out, "%s: ELF binary, nothing to sign (Linux has no embedded code signature)\n", path)
	default:
		fmt.Fprintf(out, "%s: not a Windows or macOS executable, nothing to sign\n", path)
	}
	return nil
}
