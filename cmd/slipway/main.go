// Command slipway is the one CLI for release managers and operators: it runs
// the server, signs and verifies artifacts, cuts releases and edits channels.
//
// Each command family lives in its own file and registers itself with
// register() from an init function, so the families stay independent.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"
)

// Set by the linker (-X main.version=... -X main.commit=...).
var (
	version = "dev"
	commit  = "none"
)

// commands collects the constructors registered by each command file.
var commands []func() *cobra.Command

func register(f func() *cobra.Command) { commands = append(commands, f) }

func newRoot() *cobra.Command {
	root := &cobra.Command{
		Use:           "slipway",
		Short:         "Build, sign, ship and update the software your fleet runs",
		Version:       version + " (" + commit + ")",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	for _, f := range commands {
		root.AddCommand(f())
	}
	return root
}

// exitStatus is an outcome that is not an error but has its own exit
// status (plan --detailed-exitcode: 2 = changes pending).
type exitStatus int

func (e exitStatus) Error() string { return fmt.Sprintf("exit status %d", int(e)) }

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := newRoot().ExecuteContext(ctx)
	stop()
	var status exitStatus
	switch {
	case errors.As(err, &status):
		os.Exit(int(status))
	case err != nil:
		fmt.Fprintln(os.Stderr, "slipway:", err)
		os.Exit(1)
	}
}
