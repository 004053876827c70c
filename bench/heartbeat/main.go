// Command heartbeat load-tests the machine API's heartbeat endpoint on
// loopback: it seeds N registered machines straight into SQLite, starts the
// real server (real router, real SQLite, group commit) and sends heartbeats
// over HTTP from C concurrent clients for a fixed duration, then checks that
// every acknowledged heartbeat was persisted. In the same run it measures a
// baseline: a bare net/http handler that decodes the same JSON and answers
// 204 without storage (the ceiling of this machine).
//
//	go run ./bench/heartbeat -machines 100000 -duration 20s -concurrency 64
//
// With -rounds N it alternates the two N times each on the same listeners
// and store and reports the median ratio, which holds still on a machine
// whose speed drifts during the run.
//
// It can also seed a store for servers run elsewhere (-seed DIR, with
// -database-url for PostgreSQL) and load them (-target URL[,URL...]),
// checking persistence afterwards against -data DIR or -database-url;
// bench/replicas/slices.sh does that with each server in a CPU slice.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"time"
)

type options struct {
	mode        string // both, server, baseline
	target      string // external server URLs, comma-separated (no seeding)
	tokensFile  string // tokens for -target, or output of -seed
	seedDir     string // seed this data directory (or -database-url), write -tokens, exit
	warm        bool   // -target: one heartbeat per token and target before the measured load
	slices      string // -target: label=cgroup,... whose CPU use to report
	cgroupRoot  string // where the cgroup v1 cpu and cpuacct hierarchies are mounted
	machines    int
	duration    time.Duration
	concurrency int
	dataDir     string
	cpuProfile  string
	synchronous string
	cold        bool   // skip warming the server's token cache
	databaseURL string // PostgreSQL instead of SQLite (bench/heartbeat/postgres.go)
	replicas    int    // server replicas on the PostgreSQL database
	batchWait   time.Duration
	// writerCacheKB is the SQLite write connection's page cache (0: the
	// store's default; 2000 was the default before issue 12's session 2).
	writerCacheKB int
	journal       bool // SQLite: heartbeats through the heartbeat journal, as slipway server does
	rounds        int  // > 1: alternate baseline and server this many times each (rounds.go)
	history       int  // SQLite: past heartbeats seeded per machine
	foldInterval  time.Duration
	foldBatch     int
}

func main() {
	var o options
	flag.StringVar(&o.mode, "mode", "both", "both | server | baseline")
	flag.StringVar(&o.target, "target", "", "URLs of running servers, comma-separated, to load round-robin instead of an in-process one (needs -tokens; verifies against -data or -database-url when given)")
	flag.StringVar(&o.tokensFile, "tokens", "", "file of machine tokens, one per line (read with -target, written with -seed)")
	flag.StringVar(&o.seedDir, "seed", "", "only seed this data directory (with -database-url: that PostgreSQL database, bootstrap files here) with -machines machines and write -tokens")
	flag.BoolVar(&o.warm, "warm", false, "with -target: first send one heartbeat per token to every target (warm token caches), not measured")
	flag.StringVar(&o.slices, "slices", "", "with -target: label=cgroup,... cgroup v1 CPU groups whose use during the load to report")
	flag.StringVar(&o.cgroupRoot, "cgroup-root", "/sys/fs/cgroup", "where the cgroup v1 cpu and cpuacct hierarchies are mounted")
	flag.IntVar(&o.machines, "machines", 100000, "registered machines")
	flag.DurationVar(&o.duration, "duration", 20*time.Second, "load duration per mode")
	flag.IntVar(&o.concurrency, "concurrency", 64, "concurrent clients")
	flag.StringVar(&o.dataDir, "data", "", "data directory for the in-process server (default: a temporary one)")
	flag.StringVar(&o.synchronous, "synchronous", "FULL", "SQLite synchronous pragma for the server run (FULL survives power loss)")
	flag.BoolVar(&o.cold, "cold", false, "do not warm the server's token cache first (as right after a restart)")
	flag.StringVar(&o.databaseURL, "database-url", "", "PostgreSQL URL of an empty database: seed and load the server on PostgreSQL instead of SQLite")
	flag.IntVar(&o.replicas, "replicas", 1, "server replicas sharing the -database-url database (each its own pool and listener)")
	flag.DurationVar(&o.batchWait, "batch-wait", 0, "in-process servers' HeartbeatBatchWait (0: the store's default, 1ms on PostgreSQL; negative: commit at once)")
	flag.IntVar(&o.writerCacheKB, "writer-cache-kb", 0, "SQLite write connection page cache in KiB (0: the store's default, 32768; 2000 is SQLite's default)")
	flag.BoolVar(&o.journal, "journal", true, "SQLite: acknowledge heartbeats once in the heartbeat journal and fold them into the database in the background, as slipway server does (false: one transaction per batch, before issue 12 session 5)")
	flag.IntVar(&o.history, "history", 0, "SQLite: seed this many past heartbeats per machine (history rows one minute apart) before the load, as on a server that has been running (0: an empty history, as the benchmark always did)")
	flag.DurationVar(&o.foldInterval, "fold-interval", 0, "SQLite heartbeat journal: fold interval (0: the store's default)")
	flag.IntVar(&o.foldBatch, "fold-batch", 0, "SQLite heartbeat journal: heartbeats per fold transaction, and how many waiting start a fold early (0: the store's default)")
	flag.IntVar(&o.rounds, "rounds", 1, "alternate the baseline and the server this many times each, -duration per turn, on the same listeners and store, and print each round's ratios and their median (-mode both, SQLite)")
	flag.BoolVar(&uuidIDs, "uuid-ids", false, "seed machine IDs as long as the server's (36-character UUIDv7) instead of 13 characters (\"bench-0000001\")")
	flag.StringVar(&o.cpuProfile, "cpuprofile", "", "write a CPU profile of the server run to this file")
	flag.Parse()
	ctx := context.Background()
	if err := run(ctx, o, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "heartbeat:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, o options, out io.Writer) error {
	if o.machines <= 0 || o.concurrency <= 0 || o.duration <= 0 {
		return fmt.Errorf("machines, concurrency and duration must be positive")
	}
	if o.history < 0 || (o.history > 0 && o.databaseURL != "") {
		return fmt.Errorf("-history must be ≥ 0 and is for SQLite only")
	}
	if o.synchronous == "" {
		o.synchronous = "FULL"
	}
	switch {
	case o.seedDir != "":
		return seedOnly(ctx, o, out)
	case o.target != "":
		return runTarget(ctx, o, out)
	case o.rounds > 1:
		return runRounds(ctx, o, out)
	}
	var results []result
	if o.mode == "both" || o.mode == "baseline" {
		res, err := runBaseline(ctx, o)
		if err != nil {
			return err
		}
		results = append(results, res)
	}
	if o.mode == "both" || o.mode == "server" {
		run := runServer
		if o.databaseURL != "" {
			run = runPostgres
		}
		res, err := run(ctx, o, out)
		if err != nil {
			return err
		}
		results = append(results, res)
	}
	if len(results) == 0 {
		return fmt.Errorf("unknown -mode %q", o.mode)
	}
	printResults(out, o, results)
	for _, r := range results {
		if r.verifyErr != nil {
			return r.verifyErr
		}
	}
	return nil
}
