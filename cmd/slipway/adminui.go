package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"strings"

	"github.com/go-chi/chi/v5"

	"github.com/slipwayhq/slipway/server"
	"github.com/slipwayhq/slipway/server/adminui"
	"github.com/slipwayhq/slipway/server/store"
	"github.com/slipwayhq/slipway/updater/channel"
)

// withAdminUI opens the server's store (so the admin page can share it) and
// adds the admin page under /admin to opts. With SLIPWAY_CHANNELS set to the
// channels file, the releases page shows its channels in GitOps mode: the
// command to run, never an edit behind git's back. A non-nil local channels
// file (`slipway up`'s, outside git) is edited and applied from the page
// instead. warnings (may be nil) head every admin page. The caller
// closes the returned store.
func withAdminUI(ctx context.Context, cfg server.Config, opts *server.Options, log *slog.Logger, local *adminui.ChannelsFile, warnings func() []string) (store.Store, error) {
	st, err := server.OpenStoreLogged(ctx, cfg, log)
	if err != nil {
		return nil, err
	}
	d := cfg.Default()
	uo := adminui.Options{StaleAfter: d.StaleAfter, OfflineAfter: d.OfflineAfter, Logger: log,
		Secure: strings.HasPrefix(d.PublicURL, "https://"), Warnings: warnings}
	if path := os.Getenv("SLIPWAY_CHANNELS"); path != "" {
		if _, err := channel.Load(path); err != nil {
			st.Close()
			return nil, err
		}
		uo.Rollouts, uo.GitOps, uo.ChannelsFile = &adminui.ChannelsFile{Path: path}, true, path
	} else if local != nil {
		uo.Rollouts, uo.ChannelsFile = local, local.Path
	}
	// Single sign-on (SLIPWAY_OIDC_*) and whether admin tokens sign in to
	// the page (SLIPWAY_ADMIN_TOKEN_LOGIN, default true): docs/admin.md.
	if uo.OIDC, err = adminui.OIDCFromEnv(os.Getenv, d.PublicURL); err != nil {
		st.Close()
		return nil, err
	}
	if v := os.Getenv("SLIPWAY_ADMIN_TOKEN_LOGIN"); v != "" {
		on, err := strconv.ParseBool(v)
		if err != nil {
			st.Close()
			return nil, fmt.Errorf("SLIPWAY_ADMIN_TOKEN_LOGIN: want true or false, not %q", v)
		}
		uo.NoTokenLogin = !on
	}
	if uo.SigningKeys, err = server.SigningKeys(cfg, st, log); err != nil {
		st.Close()
		return nil, err
	}
	ui, err := adminui.New(st, uo)
	if err != nil {
		st.Close()
		return nil, err
	}
	opts.Store, opts.SigningKeys = st, uo.SigningKeys
	if uo.Rollouts != nil && !uo.GitOps { // the release managers' channel actions, on the admin API too
		opts.Channels = uo.Rollouts
	}
	opts.Mount = append(opts.Mount, func(r chi.Router) { ui.Routes(r) })
	return st, nil
}
