package main

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
)

// Environment of `slipway admin`: the server and the calling admin token
// (never a flag, so it stays out of process listings and shell history).
const (
	envAdminServer = "SLIPWAY_SERVER"
	envAdminToken  = "SLIPWAY_ADMIN_TOKEN"
)

// adminClient calls the admin API.
type adminClient struct {
	server, token string
	http          *http.Client
}

func newAdminClient(server string) (*adminClient, error) {
	tok := strings.TrimSpace(os.Getenv(envAdminToken))
	if tok == "" {
		return nil, errors.New(envAdminToken + " must hold an admin token (swa_...)")
	}
	server = strings.TrimRight(cmp.Or(server, os.Getenv(envAdminServer), "http://127.0.0.1:8080"), "/")
	return &adminClient{server: server, token: tok, http: &http.Client{Timeout: 30 * time.Second}}, nil
}

// do sends a request and decodes a JSON answer into out; API errors come
// back as their message.
func (c *adminClient) do(ctx context.Context, method, path string, body, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.server+path, rd)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := c.http.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	data, err := io.ReadAll(io.LimitReader(res.Body, 4<<20))
	if err != nil {
		return err
	}
	if res.StatusCode >= 300 {
		var e struct{ Error, Message string }
		if json.Unmarshal(data, &e) == nil && e.Error != "" {
			return fmt.Errorf("%s %s: %d %s: %s", method, path, res.StatusCode, e.Error, e.Message)
		}
		return fmt.Errorf("%s %s: %s", method, path, res.Status)
	}
	return json.Unmarshal(data, out)
}

type adminTokenOut struct {
	ID        string     `json:"id"`
	Name      string     `json:"name"`
	Role      string     `json:"role"`
	TenantID  string     `json:"tenantId"`
	Hint      string     `json:"hint"`
	ExpiresAt *time.Time `json:"expiresAt"`
	RevokedAt *time.Time `json:"revokedAt"`
	Token     string     `json:"token"`
}

func adminCmd() *cobra.Command {
	var server string
	admin := &cobra.Command{Use: "admin", Short: "Manage the server's admin side (needs " + envAdminToken + ")"}
	admin.PersistentFlags().StringVar(&server, "server", "", "server URL (default $"+envAdminServer+" or http://127.0.0.1:8080)")
	tok := &cobra.Command{Use: "token", Short: "Create, list and revoke admin API tokens"}
	admin.AddCommand(tok)

	var name, role, tenant string
	var ttl time.Duration
	create := &cobra.Command{Use: "create", Short: "Create an admin token (its secret is printed once)", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := newAdminClient(server)
			if err != nil {
				return err
			}
			var out adminTokenOut
			body := map[string]any{"name": name, "role": role, "tenantId": tenant, "expiresAt": time.Now().Add(ttl).UTC().Format(time.RFC3339)}
			if err := c.do(cmd.Context(), "POST", "/api/admin/tokens", body, &out); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "id: %s\nrole: %s\nexpires: %s\ntoken: %s\n", out.ID, out.Role, out.ExpiresAt.Format(time.RFC3339), out.Token)
			return nil
		}}
	create.Flags().StringVar(&name, "name", "", "what the token is for (required)")
	create.Flags().StringVar(&role, "role", "viewer", "viewer, release-manager or admin")
	create.Flags().StringVar(&tenant, "tenant", "", "limit the token to one tenant")
	create.Flags().DurationVar(&ttl, "ttl", 90*24*time.Hour, "how long the token is valid (at most two years)")
	_ = create.MarkFlagRequired("name")

	list := &cobra.Command{Use: "list", Short: "List admin tokens (hints only)", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := newAdminClient(server)
			if err != nil {
				return err
			}
			var out struct{ Tokens []adminTokenOut }
			if err := c.do(cmd.Context(), "GET", "/api/admin/tokens", nil, &out); err != nil {
				return err
			}
			w := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(w, "ID\tNAME\tROLE\tTENANT\tHINT\tEXPIRES\tSTATE")
			for _, t := range out.Tokens {
				state, exp := "active", "never"
				if t.ExpiresAt != nil {
					exp = t.ExpiresAt.Format(time.RFC3339)
				}
				if t.RevokedAt != nil {
					state = "revoked"
				}
				fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", t.ID, t.Name, t.Role, cmp.Or(t.TenantID, "*"), t.Hint, exp, state)
			}
			return w.Flush()
		}}

	revoke := &cobra.Command{Use: "revoke ID", Short: "Revoke an admin token (its sessions end at once)", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := newAdminClient(server)
			if err != nil {
				return err
			}
			var out adminTokenOut
			if err := c.do(cmd.Context(), "POST", "/api/admin/tokens/"+url.PathEscape(args[0])+"/revoke", nil, &out); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "revoked %s (%s)\n", out.ID, out.Name)
			return nil
		}}
	tok.AddCommand(create, list, revoke)
	admin.AddCommand(sessionKeyCmd(&server))
	return admin
}

func init() { register(adminCmd) }
