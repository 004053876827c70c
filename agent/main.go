// Command slipway-agent is the machine agent: inventory, heartbeats and
// self-update, run by the OS service manager.
//
//	slipway-agent enroll --server URL --code SECRET
//	slipway-agent install | uninstall | start | stop | status
//	slipway-agent run          (foreground, for debugging)
//	slipway-agent inventory    (prints what it would send)
//	slipway-agent version
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/slipwayhq/slipway/agent/daemon"
	"github.com/slipwayhq/slipway/agent/enroll"
	"github.com/slipwayhq/slipway/agent/identity"
	"github.com/slipwayhq/slipway/agent/selfupdate"
	"github.com/slipwayhq/slipway/agent/service"
	"github.com/slipwayhq/slipway/updater/client"
)

// Set by the linker (-X main.version=... -X main.commit=...).
var (
	version = "dev"
	commit  = "none"
)

const usage = `usage: slipway-agent <command> [flags]

commands:
  enroll      register this machine (--server URL --code SECRET, or env/agent.json)
  run         run in the foreground (what the service runs)
  inventory   print the inventory this machine would send, as JSON
  install     install the OS service (systemd, launchd, Windows service)
  uninstall   remove the OS service (--purge also deletes the stored token)
  start|stop|restart|status   control the OS service
  version     print the version
  update-guard  (run by the systemd unit after the service exits; see docs/updater.md)

Run 'slipway-agent <command> -h' for the flags of a command.
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	cmd, args := args[0], args[1:]
	var err error
	switch cmd {
	case "version", "--version", "-v":
		fmt.Fprintf(stdout, "slipway-agent %s (%s)\n", version, commit)
		return 0
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return 0
	case "enroll":
		err = cmdEnroll(ctx, args, stdout, stderr)
	case "run":
		err = cmdRun(ctx, args, stderr)
	case "inventory":
		err = cmdInventory(ctx, args, stdout, stderr)
	case "update-guard":
		err = cmdUpdateGuard(args, stderr)
	case "install", "uninstall", "start", "stop", "restart", "status":
		err = cmdService(ctx, cmd, args, stdout, stderr)
	default:
		fmt.Fprintf(stderr, "slipway-agent: unknown command %q\n\n%s", cmd, usage)
		return 2
	}
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if errors.Is(err, selfupdate.ErrRestart) || errors.Is(err, client.ErrUnhealthy) {
		fmt.Fprintln(stderr, "slipway-agent:", err)
		return service.ExitRestart
	}
	if err != nil {
		fmt.Fprintln(stderr, "slipway-agent:", err)
		return 1
	}
	return 0
}

// common holds the flags every command shares.
type common struct {
	dir      string
	server   string
	code     string
	logLevel string
	osquery  string
}

func newFlags(name string, stderr io.Writer, c *common) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&c.dir, "config-dir", "", "directory of machine.json and agent.json (default: the OS config directory; env SLIPWAY_CONFIG_DIR)")
	fs.StringVar(&c.logLevel, "log-level", envOr("SLIPWAY_LOG_LEVEL", "info"), "debug, info, warn or error")
	fs.StringVar(&c.osquery, "osquery", "", `osqueryi path ("" looks it up, "off" disables)`)
	return fs
}

func enrollFlags(fs *flag.FlagSet, c *common) {
	fs.StringVar(&c.server, "server", "", "Slipway server URL (env "+enroll.EnvServer+")")
	fs.StringVar(&c.code, "code", "", "provisioning secret (env "+enroll.EnvSecret+"; prefer the env or agent.json: flags show in ps)")
}

func (c *common) daemon(stderr io.Writer) *daemon.Daemon {
	cfg := daemon.Config{
		Dir:         c.dir,
		Version:     version,
		Enroll:      enroll.Config{Server: c.server, ProvisioningSecret: c.code},
		Logger:      newLogger(stderr, c.logLevel),
		Trial:       client.TrialVersion(),
		TrialOutput: os.Stdout,
	}
	cfg.ClientOptions.HTTPClient = faultHTTPClient()
	cfg.Inventory.Osquery = c.osquery
	return daemon.New(cfg)
}

func cmdEnroll(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var c common
	fs := newFlags("enroll", stderr, &c)
	enrollFlags(fs, &c)
	if err := fs.Parse(args); err != nil {
		return err
	}
	st, err := c.daemon(stderr).Enroll(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "enrolled as machine %s with %s (token expires %s)\n", st.MachineID, st.Server, st.ExpiresAt.Format(time.RFC3339))
	return nil
}

func cmdRun(ctx context.Context, args []string, stderr io.Writer) error {
	if done, err := runFault(ctx); done {
		return err
	}
	var c common
	fs := newFlags("run", stderr, &c)
	enrollFlags(fs, &c)
	if err := fs.Parse(args); err != nil {
		return err
	}
	logOut, closeLog := serviceLogOutput(stderr)
	defer closeLog()
	d := c.daemon(logOut)
	if service.Interactive() {
		return d.Run(ctx)
	}
	s, err := service.New(service.Config(), d.Run, newLogger(logOut, c.logLevel))
	if err != nil {
		return err
	}
	return s.Run()
}

func cmdInventory(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var c common
	fs := newFlags("inventory", stderr, &c)
	if err := fs.Parse(args); err != nil {
		return err
	}
	rep := c.daemon(stderr).Inventory().Collect(ctx)
	enc := json.NewEncoder(stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(rep)
}

func cmdService(ctx context.Context, action string, args []string, stdout, stderr io.Writer) error {
	var c common
	fs := newFlags(action, stderr, &c)
	purge := fs.Bool("purge", false, "uninstall: also delete the stored machine token")
	if err := fs.Parse(args); err != nil {
		return err
	}
	var extra []string
	if c.dir != "" {
		extra = append(extra, "--config-dir", c.dir)
	}
	s, err := service.New(service.Config(extra...), nil, nil)
	if err != nil {
		return err
	}
	if action == "status" {
		st, err := service.Status(s)
		if err != nil {
			return err
		}
		fmt.Fprintln(stdout, st)
		return nil
	}
	if err := service.Control(s, action); err != nil {
		return err
	}
	if action == "uninstall" && *purge {
		if err := c.daemon(stderr).Store().Remove(); err != nil {
			return err
		}
	}
	fmt.Fprintf(stdout, "%s: %s done\n", service.Name, action)
	return nil
}

// cmdUpdateGuard is what the agent's systemd unit runs after every exit of
// the service (ExecStopPost), from the previous binary a self-update kept:
// known-good code that counts the crashes of a pending update and rolls it
// back at the limit, even when the new binary dies before its own start-up
// check. It never fails the unit: problems are logged.
func cmdUpdateGuard(args []string, stderr io.Writer) error {
	var c common
	fs := newFlags("update-guard", stderr, &c)
	if err := fs.Parse(args); err != nil {
		return err
	}
	dir := c.dir
	if dir == "" {
		dir = identity.DefaultDir()
	}
	log := newLogger(stderr, c.logLevel)
	rolled, err := selfupdate.Guard(dir, os.Getenv("SERVICE_RESULT"), os.Getenv("EXIT_CODE"), os.Getenv("EXIT_STATUS"),
		service.ExitRestart, time.Now())
	switch {
	case err != nil:
		log.Error("update guard", "err", err)
	case rolled:
		log.Warn("update guard: the new version kept crashing under the service manager; the previous version is restored", "version", version)
	}
	return nil
}

func envOr(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}
