package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/spf13/cobra"

	"github.com/slipwayhq/slipway/signing/minisign"
	"github.com/slipwayhq/slipway/storage"
	"github.com/slipwayhq/slipway/updater/catalog"
	"github.com/slipwayhq/slipway/updater/channel"
	"github.com/slipwayhq/slipway/updater/publish"
	"github.com/slipwayhq/slipway/updater/repo"
)

// channelOpts are the flags shared by the channel commands.
type channelOpts struct {
	file        string // channels file
	store       string // storage spec
	prefix      string
	data        string
	keys        string // TUF keys directory
	minisignPub string
}

func (o *channelOpts) flags(cmd *cobra.Command) {
	f := cmd.Flags()
	f.StringVar(&o.file, "channels", channel.DefaultPath, "channels file (GitOps source of truth)")
	f.StringVar(&o.store, "store", "", "release store: a directory, file:///path or s3://bucket/prefix?endpoint=host:port (default <data>/artifacts)")
	f.StringVar(&o.prefix, "prefix", "", "key prefix inside the store")
	f.StringVar(&o.data, "data", "./data", "data directory (dev keys, default store)")
	f.StringVar(&o.keys, "keys", "", "TUF keys directory (default <data>/keys)")
	f.StringVar(&o.minisignPub, "minisign-pub", "", "minisign public key that release artifacts must verify with, for products the channels file names no keys for (default <data>/keys/minisign.pub)")
}

func (o *channelOpts) keysDir() string {
	if o.keys != "" {
		return o.keys
	}
	return filepath.Join(o.data, "keys")
}

// config opens the store and the minisign verifier.
func (o *channelOpts) config(ctx context.Context) (publish.Config, error) {
	spec := o.store
	if spec == "" {
		spec = filepath.Join(o.data, "artifacts")
	}
	st, err := storage.Open(ctx, spec)
	if err != nil {
		return publish.Config{}, err
	}
	pubPath := o.minisignPub
	if pubPath == "" {
		pubPath = filepath.Join(o.data, "keys", "minisign.pub")
	}
	text, err := os.ReadFile(pubPath)
	if errors.Is(err, os.ErrNotExist) && o.minisignPub == "" {
		// Products may name their own keys in the channels file; the others
		// fail to verify with "no signature verifier configured".
		return publish.Config{Store: st, Prefix: o.prefix}, nil
	}
	if err != nil {
		return publish.Config{}, fmt.Errorf("minisign public key: %w (set --minisign-pub)", err)
	}
	pk, err := minisign.ParsePublicKey(text)
	if err != nil {
		return publish.Config{}, fmt.Errorf("%s: %w", pubPath, err)
	}
	return publish.Config{Store: st, Prefix: o.prefix, Verifier: catalog.Minisign{Key: pk}}, nil
}

// editCommand builds a command that loads the channels file, applies
// edit, and saves it atomically.
func editCommand(use, short string, nargs int, edit func(ctx context.Context, o *channelOpts, f *channel.File, args []string) (string, error)) *cobra.Command {
	o := &channelOpts{}
	cmd := &cobra.Command{
		Use:   use,
		Short: short,
		Args:  cobra.ExactArgs(nargs),
		RunE: func(cmd *cobra.Command, args []string) error {
			f, err := channel.Load(o.file)
			if err != nil {
				return err
			}
			msg, err := edit(cmd.Context(), o, f, args)
			if err != nil {
				return err
			}
			if err := f.Save(o.file); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s\nEdited %s: commit it (or open a PR), then run `slipway apply`.\n", msg, o.file)
			return nil
		},
	}
	o.flags(cmd)
	return cmd
}

func parsePercent(s string) (float64, error) {
	p, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return 0, fmt.Errorf("percent %q: %w", s, err)
	}
	return p, nil
}

