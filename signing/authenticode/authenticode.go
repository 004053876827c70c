// Package authenticode signs Windows executables (.exe, .dll) and .msi
// installers in place with an Authenticode SHA-256 signature, using the
// osslsigncode tool and a PKCS#12 certificate.
//
// The P12 password reaches osslsigncode on its standard input
// (-readpass -), never on its command line or in its environment, so it
// does not show up in process listings.
package authenticode

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/slipwayhq/slipway/signing"
	"github.com/slipwayhq/slipway/signing/binfmt"
	"github.com/slipwayhq/slipway/signing/p12"
)

// Options configure a Signer. The zero value is usable.
type Options struct {
	// TimestampURL is an RFC 3161 time-stamping server; signatures
	// without one stop validating when the certificate expires.
	// Default: none.
	TimestampURL string `json:"timestamp_url,omitempty" yaml:"timestamp_url,omitempty"`
	// CAFile is the PEM bundle of trusted roots Verify checks against.
	// Default: osslsigncode's built-in default (the system CA bundle).
	CAFile string `json:"ca_file,omitempty" yaml:"ca_file,omitempty"`
	// TSACAFile is the PEM bundle of roots Verify trusts for the
	// time-stamping authority's certificate. Default: CAFile.
	TSACAFile string `json:"tsa_ca_file,omitempty" yaml:"tsa_ca_file,omitempty"`
	// Description and URL are shown by Windows in the UAC prompt
	// (osslsigncode -n / -i). Default: none.
	Description string `json:"description,omitempty" yaml:"description,omitempty"`
	URL         string `json:"url,omitempty" yaml:"url,omitempty"`
	// Tool is the osslsigncode binary. Default: "osslsigncode" from PATH.
	Tool string `json:"tool,omitempty" yaml:"tool,omitempty"`
	// Logger receives progress; never key material. Default: discard.
	Logger *slog.Logger `json:"-" yaml:"-"`
}

// Signer is the Authenticode signing.Backend.
type Signer struct {
	p12Path  string
	password []byte
	opts     Options
}

var _ signing.Backend = (*Signer)(nil)

