// Package macos code-signs Mach-O binaries (thin and universal) from any
// OS with the pure-Go anchore/quill library: with a Developer ID
// certificate from a PKCS#12 file, or ad hoc when none is given. Signed
// binaries can optionally be notarized through the App Store Connect API.
//
// Verify does not trust quill: it parses the embedded signature itself,
// recomputes every code-directory page hash and special-slot hash, and
// checks the CMS signature over the code directory.
package macos

import (
	"bytes"
	"context"
	"crypto/x509"
	"debug/macho"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/anchore/quill/quill"
	"github.com/anchore/quill/quill/pki/load"
	cms "github.com/github/smimesign/ietf-cms"

	"github.com/slipwayhq/slipway/signing"
	"github.com/slipwayhq/slipway/signing/binfmt"
	"github.com/slipwayhq/slipway/signing/p12"
)

// Options configure a Signer. The zero value signs ad hoc (with New's
// p12Path empty) or with the P12's certificate.
type Options struct {
	// Identity is the code-signing identifier. Default: the file's base name.
	Identity string `json:"identity,omitempty" yaml:"identity,omitempty"`
	// TimestampURL is an RFC 3161 server for the CMS signature; Apple's
	// notary requires a secure timestamp. Default: none.
	TimestampURL string `json:"timestamp_url,omitempty" yaml:"timestamp_url,omitempty"`
	// Entitlements is the path of an entitlements plist. Default: none.
	Entitlements string `json:"entitlements,omitempty" yaml:"entitlements,omitempty"`
	// Roots are the CAs Verify trusts for certificate signatures and for
	// the certificates of RFC 3161 timestamps in them. Default: the
	// configured P12's own certificate and the CA certificates stored
	// with it (the signer is pinned to the P12's certificate either way);
	// a timestamp from a public TSA needs Roots that include its root.
	Roots *x509.CertPool `json:"-" yaml:"-"`
	// Notary, when set, submits every signed binary to Apple's notary
	// service and waits for the verdict. Default: no notarization.
	Notary *Notary `json:"notary,omitempty" yaml:"notary,omitempty"`
	// Logger receives progress; never key material. Default: discard.
	Logger *slog.Logger `json:"-" yaml:"-"`
}

// Signer is the macOS code-signing signing.Backend.
type Signer struct {
	p12Path  string
	password []byte
	opts     Options
	// external: hashes of files outside the binary (a bundle's
	// Info.plist and resource seal) for the code directory's special
	// slots; set by SignBundle.
	external []slotBlob
}

var _ signing.Backend = (*Signer)(nil)

// New returns a signer using the PKCS#12 file at p12Path, or an ad-hoc
// signer when p12Path is "". Nothing is read until Sign, Verify or Check.
func New(p12Path string, password []byte, opts Options) *Signer {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	return &Signer{p12Path: p12Path, password: bytes.Clone(password), opts: opts}
}

func (s *Signer) String() string { return "macos" }

// AdHoc reports whether the signer signs without a certificate.
func (s *Signer) AdHoc() bool { return s.p12Path == "" }

// Check reports an unreadable P12 and incomplete notarization settings.
// Signing itself needs no external tool.
func (s *Signer) Check(ctx context.Context) []error {
	var errs []error
	if !s.AdHoc() {
		if _, err := s.load(); err != nil {
			errs = append(errs, err)
		}
	}
	if s.opts.Notary != nil {
		if s.AdHoc() {
			errs = append(errs, errors.New("macos: notarization needs a Developer ID certificate (SLIPWAY_MACOS_P12), not an ad-hoc signature"))
		}
		errs = append(errs, s.opts.Notary.check()...)
	}
	return errs
}

func (s *Signer) load() (*p12.Bundle, error) {
	b, err := p12.Load(s.p12Path, s.password)
	if err != nil {
		return nil, fmt.Errorf("macos: %w", err)
	}
	return b, nil
}