func promoteCmd() *cobra.Command {
	var to string
	var pct float64
	cmd := editCommand("promote <product> <version> --to <channel>", "Point a channel at a published, verified version", 2,
		func(ctx context.Context, o *channelOpts, f *channel.File, args []string) (string, error) {
			cfg, err := o.config(ctx)
			if err != nil {
				return "", err
			}
			if err := publish.Promote(ctx, cfg, f, args[0], to, args[1], pct); err != nil {
				return "", err
			}
			return fmt.Sprintf("%s/%s -> %s at %g%%", args[0], to, args[1], pct), nil
		})
	cmd.Flags().StringVar(&to, "to", "", "channel to promote to (stable, beta, ...)")
	cmd.Flags().Float64Var(&pct, "rollout", 100, "percentage of machines offered the version (0-100, 0.01 steps)")
	_ = cmd.MarkFlagRequired("to")
	return cmd
}

func rolloutCmd() *cobra.Command {
	return editCommand("rollout <product> <channel> <percent>", "Change the rollout percentage of a channel", 3,
		func(ctx context.Context, o *channelOpts, f *channel.File, args []string) (string, error) {
			p, err := parsePercent(args[2])
			if err != nil {
				return "", err
			}
			return fmt.Sprintf("%s/%s rollout %g%%", args[0], args[1], p), f.SetRollout(args[0], args[1], p)
		})
}

func pauseCmd(pause bool) *cobra.Command {
	use, short, word := "pause <product> <channel>", "Stop offering updates on a channel", "paused"
	if !pause {
		use, short, word = "resume <product> <channel>", "Resume a paused channel", "resumed"
	}
	return editCommand(use, short, 2, func(ctx context.Context, o *channelOpts, f *channel.File, args []string) (string, error) {
		return fmt.Sprintf("%s/%s %s", args[0], args[1], word), f.SetPaused(args[0], args[1], pause)
	})
}

func rollbackCmd() *cobra.Command {
	return editCommand("rollback <product> <channel>", "Revoke a channel's version and bring machines back to the previous good one", 2,
		func(ctx context.Context, o *channelOpts, f *channel.File, args []string) (string, error) {
			cfg, err := o.config(ctx)
			if err != nil {
				return "", err
			}
			var bad string
			if c, cerr := f.Channel(args[0], args[1]); cerr == nil {
				bad = c.Version
			}
			v, err := publish.Rollback(ctx, cfg, f, args[0], args[1])
			return fmt.Sprintf("%s/%s rolled back to %s; %s revoked on every channel of %s (machines running it will be offered %s after apply)",
				args[0], args[1], v, bad, args[0], v), err
		})
}

func pinCmd() *cobra.Command {
	var machine, tenant string
	cmd := editCommand("pin <product> <channel> <version|none>", "Hold a machine or tenant on a version (none removes the pin)", 3,
		func(ctx context.Context, o *channelOpts, f *channel.File, args []string) (string, error) {
			kind, id := "machine", machine
			if tenant != "" {
				kind, id = "tenant", tenant
			}
			if (machine == "") == (tenant == "") {
				return "", fmt.Errorf("give exactly one of --machine or --tenant")
			}
			v := args[2]
			if v == "none" {
				v = ""
			} else {
				cfg, err := o.config(ctx)
				if err != nil {
					return "", err
				}
				if cfg, err = publish.WithTrust(cfg, f); err != nil {
					return "", err
				}
				if err := publish.CheckRelease(ctx, cfg, args[0], v); err != nil {
					return "", err
				}
			}
			return fmt.Sprintf("%s/%s %s %s pinned to %q", args[0], args[1], kind, id, v), f.Pin(args[0], args[1], kind, id, v)
		})
	cmd.Flags().StringVar(&machine, "machine", "", "machine id to pin")
	cmd.Flags().StringVar(&tenant, "tenant", "", "tenant id to pin")
	return cmd
}

