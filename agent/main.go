// Command slipway-agent is the machine agent: inventory, heartbeats and
// self-update. (Placeholder main until the agent issue lands.)
package main

import (
	"fmt"
	"os"
)

// Set by the linker.
var (
	version = "dev"
	commit  = "none"
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == "version" {
		fmt.Printf("slipway-agent %s (%s)\n", version, commit)
		return
	}
	fmt.Fprintln(os.Stderr, "slipway-agent: not implemented yet; try 'slipway-agent version'")
	os.Exit(2)
}