// Sign code-signs the Mach-O at path in place (a signed copy replaces it
// atomically), replacing any existing signature, then notarizes it when
// Options.Notary is set.
func (s *Signer) Sign(ctx context.Context, path string) ([]string, error) {
	format, err := requireMachO(path)
	if err != nil {
		return nil, err
	}
	cfg, err := s.signingConfig(path)
	if err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	target, err := filepath.EvalSymlinks(path) // replace the file, not a link to it
	if err != nil {
		return nil, fmt.Errorf("macos sign: %w", err)
	}
	tmp, cleanup, err := privateCopy(target)
	if err != nil {
		return nil, fmt.Errorf("macos sign: %w", err)
	}
	defer cleanup()
	if format == binfmt.MachO {
		if err := stripSignature(tmp); err != nil {
			return nil, fmt.Errorf("macos sign %s: remove old signature: %w", path, err)
		}
	}
	cfg.Path = tmp
	if err := s.sign(cfg, format); err != nil {
		return nil, fmt.Errorf("macos sign %s: %w", path, err)
	}
	// quill ignores some of its own patching errors: never replace a good
	// binary with one whose signature does not even match its bytes.
	if err := s.verifyFile(ctx, tmp, false); err != nil {
		return nil, fmt.Errorf("macos sign %s: signed copy failed the self-check: %w", path, err)
	}
	if err := os.Rename(tmp, target); err != nil {
		return nil, fmt.Errorf("macos sign: replace %s: %w", target, err)
	}
	s.opts.Logger.InfoContext(ctx, "signed", "backend", "macos", "path", path, "adhoc", s.AdHoc())
	if s.opts.Notary != nil {
		if err := s.opts.Notary.submit(ctx, path, s.opts.Logger); err != nil {
			return nil, err
		}
	}
	return nil, nil
}

// sign signs the private copy cfg.Path: thin binaries in one streaming
// pass (signThin), universal ones and layouts signThin does not handle
// through quill.Sign.
func (s *Signer) sign(cfg *quill.SigningConfig, format binfmt.Format) error {
	if format == binfmt.MachO {
		err := signThin(cfg, s.external)
		if !errors.Is(err, errNotStripped) {
			return err
		}
	}
	if len(s.external) > 0 {
		return fmt.Errorf("%w: the executable of a bundle must be a thin Mach-O with a strippable signature", ErrBundle)
	}
	return quill.Sign(*cfg)
}

// signingConfig builds quill's config: ad hoc, or from the decoded P12.
func (s *Signer) signingConfig(path string) (*quill.SigningConfig, error) {
	id := s.opts.Identity
	if id == "" {
		id = filepath.Base(path)
	}
	cfg := &quill.SigningConfig{Path: path, Identity: id}
	if !s.AdHoc() {
		b, err := s.load()
		if err != nil {
			return nil, err
		}
		contents := load.P12Contents{PrivateKey: b.Key, Certificate: b.Cert, Certificates: b.Chain}
		cfg, err = quill.NewSigningConfigFromP12(path, contents, false)
		if err != nil {
			return nil, fmt.Errorf("macos: P12 %s: %w: %w", s.p12Path, err, signing.ErrBadKey)
		}
		cfg.WithIdentity(id).WithTimestampServer(s.opts.TimestampURL)
	}
	cfg.WithEntitlements(s.opts.Entitlements)
	return cfg, nil
}

// Verify checks every architecture slice of the Mach-O at path: the code
// directory hashes must match the file, and the signature must be ad hoc
// for an ad-hoc signer, or a CMS signature by the configured certificate
// (chaining to Options.Roots when set). Failures match
// signing.ErrBadSignature.
func (s *Signer) Verify(ctx context.Context, path string) error {
	return s.verifyFile(ctx, path, true)
}

// verifyFile checks the structure and all hashes of every slice, and
// with trust also the CMS signature and who made it.
func (s *Signer) verifyFile(ctx context.Context, path string, trust bool) error {
	format, err := binfmt.DetectFile(path)
	if err != nil {
		return fmt.Errorf("macos verify: %w", err)
	}
	if !format.IsMachO() {
		return fmt.Errorf("macos verify: %s is %v: %w", path, format, ErrNotMachO)
	}
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("macos verify: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return fmt.Errorf("macos verify: %w", err)
	}
	if format == binfmt.MachO {
		mf, err := macho.NewFile(f)
		if err != nil {
			return fmt.Errorf("macos verify %s: %w: %w", path, signing.ErrBadSignature, err)
		}
		return s.verifySlice(ctx, path, mf, f, st.Size(), trust)
	}
	fat, err := macho.NewFatFile(f)
	if err != nil {
		return fmt.Errorf("macos verify %s: %w: %w", path, signing.ErrBadSignature, err)
	}
	for _, arch := range fat.Arches {
		slice := io.NewSectionReader(f, int64(arch.Offset), int64(arch.Size))
		if err := s.verifySlice(ctx, path+" ("+arch.Cpu.String()+")", arch.File, slice, int64(arch.Size), trust); err != nil {
			return err
		}
	}
	return nil
}

