// Command fleet runs a fleet rehearsal scenario (bench/fleet/testdata/*.yaml)
// against a real Slipway server in a temporary directory and prints the
// results as JSON:
//
//	go run ./bench/fleet/cmd/fleet -scenario bench/fleet/testdata/year-short.yaml -machines 200 -out result.json
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"runtime/debug"

	"github.com/slipwayhq/slipway/bench/fleet"
)

func main() {
	debug.SetGCPercent(fleet.GCPercent)
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "fleet:", err)
		os.Exit(1)
	}
}

func run() error {
	path := flag.String("scenario", "bench/fleet/testdata/year-short.yaml", "scenario file")
	machines := flag.Int("machines", 0, "override the scenario's machine count")
	out := flag.String("out", "", "also write the JSON results to this file")
	keep := flag.Bool("keep", false, "keep the work directory (server database, stores, machine state)")
	flag.Parse()
	sc, err := fleet.Load(*path)
	if err != nil {
		return err
	}
	if *machines > 0 {
		sc.Resize(*machines)
	}
	dir, err := os.MkdirTemp("", "slipway-fleet-")
	if err != nil {
		return err
	}
	if !*keep {
		defer os.RemoveAll(dir)
	} else {
		fmt.Fprintln(os.Stderr, "work directory:", dir)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	res, runErr := fleet.Run(ctx, sc, dir)
	if res != nil {
		data, err := json.MarshalIndent(res, "", "  ")
		if err != nil {
			return err
		}
		fmt.Println(string(data))
		if *out != "" {
			if err := os.WriteFile(*out, append(data, '\n'), 0o644); err != nil {
				return err
			}
		}
	}
	return runErr
}
