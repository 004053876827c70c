package keyring

import (
	"context"
	"fmt"
	"os"

	"github.com/slipwayhq/slipway/signing"
)

// Report is one backend's readiness, for `slipway doctor`.
type Report struct {
	// Backend is the backend name ("cosign", "minisign", "authenticode", "macos").
	Backend string
	// Configured is false when no key is set up: the backend is skipped,
	// which is not a failure.
	Configured bool
	// Source says where the key comes from (a path or an environment
	// variable), never the key itself.
	Source string
	// Problems is what keeps a configured backend from working; empty
	// means ready.
	Problems []error
}

// backendEntry is how Doctor finds, builds and checks one backend.
type backendEntry struct {
	name, source string
	configured   bool
	hint         string // environment variables that configure it
	keyFile      string // checked for group/other permissions; "" for none
	build        func() (signing.Backend, error)
}

// backends lists every signing backend; one entry per backend.
func (c Config) backends() []backendEntry {
	macSource := c.MacOSP12
	if macSource == "" {
		macSource = "ad-hoc (no " + EnvMacOSP12 + ")"
	}
	return []backendEntry{
		{KindCosign, c.CosignKey, c.CosignKey != "", EnvCosignKey, c.CosignKey,
			func() (signing.Backend, error) { return c.CosignSigner() }},
		{KindMinisign, c.minisignSource(), c.MinisignConfigured(), EnvMinisignKey + " or " + EnvTauriKey, c.MinisignKey,
			func() (signing.Backend, error) { return c.MinisignSigner() }},
		{"authenticode", c.AuthenticodeP12, c.AuthenticodeP12 != "", EnvAuthenticodeP12, c.AuthenticodeP12,
			func() (signing.Backend, error) { return c.authenticode(), nil }},
		{"macos", macSource, true, EnvMacOSP12, c.MacOSP12,
			func() (signing.Backend, error) { return c.macOS(), nil }},
	}
}

// Doctor loads every configured key and asks each backend's Check what is
// missing (tools, passwords). Key files readable by group or others are
// reported too.
func (c Config) Doctor(ctx context.Context) []Report {
	var out []Report
	for _, e := range c.backends() {
		r := Report{Backend: e.name, Configured: e.configured, Source: e.source}
		if !e.configured {
			r.Source = "set " + e.hint
			out = append(out, r)
			continue
		}
		if e.keyFile != "" {
			if st, err := os.Stat(e.keyFile); err == nil && st.Mode().Perm()&0o077 != 0 {
				r.Problems = append(r.Problems, fmt.Errorf("%s key %s is readable by group or others (mode %04o); run chmod 600",
					e.name, e.keyFile, st.Mode().Perm()))
			}
		}
		b, err := e.build()
		if err != nil {
			r.Problems = append(r.Problems, err)
		} else {
			r.Problems = append(r.Problems, b.Check(ctx)...)
		}
		out = append(out, r)
	}
	return out
}
