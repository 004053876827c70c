package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/slipwayhq/slipway/server"
	"github.com/slipwayhq/slipway/server/store"
	"github.com/slipwayhq/slipway/updater/channel"
	"github.com/slipwayhq/slipway/updater/gate"
	"github.com/slipwayhq/slipway/updater/publish"
)

func init() { register(gateCmd) }

// gateCmd shows and overrides what the rollout gates observed (kept in
// the server's database, not in the channels file).
func gateCmd() *cobra.Command {
	var file, data string
	cmd := &cobra.Command{Use: "gate", Short: "Show, resume or advance health-gated rollouts (state in the server database)"}
	cmd.PersistentFlags().StringVar(&file, "channels", channel.DefaultPath, "channels file")
	cmd.PersistentFlags().StringVar(&data, "data", "./data", "server data directory (SQLite), or SLIPWAY_DATABASE_URL for PostgreSQL")
	cmd.AddCommand(&cobra.Command{
		Use: "status", Short: "Show every planned rollout's step or halt", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			_, err := printGateStates(cmd.Context(), cmd.OutOrStdout(), file, data)
			return err
		},
	})
	for _, action := range []string{"resume", "advance"} {
		short := "Lift a halt: the rollout continues at its current step (gates judged again)"
		if action == "advance" {
			short = "Start the next step now (also lifts a halt)"
		}
		cmd.AddCommand(&cobra.Command{
			Use: action + " <product> <channel>", Short: short, Args: cobra.ExactArgs(2),
			RunE: func(cmd *cobra.Command, args []string) error {
				return overrideGate(cmd.Context(), cmd.OutOrStdout(), file, data, action, gate.Key{Product: args[0], Channel: args[1]})
			},
		})
	}
	cmd.AddCommand(autoRollbackCmd(&file, &data))
	return cmd
}

