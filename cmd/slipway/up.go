package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/spf13/cobra"

	"github.com/slipwayhq/slipway/release"
	"github.com/slipwayhq/slipway/server"
	"github.com/slipwayhq/slipway/server/adminui"
	"github.com/slipwayhq/slipway/signing/keyring"
	"github.com/slipwayhq/slipway/signing/minisign"
	"github.com/slipwayhq/slipway/storage"
	"github.com/slipwayhq/slipway/updater/catalog"
	"github.com/slipwayhq/slipway/updater/channel"
	"github.com/slipwayhq/slipway/updater/publish"
	"github.com/slipwayhq/slipway/updater/repo"
)

func init() { register(newUpCmd) }

// upProducts are the programs `up` builds, publishes and promotes.
var upProducts = []string{"agent", "desktop"}

// upChannel is the channel `up` promotes the snapshot to.
const upChannel = "stable"

func newUpCmd() *cobra.Command {
	var addr, data string
	var noBuild bool
	cmd := &cobra.Command{
		Use:   "up",
		Short: "The whole loop on one machine: dev keys, snapshot release, promote to stable, serve",
		Long: `Run the whole Slipway loop on this machine, with nothing but Go installed:

  1. generate dev signing keys (cosign, minisign, TUF) under <data>/keys;
  2. build a snapshot release of agent and desktop for six targets with
     GoReleaser (fetched and built through Go on first use), sign it and
     publish it to the local store <data>/artifacts;
  3. promote it to the stable channel (channels file <data>/channels.yaml)
     and apply it (signed TUF metadata);
  4. serve the machine API, the update endpoints and the admin page.

Run it from a Slipway checkout. A second run reuses what exists: an unchanged
commit is not rebuilt, and the server starts in seconds. It moves a stable
channel to the new snapshot only if the channel still holds what the last
run put there; a version you promoted since is kept (and the run says so).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runUp(cmd.Context(), cmd.OutOrStdout(), cmd.ErrOrStderr(), addr, data, noBuild)
		},
	}
	cmd.Flags().StringVar(&addr, "addr", "127.0.0.1:8080", "listen address HOST:PORT")
	cmd.Flags().StringVar(&data, "data", "./data", "data directory (keys, artifacts, database, channels)")
	cmd.Flags().BoolVar(&noBuild, "no-build", false, "skip the release step and serve what the store already has")
	return cmd
}

func runUp(ctx context.Context, out, errOut io.Writer, addr, data string, noBuild bool) error {
	log := slog.New(slog.NewTextHandler(errOut, &slog.HandlerOptions{Level: logLevel()}))
	t0 := time.Now()
	step := func(name string, f func() error) error {
		s := time.Now()
		fmt.Fprintf(out, "==> %s\n", name)
		if err := f(); err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		fmt.Fprintf(out, "    done in %s\n", time.Since(s).Round(time.Millisecond))
		return nil
	}
	keysDir := filepath.Join(data, "keys")
	var st storage.Store
	var version string
	err := step("dev keys in "+keysDir, func() error {
		if _, err := keyring.EnsureDevKeys(keysDir); err != nil {
			return err
		}
		if _, err := repo.EnsureKeys(keysDir, 1); err != nil {
			return err
		}
		var err error
		st, err = storage.Open(ctx, filepath.Join(data, "artifacts"))
		return err
	})
	if err != nil {
		return err
	}
	if !noBuild {
		err = step("snapshot release of agent and desktop (six targets each)", func() error {
			if _, err := os.Stat(".goreleaser.yaml"); err != nil {
				return errors.New("no .goreleaser.yaml here: run `slipway up` from a Slipway checkout (or pass --no-build)")
			}
			self, err := os.Executable()
			if err != nil {
				return err
			}
			rep, err := release.Run(ctx, release.Options{
				Snapshot: true, Store: st, DataDir: data, SlipwayBin: self, Out: out, Logger: log, Verbose: true,
			})
			if err != nil {
				return err
			}
			version = rep.Version
			return nil
		})
		if err != nil {
			return err
		}
		err = step("promote "+version+" to "+upChannel+" and apply", func() error {
			return upPromote(ctx, st, data, keysDir, version, out)
		})
		if err != nil {
			return err
		}
	}
	u, err := newUpdates(ctx, data, updateOptions{keysDir: keysDir}, log)
	if err != nil {
		return err
	}
	go u.run(ctx)
	cfg, boot, err := server.FromEnv(os.Getenv)
	if err != nil {
		return err
	}
	cfg.Addr, cfg.DataDir = addr, data
	opts := server.Options{Logger: log, Mount: []func(chi.Router){u.mount()}}
	// The admin page pauses, resumes and rolls back the data directory's
	// channels file (not in git) and applies it at once.
	local, err := upChannelsFile(st, data, keysDir)
	if err != nil {
		return err
	}
	db, err := withAdminUI(ctx, cfg, &opts, log, local, u.warnings)
	if err != nil {
		return err
	}
	defer db.Close()
	return server.Run(ctx, cfg, server.RunOptions{
		Options:   opts,
		Bootstrap: boot,
		Ready: func(info server.Info) {
			printUpURLs(out, info, version, time.Since(t0))
		},
	})
}

// upChannelsFile is the data directory's channels file with what it takes
// to verify releases and sign TUF metadata when it is applied.
func upChannelsFile(st storage.Store, data, keysDir string) (*adminui.ChannelsFile, error) {
	pubText, err := os.ReadFile(filepath.Join(keysDir, "minisign.pub"))
	if err != nil {
		return nil, fmt.Errorf("minisign public key: %w", err)
	}
	pk, err := minisign.ParsePublicKey(pubText)
	if err != nil {
		return nil, err
	}
	keys, err := repo.LoadKeys(keysDir)
	if err != nil {
		return nil, err
	}
	return &adminui.ChannelsFile{
		Path:    filepath.Join(data, "channels.yaml"),
		Publish: publish.Config{Store: st, Verifier: catalog.Minisign{Key: pk}},
		Keys:    keys,
	}, nil
}

// upPromotedFile records, per product, the version `up` last promoted, so a
// rerun can tell its own promotions from the user's.
const upPromotedFile = "up-promoted.json"

// upPromote points every product's stable channel at version in the data
// directory's channels file and applies it to the store. A channel someone
// moved since `up` last promoted it (slipway promote, the admin page) is
// kept, and the output says so.
func upPromote(ctx context.Context, st storage.Store, data, keysDir, version string, out io.Writer) error {
	cf, err := upChannelsFile(st, data, keysDir)
	if err != nil {
		return err
	}
	cfg, path, keys := cf.Publish, cf.Path, cf.Keys
	f, err := channel.Load(path)
	if err != nil {
		return err
	}
	mine, err := loadUpPromoted(data)
	if err != nil {
		return err
	}
	for _, p := range upProducts {
		c, err := f.Channel(p, upChannel)
		switch {
		case err == nil && c.Version == version:
			continue
		case err == nil && !upOwns(mine, p, c.Version):
			fmt.Fprintf(out, "    keeping %s/%s at %s (promoted after `slipway up` put %s there); to serve this build: slipway promote %s %s --to %s\n",
				p, upChannel, c.Version, orUnknown(mine[p]), p, version, upChannel)
			continue
		}
		if err := publish.Promote(ctx, cfg, f, p, upChannel, version, 100); err != nil {
			return err
		}
		mine[p] = version
	}
	if err := f.Save(path); err != nil {
		return err
	}
	if err := saveUpPromoted(data, mine); err != nil {
		return err
	}
	now := time.Now()
	if _, _, err := repo.Init(ctx, st, "", keysDir, now, repo.Options{}); err != nil {
		return err
	}
	plan, err := publish.Apply(ctx, cfg, f, keys, now)
	if err != nil {
		return err
	}
	fmt.Fprint(out, indent(plan.String()))
	return nil
}

// upOwns reports whether the channel's version is the one `up` put there.
// Without a record (data directories from before it was kept) a snapshot
// version is taken for `up`'s.
func upOwns(mine map[string]string, product, current string) bool {
	if v, ok := mine[product]; ok {
		return v == current
	}
	return strings.Contains(strings.ToLower(current), "snapshot")
}

func orUnknown(v string) string {
	if v == "" {
		return "a snapshot"
	}
	return v
}

func loadUpPromoted(data string) (map[string]string, error) {
	m := map[string]string{}
	b, err := os.ReadFile(filepath.Join(data, upPromotedFile))
	if errors.Is(err, os.ErrNotExist) {
		return m, nil
	}
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("%s: %w", upPromotedFile, err)
	}
	return m, nil
}

func saveUpPromoted(data string, m map[string]string) error {
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(data, upPromotedFile), append(b, '\n'), 0o600)
}

func printUpURLs(out io.Writer, info server.Info, version string, took time.Duration) {
	u := info.URL
	fmt.Fprintf(out, "\nSlipway is up in %s: %s\n\n", took.Round(time.Millisecond), u)
	if version != "" {
		fmt.Fprintf(out, "  stable channel      agent and desktop %s\n", version)
	}
	fmt.Fprintf(out, "  admin page          %s/admin  (token in %s)\n", u, filepath.Join(info.DataDir, "admin-token"))
	fmt.Fprintf(out, "  update check        %s/v1/updates/agent/stable?os=linux&arch=amd64&current=0.0.0&machine=demo\n", u)
	fmt.Fprintf(out, "  machine API         %s/api/machines/register  (docs/server.md)\n", u)
	fmt.Fprintf(out, "  TUF root            %s/tuf/root.json\n", u)
	fmt.Fprintf(out, "  OpenAPI             %s/openapi.json\n", u)
	fmt.Fprintf(out, "  provisioning secret %s\n", filepath.Join(info.DataDir, "provisioning-secret"))
	agent := "./dist/agent_linux_amd64_v1/slipway-agent"
	fmt.Fprintf(out, "\n  try an agent (as root):\n")
	fmt.Fprintf(out, "    %s enroll --server %s --code \"$(cat %s)\"\n", agent, u, filepath.Join(info.DataDir, "provisioning-secret"))
	fmt.Fprintf(out, "    %s run          # heartbeats: watch the machine appear on the admin page\n", agent)
	fmt.Fprintf(out, "  let it update itself (the trust files it checks releases against):\n")
	fmt.Fprintf(out, "    mkdir -p /etc/slipway/update && curl -sf %s/tuf/root.json -o /etc/slipway/update/root.json && cp %s /etc/slipway/update/\n\n",
		u, filepath.Join(info.DataDir, "keys", "minisign.pub"))
}

// indent indents every line of s by four spaces.
func indent(s string) string {
	if s == "" {
		return s
	}
	return "    " + strings.ReplaceAll(strings.TrimSuffix(s, "\n"), "\n", "\n    ") + "\n"
}
