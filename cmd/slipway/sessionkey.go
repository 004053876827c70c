package main

import (
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
)

type sessionKeyOut struct {
	ID        string     `json:"id"`
	State     string     `json:"state"`
	CreatedAt time.Time  `json:"createdAt"`
	RetiredAt *time.Time `json:"retiredAt"`
	ExpiresAt *time.Time `json:"expiresAt"`
}

func printSessionKeys(out io.Writer, keys []sessionKeyOut) error {
	w := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "KID\tSTATE\tCREATED\tIN JWKS UNTIL")
	for _, k := range keys {
		until := "-"
		if k.ExpiresAt != nil {
			until = k.ExpiresAt.Format(time.RFC3339)
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\n", k.ID, k.State, k.CreatedAt.Format(time.RFC3339), until)
	}
	return w.Flush()
}

// sessionKeyCmd is `slipway admin session-key list|rotate`: the keys that
// sign machine sessions (and the admin page's cookies), through the admin
// API, so the server seals the new key (SLIPWAY_SECRET_KEY_FILE) and
// computes how long the old one stays in the JWKS.
func sessionKeyCmd(server *string) *cobra.Command {
	sk := &cobra.Command{Use: "session-key", Short: "List and rotate the session signing keys (JWKS)"}
	list := &cobra.Command{Use: "list", Short: "List the session signing keys (never the seeds)", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := newAdminClient(*server)
			if err != nil {
				return err
			}
			var out struct{ Keys []sessionKeyOut }
			if err := c.do(cmd.Context(), "GET", "/api/admin/session-keys", nil, &out); err != nil {
				return err
			}
			return printSessionKeys(cmd.OutOrStdout(), out.Keys)
		}}
	rotate := &cobra.Command{Use: "rotate", Short: "Sign with a new key; the old one stays in the JWKS until its last token expires",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := newAdminClient(*server)
			if err != nil {
				return err
			}
			var out struct {
				ID   string
				Keys []sessionKeyOut
			}
			if err := c.do(cmd.Context(), "POST", "/api/admin/session-keys/rotate", nil, &out); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "signing with %s (every replica within 30s)\n", out.ID)
			return printSessionKeys(cmd.OutOrStdout(), out.Keys)
		}}
	sk.AddCommand(list, rotate)
	return sk
}