func (s *Signer) verifySlice(ctx context.Context, name string, mf *macho.File, slice io.ReaderAt, size int64, trust bool) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	sig, err := readCodeSignature(mf, slice, size)
	if err != nil {
		return fmt.Errorf("macos verify %s: %w: %w", name, signing.ErrBadSignature, err)
	}
	if sig == nil {
		return fmt.Errorf("macos verify %s: not signed: %w", name, signing.ErrBadSignature)
	}
	for i := range sig.dirs {
		if err := sig.dirs[i].checkHashes(slice, sig); err != nil {
			return fmt.Errorf("macos verify %s: %w: %w", name, signing.ErrBadSignature, err)
		}
	}
	if !trust {
		return nil
	}
	if err := s.checkSignature(sig); err != nil {
		return fmt.Errorf("macos verify %s: %w: %w", name, signing.ErrBadSignature, err)
	}
	return nil
}

// checkSignature checks the CMS blob against the code directory in slot 0.
func (s *Signer) checkSignature(sig *codeSignature) error {
	cd := sig.dirs[0]
	if len(sig.cms) == 0 {
		if !s.AdHoc() || s.opts.Roots != nil {
			return errors.New("signature is ad hoc, want one by a certificate")
		}
		if cd.flags&cdFlagAdhoc == 0 {
			return errors.New("no CMS signature and not flagged ad hoc")
		}
		return nil
	}
	roots := s.opts.Roots
	var pinned *x509.Certificate
	if !s.AdHoc() {
		b, err := s.load()
		if err != nil {
			return err
		}
		pinned = b.Cert
		if roots == nil { // the P12's own certificate, and its CAs for timestamps
			roots = x509.NewCertPool()
			roots.AddCert(b.Cert)
			for _, c := range b.Chain {
				if c.IsCA {
					roots.AddCert(c)
				}
			}
		}
	}
	if roots == nil {
		return errors.New("signed with a certificate, but this ad-hoc verifier has no trusted roots (Options.Roots)")
	}
	sd, err := cms.ParseSignedData(sig.cms)
	if err != nil {
		return fmt.Errorf("parse CMS signature: %w", err)
	}
	chains, err := sd.VerifyDetached(cd.raw, x509.VerifyOptions{
		Roots:     roots,
		KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageCodeSigning},
	})
	if err != nil {
		return fmt.Errorf("CMS signature: %w", err)
	}
	if pinned != nil && (len(chains) == 0 || len(chains[0]) == 0 || !chains[0][0][0].Equal(pinned)) {
		return fmt.Errorf("signed by a certificate other than %q", pinned.Subject.CommonName)
	}
	return nil
}

// ErrNotMachO: the file is not a Mach-O binary.
var ErrNotMachO = errors.New("not a Mach-O binary")

func requireMachO(path string) (binfmt.Format, error) {
	format, err := binfmt.DetectFile(path)
	if err != nil {
		return format, fmt.Errorf("macos: %w", err)
	}
	if !format.IsMachO() {
		return format, fmt.Errorf("macos: %s is %v: %w", path, format, ErrNotMachO)
	}
	return format, nil
}

// privateCopy copies path into a new private directory next to it (same
// filesystem, so renaming the copy over path is atomic).
func privateCopy(path string) (string, func(), error) {
	dir, err := os.MkdirTemp(filepath.Dir(path), "."+filepath.Base(path)+".sign-*")
	if err != nil {
		return "", nil, err
	}
	cleanup := func() { os.RemoveAll(dir) }
	dst := filepath.Join(dir, filepath.Base(path))
	if err := copyFile(dst, path); err != nil {
		cleanup()
		return "", nil, err
	}
	return dst, cleanup, nil
}

func copyFile(dst, src string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	st, err := in.Stat()
	if err != nil {
		return err
	}
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_EXCL|os.O_WRONLY, st.Mode().Perm())
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}
