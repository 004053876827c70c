package main

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/slipwayhq/slipway/updater/repo"
)

// tufStatusCmd prints each TUF role's version and expiry.
func tufStatusCmd(open func(context.Context) (*repo.Repo, error)) *cobra.Command {
	var asJSON, check bool
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Show each TUF role's version and expiry (--check exits 2 when one expires soon)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			r, err := open(cmd.Context())
			if err != nil {
				return err
			}
			now := time.Now()
			status := r.Status()
			out := cmd.OutOrStdout()
			if asJSON {
				enc := json.NewEncoder(out)
				enc.SetIndent("", "  ")
				if err := enc.Encode(status); err != nil {
					return err
				}
			} else {
				tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "ROLE\tVERSION\tEXPIRES\tDAYS LEFT\tRE-SIGNED BY")
				for _, s := range status {
					by := "slipway tuf refresh (offline key)"
					if s.Online {
						by = "the server (online key)"
					}
					fmt.Fprintf(tw, "%s\t%d\t%s\t%.1f\t%s\n", s.Role, s.Version, s.Expires.UTC().Format(time.RFC3339),
						s.Left(now).Hours()/24, by)
				}
				if err := tw.Flush(); err != nil {
					return err
				}
			}
			if due := dueRoles(status, now); check && len(due) > 0 {
				fmt.Fprintf(cmd.ErrOrStderr(), "expiring soon: %s\n", strings.Join(due, ", "))
				return exitStatus(2)
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	cmd.Flags().BoolVar(&check, "check", false, "exit 2 when root or targets expire within 30 days, or snapshot or timestamp within a quarter of their lifetime (for CI)")
	return cmd
}

func dueRoles(status []repo.RoleStatus, now time.Time) []string {
	var due []string
	for _, s := range status {
		if s.Warn(now) {
			due = append(due, s.Role)
		}
	}
	return due
}

// tufRefreshCmd re-signs root and targets before they expire: the
// scheduled workflow (.github/workflows/storage-maintenance.yml) runs it with the
// offline keys.
func tufRefreshCmd(o *channelOpts, open func(context.Context) (*repo.Repo, error)) *cobra.Command {
	var withinDays int
	cmd := &cobra.Command{
		Use:   "refresh",
		Short: "Re-sign root and targets when they expire within --within days (run on a schedule with the offline keys)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if withinDays < 1 || withinDays > 3650 {
				return fmt.Errorf("--within %d: want 1..3650 days", withinDays)
			}
			r, err := open(cmd.Context())
			if err != nil {
				return err
			}
			keys, err := repo.LoadKeys(o.keysDir())
			if err != nil {
				return err
			}
			done, err := r.RefreshOffline(cmd.Context(), keys, time.Now(), time.Duration(withinDays)*24*time.Hour)
			out := cmd.OutOrStdout()
			if len(done) > 0 {
				fmt.Fprintf(out, "Re-signed %s.\n", strings.Join(done, ", "))
			} else if err == nil {
				fmt.Fprintf(out, "Nothing expires within %d days.\n", withinDays)
			}
			return err
		},
	}
	cmd.Flags().IntVar(&withinDays, "within", 60, "re-sign roles that expire within this many days")
	return cmd
}
