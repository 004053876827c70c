package main

// Commands for key material and detached signatures: `slipway keys
// generate`, `slipway sign`, `slipway verify` and `slipway doctor`.

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/slipwayhq/slipway/signing"
	"github.com/slipwayhq/slipway/signing/keyring"
	"github.com/slipwayhq/slipway/signing/minisign"
)

func init() {
	register(newKeysCmd)
	register(newSignCmd)
	register(newVerifyCmd)
	register(newDoctorCmd)
}

// maxPublicKey bounds a public key file read by `slipway verify`.
const maxPublicKey = 64 << 10

// passwordFlags is how a command gets a key password: from a named
// environment variable, or from a prompt on the terminal.
type passwordFlags struct {
	env  string
	none bool
}

func (p *passwordFlags) register(cmd *cobra.Command, noneHelp string) {
	cmd.Flags().StringVar(&p.env, "password-env", "", "read the key password from this environment variable instead of prompting")
	if noneHelp != "" {
		cmd.Flags().BoolVar(&p.none, "no-password", false, noneHelp)
	}
}

// fromEnv returns the password from --password-env; ok is false when the
// flag was not given.
func (p *passwordFlags) fromEnv() (pw []byte, ok bool, err error) {
	if p.env == "" {
		return nil, false, nil
	}
	v, set := os.LookupEnv(p.env)
	if !set {
		return nil, true, fmt.Errorf("--password-env: environment variable %s is not set", p.env)
	}
	return []byte(v), true, nil
}

// prompt reads a password from the terminal without echo; confirm asks twice.
func prompt(w io.Writer, what string, confirm bool) ([]byte, error) {
	fd := int(os.Stdin.Fd())
	if !term.IsTerminal(fd) {
		return nil, fmt.Errorf("no terminal to ask for the password of the %s: use --password-env VAR (or --no-password)", what)
	}
	read := func(label string) ([]byte, error) {
		fmt.Fprintf(w, "%s: ", label)
		pw, err := term.ReadPassword(fd)
		fmt.Fprintln(w)
		return pw, err
	}
	pw, err := read("Password for the " + what)
	if err != nil || !confirm {
		return pw, err
	}
	again, err := read("Password again")
	if err != nil {
		return nil, err
	}
	if !bytes.Equal(pw, again) {
		return nil, errors.New("passwords do not match")
	}
	return pw, nil
}