// autoRollbackCmd performs the rollbacks the servers' gates requested
// (plans with onHalt: rollback): where the targets key is — a CI job that
// can run `slipway apply` — it revokes each such halted version in the
// channels file, like `slipway rollback`.
func autoRollbackCmd(file, data *string) *cobra.Command {
	o := &channelOpts{}
	var detailed bool
	cmd := &cobra.Command{
		Use:   "autorollback",
		Short: "Roll back every halted rollout whose plan says onHalt: rollback (edits the channels file; then commit and apply)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			o.file, o.data = *file, *data
			n, err := autoRollback(cmd.Context(), cmd.OutOrStdout(), o)
			if err != nil {
				return err
			}
			if n > 0 && detailed {
				return exitStatus(2)
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.store, "store", "", "release store (default <data>/artifacts)")
	f.StringVar(&o.prefix, "prefix", "", "key prefix inside the store")
	f.StringVar(&o.minisignPub, "minisign-pub", "", "minisign public key of the releases (default <data>/keys/minisign.pub)")
	f.BoolVar(&detailed, "detailed-exitcode", false, "exit 2 when something was rolled back (0: nothing to do, 1: error)")
	return cmd
}

// autoRollback rolls back, in the channels file, every planned channel
// whose current version the server halted with a rollback request, and
// returns how many. The file is saved only when something changed.
func autoRollback(ctx context.Context, w io.Writer, o *channelOpts) (int, error) {
	f, err := channel.Load(o.file)
	if err != nil {
		return 0, err
	}
	st, g, ok, err := openGates(ctx, o.data)
	if err != nil || !ok {
		return 0, err
	}
	defer st.Close()
	type request struct {
		gate.Key
		version string
	}
	var todo []request
	for _, p := range f.Products {
		for _, c := range p.Channels {
			if c.Plan == nil || c.Plan.OnHalt != gate.OnHaltRollback {
				continue
			}
			k := gate.Key{Product: p.Name, Channel: c.Name}
			s, rev, err := g.Load(ctx, k)
			if err != nil {
				return 0, err
			}
			if rev > 0 && s.Version == c.Version && s.Halted && s.RollbackRequested {
				todo = append(todo, request{k, s.Version})
			}
		}
	}
	if len(todo) == 0 {
		fmt.Fprintln(w, "No halted rollout asks for a rollback.")
		return 0, nil
	}
	cfg, err := o.config(ctx)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, k := range todo {
		c, err := f.Channel(k.Product, k.Channel)
		if err != nil {
			return n, err
		}
		bad := c.Version
		if bad != k.version { // an earlier rollback in this run moved this channel too
			continue
		}
		v, err := publish.Rollback(ctx, cfg, f, k.Product, k.Channel)
		if err != nil {
			return n, fmt.Errorf("%s/%s: %w", k.Product, k.Channel, err)
		}
		n++
		detail := fmt.Sprintf("%s revoked, back to %s (onHalt: rollback)", bad, v)
		_ = st.AppendAudit(ctx, store.AuditEntry{At: time.Now().UTC(), ActorID: "cli", ActorName: "slipway gate autorollback",
			Action: store.AuditRollback, Target: k.Product + "/" + k.Channel, Detail: detail, Result: store.AuditOK})
		fmt.Fprintf(w, "%s/%s: %s\n", k.Product, k.Channel, detail)
	}
	if n == 0 {
		return 0, nil
	}
	if err := f.Save(o.file); err != nil {
		return n, err
	}
	fmt.Fprintf(w, "Edited %s: commit it, then run `slipway apply` (signs the rollback with the targets key).\n", o.file)
	return n, nil
}

// openGates opens the server database, or reports ok=false when there is
// none (no SQLite file in data and no SLIPWAY_DATABASE_URL).
func openGates(ctx context.Context, data string) (store.Store, dbGates, bool, error) {
	cfg := server.Config{DataDir: data, DatabaseURL: os.Getenv("SLIPWAY_DATABASE_URL")}
	if cfg.DatabaseURL == "" {
		if _, err := os.Stat(filepath.Join(data, "slipway.db")); err != nil {
			return nil, dbGates{}, false, nil
		}
	}
	st, err := server.OpenStore(ctx, cfg)
	if err != nil {
		return nil, dbGates{}, false, err
	}
	g, ok := st.(store.RolloutGateStore)
	if !ok {
		st.Close()
		return nil, dbGates{}, false, errors.New("this database keeps no rollout gate state")
	}
	return st, dbGates{g}, true, nil
}

// printGateStates prints, for each channel of the file with a plan, what
// the server observed; halted reports whether one is halted (drift from
// the file, which asks for the rollout to go on).
func printGateStates(ctx context.Context, w io.Writer, file, data string) (halted bool, err error) {
	f, err := channel.Load(file)
	if err != nil {
		return false, err
	}
	st, g, ok, err := openGates(ctx, data)
	if err != nil || !ok {
		return false, err
	}
	defer st.Close()
	for _, p := range f.Products {
		for _, c := range p.Channels {
			if c.Plan == nil {
				continue
			}
			s, rev, err := g.Load(ctx, gate.Key{Product: p.Name, Channel: c.Name})
			switch {
			case err != nil:
				return halted, err
			case rev == 0 || s.Version != c.Version:
				fmt.Fprintf(w, "  gate %s/%s: %s not evaluated yet (starts at %g%%)\n", p.Name, c.Name, c.Version, c.Plan.Steps[0])
			case s.Halted:
				halted = true
				fmt.Fprintf(w, "! gate %s/%s: %s (the file still plans %v; `slipway gate resume|advance` or `slipway rollback`)\n",
					p.Name, c.Name, s.String(), c.Plan.Steps)
			default:
				fmt.Fprintf(w, "  gate %s/%s: %s (%g%%)\n", p.Name, c.Name, s.String(), s.Percent(*c.Plan))
			}
		}
	}
	return halted, nil
}

// overrideGate lets a human lift a halt or start the next step; recorded
// in the audit log like the controller's own decisions.
func overrideGate(ctx context.Context, w io.Writer, file, data, action string, k gate.Key) error {
	f, err := channel.Load(file)
	if err != nil {
		return err
	}
	c, err := f.Channel(k.Product, k.Channel)
	if err != nil {
		return err
	}
	if c.Plan == nil {
		return fmt.Errorf("%s/%s has no rollout plan", k.Product, k.Channel)
	}
	st, g, ok, err := openGates(ctx, data)
	if err != nil {
		return err
	}
	if !ok {
		return fmt.Errorf("no server database in %s (set --data or SLIPWAY_DATABASE_URL)", data)
	}
	defer st.Close()
	s, rev, err := g.Load(ctx, k)
	if err != nil {
		return err
	}
	if rev == 0 || s.Version != c.Version {
		return fmt.Errorf("%s/%s: the server has not evaluated %s yet", k.Product, k.Channel, c.Version)
	}
	now := time.Now().UTC()
	s.Halted, s.Gate, s.HaltedAt, s.RollbackRequested = false, "", time.Time{}, false
	if action == "advance" && s.Step < len(c.Plan.Steps)-1 {
		s.Step++
	}
	s.StepStarted = now
	won, err := g.Save(ctx, k, rev, s)
	if err != nil {
		return err
	}
	if !won {
		return errors.New("the server changed the rollout meanwhile; run the command again")
	}
	act := store.AuditRolloutResume
	if action == "advance" {
		act = store.AuditRolloutAdvance
	}
	_ = st.AppendAudit(ctx, store.AuditEntry{At: now, ActorID: "cli", ActorName: "slipway gate", Action: act,
		Target: k.Product + "/" + k.Channel, Detail: s.String(), Result: store.AuditOK})
	fmt.Fprintf(w, "%s/%s: %s (%g%%); the server picks it up at its next evaluation (within a minute)\n",
		k.Product, k.Channel, s.String(), s.Percent(*c.Plan))
	return nil
}
