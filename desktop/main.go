// Command slipway-desktop is the desktop client: the user's window into the
// ticket portal. (Placeholder main until the desktop issue lands.)
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
		fmt.Printf("slipway-desktop %s (%s)\n", version, commit)
		return
	}
	fmt.Fprintln(os.Stderr, "slipway-desktop: not implemented yet; try 'slipway-desktop version'")
	os.Exit(2)
}