func planApplyCmd(apply bool) *cobra.Command {
	o := &channelOpts{}
	var detailed bool
	use, short := "plan", "Show how storage differs from the channels file"
	if apply {
		use, short = "apply", "Make storage match the channels file (verifies releases, signs TUF metadata); idempotent"
	}
	cmd := &cobra.Command{
		Use:   use,
		Short: short,
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			f, err := channel.Load(o.file)
			if err != nil {
				return err
			}
			cfg, err := o.config(ctx)
			if err != nil {
				return err
			}
			var p *publish.Plan
			if apply {
				keys, kerr := repo.LoadKeys(o.keysDir())
				if kerr != nil {
					return kerr
				}
				p, err = publish.Apply(ctx, cfg, f, keys, time.Now())
			} else {
				p, err = publish.MakePlan(ctx, cfg, f)
			}
			if err != nil {
				return err
			}
			fmt.Fprint(cmd.OutOrStdout(), p.String())
			if apply && !p.Empty() {
				fmt.Fprintln(cmd.OutOrStdout(), "Applied.")
			}
			// What the server's rollout gates observed: a halt is drift
			// (the file asks for the rollout to go on).
			halted, err := printGateStates(ctx, cmd.OutOrStdout(), o.file, o.data)
			if err != nil {
				return err
			}
			if detailed && (!p.Empty() || halted) {
				return exitStatus(2)
			}
			return nil
		},
	}
	o.flags(cmd)
	if !apply {
		cmd.Flags().BoolVar(&detailed, "detailed-exitcode", false,
			"exit 2 when storage differs from the channels file (0: in sync, 1: error), for CI drift checks")
	}
	return cmd
}

func tufCmd() *cobra.Command {
	o := &channelOpts{}
	tuf := &cobra.Command{Use: "tuf", Short: "Manage the TUF repository that signs update metadata"}
	open := func(ctx context.Context) (*repo.Repo, error) {
		cfg, err := o.config(ctx)
		if err != nil {
			return nil, err
		}
		return repo.Open(ctx, cfg.Store, cfg.Prefix, repo.Options{})
	}
	var ropts repo.Options
	initCmd := &cobra.Command{
		Use:   "init",
		Short: "Create the repository (and dev keys in the keys directory when absent); prints root.json for clients",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := o.config(cmd.Context())
			if err != nil {
				return err
			}
			r, _, err := repo.Init(cmd.Context(), cfg.Store, cfg.Prefix, o.keysDir(), time.Now(), ropts)
			if err != nil {
				return err
			}
			root, err := r.RootJSON()
			if err != nil {
				return err
			}
			_, err = cmd.OutOrStdout().Write(append(root, '\n'))
			return err
		},
	}
	rotate := &cobra.Command{
		Use:   "rotate <root|targets|online>",
		Short: "Replace a role's signing key: writes root N+1 signed by the current root key(s) and re-signs",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			r, err := open(cmd.Context())
			if err != nil {
				return err
			}
			if err := r.RotateKey(cmd.Context(), o.keysDir(), args[0], time.Now()); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "Rotated the %s key; root is now version %d. Retired key kept in %s.\n", args[0], r.Root.Signed.Version, o.keysDir())
			return nil
		},
	}
	initCmd.Flags().IntVar(&ropts.RootKeys, "root-keys", 1, "number of root keys to generate (keep them offline)")
	initCmd.Flags().IntVar(&ropts.RootThreshold, "root-threshold", 0, "root keys that must sign a root (default: all)")
	for _, c := range []*cobra.Command{initCmd, rotate, tufStatusCmd(open), tufRefreshCmd(o, open)} {
		o.flags(c)
		tuf.AddCommand(c)
	}
	return tuf
}

func init() {
	register(promoteCmd)
	register(rolloutCmd)
	register(func() *cobra.Command { return pauseCmd(true) })
	register(func() *cobra.Command { return pauseCmd(false) })
	register(rollbackCmd)
	register(pinCmd)
	register(func() *cobra.Command { return planApplyCmd(false) })
	register(func() *cobra.Command { return planApplyCmd(true) })
	register(tufCmd)
}