func newKeysCmd() *cobra.Command {
	keys := &cobra.Command{Use: "keys", Short: "Manage signing keys"}
	var (
		kind, out string
		pw        passwordFlags
		opts      keyring.GenerateOptions
	)
	gen := &cobra.Command{
		Use:   "generate --kind minisign|cosign --out DIR",
		Short: "Generate a signing key pair (<kind>.key, mode 0600, and <kind>.pub)",
		Long: `Generate writes DIR/<kind>.key (secret, mode 0600) and DIR/<kind>.pub.

minisign keys are what Tauri's updater and the minisign CLI use; cosign keys
are cosign's own encrypted format. The password comes from --password-env VAR,
or a terminal prompt; --no-password makes a key without one (for minisign,
scrypt with an empty password, which tauri signer 2.12 requires; add
--unencrypted for the minisign -W form).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			password, fromEnv, err := pw.fromEnv()
			switch {
			case err != nil:
				return err
			case !fromEnv && !pw.none:
				if password, err = prompt(cmd.ErrOrStderr(), "new "+kind+" key", true); err != nil {
					return err
				}
			}
			files, err := keyring.Generate(kind, out, password, opts)
			clear(password)
			if err != nil {
				return err
			}
			return printGenerated(cmd.OutOrStdout(), files)
		},
	}
	f := gen.Flags()
	f.StringVar(&kind, "kind", "", "key kind: "+strings.Join(keyring.Kinds(), " or "))
	f.StringVar(&out, "out", "", "directory to write the key pair into (created mode 0700)")
	f.BoolVar(&opts.Force, "force", false, "replace an existing key pair")
	f.BoolVar(&opts.Unencrypted, "unencrypted", false, "with --no-password, write a minisign key with no encryption at all (minisign -W form)")
	pw.register(gen, "make a key without a password")
	_ = gen.MarkFlagRequired("kind")
	_ = gen.MarkFlagRequired("out")
	keys.AddCommand(gen)
	return keys
}

// printGenerated says where the keys went and how to use them.
func printGenerated(w io.Writer, files keyring.KeyFiles) error {
	fmt.Fprintf(w, "secret key: %s (mode 0600, keep it secret)\npublic key: %s\n", files.Secret, files.Public)
	switch files.Kind {
	case keyring.KindMinisign:
		pub, err := os.ReadFile(files.Public)
		if err != nil {
			return err
		}
		pk, err := minisign.ParsePublicKey(pub)
		if err != nil {
			return err
		}
		fmt.Fprintf(w, "key id: %s\nminisign -Vm FILE -P %s\ntauri.conf.json plugins.updater.pubkey: %s\nsign with: %s=%s slipway sign --kind minisign FILE...\n",
			pk.ID, pk, pk.Tauri(), keyring.EnvMinisignKey, files.Secret)
	case keyring.KindCosign:
		fmt.Fprintf(w, "sign with: %s=%s slipway sign --kind cosign FILE...\n", keyring.EnvCosignKey, files.Secret)
	}
	return nil
}

func newSignCmd() *cobra.Command {
	var (
		kind, key, version string
		pw                 passwordFlags
	)
	cmd := &cobra.Command{
		Use:   "sign [--kind minisign|cosign] FILE...",
		Short: "Write detached signatures next to files (.minisig + Tauri .sig, or .cosign.sig + .sigstore.json)",
		Long: `Sign writes detached signatures next to each FILE with the keys from the
environment (SLIPWAY_MINISIGN_KEY or TAURI_SIGNING_PRIVATE_KEY, SLIPWAY_COSIGN_KEY,
and their passwords), or the one given with --kind and --key. Without --kind,
every configured key signs.`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, files []string) error {
			cfg := keyring.FromEnv()
			cfg.Version = version
			if err := applyKeyFlags(cmd, &cfg, kind, key, &pw); err != nil {
				return err
			}
			signers, err := selectSigners(cfg, kind)
			if err != nil {
				return err
			}
			var errs []error
			for _, file := range files {
				for _, s := range signers {
					written, err := s.Sign(cmd.Context(), file)
					if err != nil {
						errs = append(errs, fmt.Errorf("%s: %w", file, err))
						continue
					}
					fmt.Fprintf(cmd.OutOrStdout(), "%s: %s signed: %s\n", file, s, strings.Join(written, ", "))
				}
			}
			return errors.Join(errs...)
		},
	}
	f := cmd.Flags()
	f.StringVar(&kind, "kind", "", "sign with only this kind: "+strings.Join(keyring.Kinds(), " or ")+" (default: every configured key)")
	f.StringVar(&key, "key", "", "secret key file for --kind (default: from the environment)")
	f.StringVar(&version, "version", "", `app version recorded in minisign signatures ("version:<v>", checked by Tauri's updater)`)
	pw.register(cmd, "")
	return cmd
}

// applyKeyFlags puts --key and the password (flag, env, or a prompt when
// the key turns out to be encrypted) into cfg.
func applyKeyFlags(cmd *cobra.Command, cfg *keyring.Config, kind, key string, pw *passwordFlags) error {
	if key != "" {
		switch kind {
		case keyring.KindMinisign:
			cfg.MinisignKey, cfg.MinisignKeyData = key, nil
		case keyring.KindCosign:
			cfg.CosignKey = key
		default:
			return errors.New("--key needs --kind")
		}
	}
	password, set, err := pw.fromEnv()
	if err != nil || !set {
		return err
	}
	switch kind {
	case keyring.KindMinisign:
		cfg.MinisignPassword = password
	case keyring.KindCosign:
		cfg.CosignPassword = password
	default:
		return errors.New("--password-env needs --kind")
	}
	return nil
}

// selectSigners builds the requested backend, prompting once for a
// missing password when there is a terminal.
func selectSigners(cfg keyring.Config, kind string) ([]signing.Backend, error) {
	build := func() ([]signing.Backend, error) {
		switch kind {
		case "":
			return cfg.ArtifactSigners()
		case keyring.KindMinisign:
			s, err := cfg.MinisignSigner()
			return []signing.Backend{s}, err
		case keyring.KindCosign:
			s, err := cfg.CosignSigner()
			return []signing.Backend{s}, err
		}
		return nil, fmt.Errorf("unknown --kind %q (want %s)", kind, strings.Join(keyring.Kinds(), " or "))
	}
	s, err := build()
	if errors.Is(err, signing.ErrNoPassword) && kind != "" && term.IsTerminal(int(os.Stdin.Fd())) {
		pw, perr := prompt(os.Stderr, kind+" key", false)
		if perr != nil {
			return nil, perr
		}
		if kind == keyring.KindMinisign {
			cfg.MinisignPassword = pw
		} else {
			cfg.CosignPassword = pw
		}
		s, err = build()
	}
	if err != nil {
		return nil, err
	}
	return s, nil
}

func newVerifyCmd() *cobra.Command {
	var kind, key, version string
	cmd := &cobra.Command{
		Use:   "verify --key PUB [--kind minisign|cosign] FILE...",
		Short: "Verify the detached signatures next to files with a public key",
		Long: `Verify checks each FILE's detached signatures with the public key PUB:
for minisign, FILE.minisig and/or the Tauri FILE.sig (data and trusted comment
signatures; --version also applies Tauri's signed-version rule); for cosign,
FILE.cosign.sig and FILE.sigstore.json. --kind defaults to the key's kind. PUB
may be a minisign.pub file, Tauri's base64 pubkey, or a cosign.pub PEM.`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, files []string) error {
			pub, err := signing.ReadFileLimited(key, maxPublicKey)
			if err != nil {
				return fmt.Errorf("public key: %w", err)
			}
			v, err := keyring.NewVerifier(kind, pub, keyring.VerifyOptions{Version: version})
			if err != nil {
				return fmt.Errorf("%s: %w", key, err)
			}
			var errs []error
			for _, file := range files {
				what, err := v.VerifyFile(cmd.Context(), file)
				if err != nil {
					errs = append(errs, fmt.Errorf("FAILED: %w", err))
					continue
				}
				fmt.Fprintf(cmd.OutOrStdout(), "%s: OK (%s)\n", file, what)
			}
			return errors.Join(errs...)
		},
	}
	f := cmd.Flags()
	f.StringVar(&kind, "kind", "", "key kind: "+strings.Join(keyring.Kinds(), " or ")+" (default: detected from the key)")
	f.StringVar(&key, "key", "", "public key file")
	f.StringVar(&version, "version", "", "minisign: require this signed app version (Tauri's rule)")
	_ = cmd.MarkFlagRequired("key")
	return cmd
}

func newDoctorCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "doctor",
		Short: "Check that every signing backend has its keys, passwords and tools",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			w := cmd.OutOrStdout()
			failed := 0
			for _, r := range keyring.FromEnv().Doctor(cmd.Context()) {
				status := "ok"
				switch {
				case !r.Configured:
					status = "not configured (skipped)"
				case len(r.Problems) > 0:
					status = "PROBLEM"
					failed++
				}
				fmt.Fprintf(w, "%-13s %-25s %s\n", r.Backend, status, r.Source)
				for _, p := range r.Problems {
					fmt.Fprintf(w, "    - %v\n", p)
				}
			}
			if failed > 0 {
				return fmt.Errorf("%d signing backend(s) not ready", failed)
			}
			return nil
		},
	}
}