// New returns a signer for the PKCS#12 file at p12Path. Nothing is read
// until Sign, Verify or Check; problems with the key surface there.
func New(p12Path string, password []byte, opts Options) *Signer {
	if opts.Tool == "" {
		opts.Tool = "osslsigncode"
	}
	if opts.TSACAFile == "" {
		opts.TSACAFile = opts.CAFile
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	return &Signer{p12Path: p12Path, password: bytes.Clone(password), opts: opts}
}

func (s *Signer) String() string { return "authenticode" }

// Check reports a missing osslsigncode, P12 file or password, and a P12
// that the password does not open.
func (s *Signer) Check(ctx context.Context) []error {
	var errs []error
	if _, err := exec.LookPath(s.opts.Tool); err != nil {
		errs = append(errs, fmt.Errorf("authenticode: %s not found (apt-get install osslsigncode): %w", s.opts.Tool, err))
	}
	if _, err := s.load(); err != nil {
		errs = append(errs, err)
	}
	return errs
}

func (s *Signer) load() (*p12.Bundle, error) {
	if s.p12Path == "" {
		return nil, fmt.Errorf("authenticode: no P12 certificate configured (SLIPWAY_AUTHENTICODE_P12): %w", signing.ErrBadKey)
	}
	if bytes.ContainsAny(s.password, "\r\n\x00") {
		return nil, fmt.Errorf("authenticode: password for P12 %s contains a line break or NUL, which osslsigncode cannot read: %w",
			s.p12Path, signing.ErrWrongPassword)
	}
	b, err := p12.Load(s.p12Path, s.password)
	if err != nil {
		return nil, fmt.Errorf("authenticode: %w", err)
	}
	return b, nil
}

// Sign signs the PE or MSI file at path in place: osslsigncode writes a
// signed copy next to it, which then replaces the original atomically.
// An existing signature is replaced.
func (s *Signer) Sign(ctx context.Context, path string) ([]string, error) {
	if err := requireSignable(path); err != nil {
		return nil, err
	}
	if _, err := s.load(); err != nil {
		return nil, err
	}
	target, err := filepath.EvalSymlinks(path) // replace the file, not a link to it
	if err != nil {
		return nil, fmt.Errorf("authenticode sign: %w", err)
	}
	st, err := os.Stat(target)
	if err != nil {
		return nil, fmt.Errorf("authenticode sign: %w", err)
	}
	tmp, cleanup, err := tempOut(target)
	if err != nil {
		return nil, err
	}
	defer cleanup()
	args := []string{"sign", "-pkcs12", s.p12Path, "-h", "sha256"}
	if len(s.password) > 0 { // osslsigncode rejects an empty -readpass
		args = append(args, "-readpass", "-")
	}
	if s.opts.TimestampURL != "" {
		args = append(args, "-ts", s.opts.TimestampURL)
	}
	if s.opts.Description != "" {
		args = append(args, "-n", s.opts.Description)
	}
	if s.opts.URL != "" {
		args = append(args, "-i", s.opts.URL)
	}
	args = append(args, "-in", target, "-out", tmp)
	if err := s.run(ctx, bytes.NewReader(s.password), args); err != nil {
		return nil, fmt.Errorf("authenticode sign %s with P12 %s: %w", path, s.p12Path, err)
	}
	if err := os.Chmod(tmp, st.Mode().Perm()); err != nil {
		return nil, fmt.Errorf("authenticode sign: %w", err)
	}
	if err := os.Rename(tmp, target); err != nil {
		return nil, fmt.Errorf("authenticode sign: replace %s: %w", target, err)
	}
	s.opts.Logger.InfoContext(ctx, "signed", "backend", "authenticode", "path", path)
	return nil, nil
}

// Verify checks the file's Authenticode signature against Options.CAFile
// and, when a P12 is configured and readable, that the signing
// certificate is the P12's own. Failures match signing.ErrBadSignature.
func (s *Signer) Verify(ctx context.Context, path string) error {
	if err := requireSignable(path); err != nil {
		return err
	}
	args := []string{"verify"}
	if s.opts.CAFile != "" {
		args = append(args, "-CAfile", s.opts.CAFile)
	}
	if s.opts.TSACAFile != "" {
		args = append(args, "-TSA-CAfile", s.opts.TSACAFile)
	}
	if s.p12Path != "" {
		b, err := s.load()
		if err != nil {
			return err
		}
		sum := sha256.Sum256(b.Cert.Raw)
		args = append(args, "-require-leaf-hash", "sha256:"+hex.EncodeToString(sum[:]))
	}
	args = append(args, "-in", path)
	if err := s.run(ctx, nil, args); err != nil {
		var exitErr *exec.ExitError
		if errors.As(err, &exitErr) {
			return fmt.Errorf("authenticode verify %s: %w (%v)", path, signing.ErrBadSignature, err)
		}
		return fmt.Errorf("authenticode verify %s: %w", path, err)
	}
	return nil
}

// maxToolOutput bounds how much of osslsigncode's output is kept for errors.
const maxToolOutput = 64 << 10

// run executes osslsigncode with stdin and a scrubbed environment; a
// failure carries the tail of its output.
func (s *Signer) run(ctx context.Context, stdin io.Reader, args []string) error {
	cmd := exec.CommandContext(ctx, s.opts.Tool, args...)
	cmd.Stdin = stdin
	cmd.Env = scrubEnv(os.Environ())
	out := &tailBuffer{max: maxToolOutput}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Run(); err != nil {
		return &toolError{err: err, output: lastLines(out.String(), 6)}
	}
	return nil
}

// toolError is a failed osslsigncode run; it unwraps to the exec error.
type toolError struct {
	err    error
	output string
}

func (e *toolError) Error() string {
	if e.output == "" {
		return "osslsigncode: " + e.err.Error()
	}
	return "osslsigncode: " + e.err.Error() + ": " + e.output
}

func (e *toolError) Unwrap() error { return e.err }

// requireSignable rejects files that are not PE or MSI.
func requireSignable(path string) error {
	f, err := binfmt.DetectFile(path)
	if err != nil {
		return fmt.Errorf("authenticode: %w", err)
	}
	if f != binfmt.PE && f != binfmt.MSI {
		return fmt.Errorf("authenticode: %s is %v, not a PE or MSI file: %w", path, f, ErrNotSignable)
	}
	return nil
}

// ErrNotSignable: the file is not a format Authenticode signs.
var ErrNotSignable = errors.New("unsupported file format")

// tempOut makes a private temp directory next to path (same filesystem,
// so the final rename is atomic) and returns the output name inside it;
// osslsigncode refuses to overwrite an existing file. cleanup removes it.
func tempOut(path string) (out string, cleanup func(), err error) {
	dir, err := os.MkdirTemp(filepath.Dir(path), "."+filepath.Base(path)+".sign-*")
	if err != nil {
		return "", nil, fmt.Errorf("authenticode sign: %w", err)
	}
	return filepath.Join(dir, filepath.Base(path)), func() { os.RemoveAll(dir) }, nil
}

// scrubEnv drops variables that may hold secrets before starting a tool.
func scrubEnv(env []string) []string {
	out := env[:0:0]
	for _, kv := range env {
		k, _, _ := strings.Cut(kv, "=")
		u := strings.ToUpper(k)
		if strings.Contains(u, "PASSWORD") || strings.Contains(u, "SECRET") ||
			strings.Contains(u, "TOKEN") || strings.Contains(u, "PRIVATE_KEY") {
			continue
		}
		out = append(out, kv)
	}
	return out
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "; ")
}

// tailBuffer keeps the last max bytes written to it.
type tailBuffer struct {
	buf []byte
	max int
}

func (b *tailBuffer) Write(p []byte) (int, error) {
	b.buf = append(b.buf, p...)
	if len(b.buf) > b.max {
		b.buf = b.buf[len(b.buf)-b.max:]
	}
	return len(p), nil
}

func (b *tailBuffer) String() string { return string(b.buf) }
