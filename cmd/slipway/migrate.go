package main

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/slipwayhq/slipway/server/store/postgres"
	"github.com/slipwayhq/slipway/server/store/sqlite"
)

func init() { register(newMigrateCmd) }

func newMigrateCmd() *cobra.Command {
	var dbURL, data string
	cmd := &cobra.Command{
		Use:   "migrate",
		Short: "Apply the server's database migrations (PostgreSQL via SLIPWAY_DATABASE_URL, else SQLite under --data)",
		Long: `Apply pending database migrations and exit.

slipway server migrates on start, so this is only needed when migrations
should run as a separate deployment step. With PostgreSQL the migrations run
under an advisory lock: replicas starting at the same time wait for it
instead of migrating twice.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, out := cmd.Context(), cmd.OutOrStdout()
			if !cmd.Flags().Changed("database-url") {
				dbURL = os.Getenv("SLIPWAY_DATABASE_URL")
			}
			if dbURL != "" {
				if !postgres.IsURL(dbURL) {
					return fmt.Errorf("migrate: database URL must start with postgres:// or postgresql://")
				}
				st, err := postgres.Open(ctx, dbURL, postgres.Options{SkipMigrate: true})
				if err != nil {
					return err
				}
				defer st.Close()
				applied, err := st.Migrate(ctx)
				if err != nil {
					return err
				}
				fmt.Fprintf(out, "postgres: applied %d migration(s) %v\n", len(applied), applied)
				return nil
			}
			if !cmd.Flags().Changed("data") && os.Getenv("SLIPWAY_DATA") != "" {
				data = os.Getenv("SLIPWAY_DATA")
			}
			if err := os.MkdirAll(data, 0o700); err != nil {
				return err
			}
			path := filepath.Join(data, "slipway.db")
			st, err := sqlite.Open(ctx, path, sqlite.Options{})
			if err != nil {
				return err
			}
			fmt.Fprintf(out, "sqlite: %s is up to date\n", path)
			return st.Close()
		},
	}
	cmd.Flags().StringVar(&dbURL, "database-url", "", "PostgreSQL URL (env SLIPWAY_DATABASE_URL); empty means SQLite under --data")
	cmd.Flags().StringVar(&data, "data", "./data", "data directory of the SQLite database (env SLIPWAY_DATA)")
	return cmd
}
