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
	return cmd
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
	s.Halted, s.Gate, s.HaltedAt = false, "", time.Time{}
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
