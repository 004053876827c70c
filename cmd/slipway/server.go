package main

import (
	"fmt"
	"log/slog"
	"os"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/spf13/cobra"

	"github.com/slipwayhq/slipway/server"
	"github.com/slipwayhq/slipway/server/store"
	"github.com/slipwayhq/slipway/updater/gate"
)

func init() { register(newServerCmd) }

func newServerCmd() *cobra.Command {
	var addr, data string
	cmd := &cobra.Command{
		Use:   "server",
		Short: "Run the machine API server (SQLite under --data)",
		Long: `Run the machine API server.

With no configuration it listens on 127.0.0.1:8080 and keeps its SQLite
database under ./data. On first start it creates the default tenant and writes
a bootstrap admin token and provisioning secret to files in the data directory
(mode 0600); only their paths are printed. Flags override SLIPWAY_ADDR and
SLIPWAY_DATA; every other setting is an environment variable (docs/server.md).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, boot, err := server.FromEnv(os.Getenv)
			if err != nil {
				return err
			}
			hooks, err := newServerHooks()
			if err != nil {
				return err
			}
			if cmd.Flags().Changed("addr") || cfg.Addr == "" {
				cfg.Addr = addr
			}
			if cmd.Flags().Changed("data") || cfg.DataDir == "" {
				cfg.DataDir = data
			}
			log := slog.New(slog.NewTextHandler(cmd.ErrOrStderr(), &slog.HandlerOptions{Level: logLevel()}))
			out := cmd.OutOrStdout()
			reg := prometheus.NewRegistry()
			reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
			opts := server.Options{Logger: log, Registry: reg, Now: hooks.now}
			var u *updates                                                                                       // set below, before the server serves
			st, err := withAdminUI(cmd.Context(), cfg, &opts, log, nil, func() []string { return u.warnings() }) // the admin page at /admin
			if err != nil {
				return err
			}
			defer st.Close()
			// The update endpoints, from the release store (SLIPWAY_STORE,
			// default <data>/artifacts) and TUF keys (<data>/keys).
			// Rollout gates: evaluated from the heartbeats four times per
			// heartbeat interval (at most once a minute); an upgraded machine
			// that missed a heartbeat (1.5 intervals) counts as offline,
			// against the share of other machines as late. The state is in
			// the database: replicas make one decision.
			def := cfg.Default()
			ctrl := gate.New(gateStore(st), newFleetHealth(st, def.HeartbeatInterval, def.StaleAfter),
				gate.Options{OnEvent: auditGate(st, log), Logger: log})
			uo := updateOptions{
				store: os.Getenv("SLIPWAY_STORE"), prefix: os.Getenv("SLIPWAY_STORE_PREFIX"),
				keysDir: os.Getenv("SLIPWAY_TUF_KEYS"), baseURL: cfg.PublicURL, registry: reg, rollouts: ctrl,
				now: hooks.now, wrapStore: hooks.wrapStore,
			}
			uo.leases, _ = st.(store.LeaseStore)
			if u, err = newUpdates(cmd.Context(), cfg.DataDir, uo, log); err != nil {
				return err
			}
			if hooks.background {
				go u.run(cmd.Context())
			}
			if hooks.setTick != nil {
				hooks.setTick(u.h.Tick)
			}
			go runGates(cmd.Context(), ctrl, u, gateEvery(def.HeartbeatInterval), log, hooks.now)
			reg.MustRegister(newGateMetrics(ctrl, u.h.Rollouts))
			opts.Mount = append(opts.Mount, u.mount())
			if hooks.mount != nil {
				opts.Mount = append(opts.Mount, hooks.mount)
			}
			return server.Run(cmd.Context(), cfg, server.RunOptions{
				Options:   opts,
				Bootstrap: boot,
				Ready: func(info server.Info) {
					fmt.Fprintf(out, "slipway server listening on %s (data in %s)\n", info.URL, info.DataDir)
					if p := info.Bootstrap.AdminTokenFile; p != "" {
						fmt.Fprintf(out, "admin token written to %s\n", p)
					}
					if p := info.Bootstrap.ProvisioningSecretFile; p != "" {
						fmt.Fprintf(out, "provisioning secret written to %s\n", p)
					}
					if hooks.ready != nil {
						hooks.ready(out, info)
					}
				},
			})
		},
	}
	cmd.Flags().StringVar(&addr, "addr", "127.0.0.1:8080", "listen address HOST:PORT (env SLIPWAY_ADDR)")
	cmd.Flags().StringVar(&data, "data", "./data", "data directory for the database and bootstrap secrets (env SLIPWAY_DATA)")
	return cmd
}

// logLevel reads SLIPWAY_LOG_LEVEL (debug, info, warn, error). Default: info.
func logLevel() slog.Level {
	var l slog.Level
	if err := l.UnmarshalText([]byte(strings.ToUpper(os.Getenv("SLIPWAY_LOG_LEVEL")))); err != nil {
		return slog.LevelInfo
	}
	return l
}
