// Command bench measures the dbserver against its ceilings, in one run on one machine:
//
//  1. raw bbolt: one transaction (and fsync) per put, and db.Batch from 16 goroutines, next to
//     the store's own group committer from 16 goroutines;
//  2. in process: an unindexed query over a collection, answered by decoding every document
//     (the naive scan) and by the planner;
//  3. the HTTP floor: the same load generator against a trivial server (a child process
//     answering a fixed small JSON document) at concurrency 1 and 16;
//  4. the real dbserver binary (built from ./dbserver, run standalone over loopback with a temp
//     data dir and a config dir that declares an index on n): create, get by id, indexed range
//     query, unindexed query, update and delete at concurrency 1 and 16, with ratios to the floor;
//  5. the media archive: one streamed upload (1 GiB) against writing and fsyncing the same
//     bytes to a file on the same disk, with the server's peak RSS before and after, and GETs
//     of a kept thumbnail at concurrency 16 against the floor (-ops media runs it alone);
//  6. the indexed query's latency as a collection grows by bulk POST to 10k, 100k and 1M
//     documents, and the server's peak RSS after 100k.
//
// It prints a table and the targets (met or missed). Every load is bounded in count and
// time and uses loopback only. -smoke runs everything with tiny counts in a few seconds; the
// package's test runs it that way.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"regexp"
	"syscall"
)

func main() {
	if maybeRunRole() {
		return
	}
	smoke := flag.Bool("smoke", false, "run every measurement with tiny counts (a few seconds)")
	maxDocs := flag.Int("max-docs", 1_000_000, "largest collection size of the scaling run (100000 for a quick run)")
	dbserver := flag.String("dbserver", "", "a prebuilt dbserver binary (default: build ./dbserver)")
	logLevel := flag.String("server-log-level", "info", "the dbserver's --log-level (info, its default, logs every request)")
	only := flag.String("ops", "", "measure only the dbserver operations whose names match this regular expression (skips the other sections)")
	profile := flag.String("profile", "", "a directory for CPU, block and mutex profiles of the dbserver and of the bench client, taken during the realtime section's paced writes with subscribers")
	flag.Parse()

	cfg := FullConfig(*maxDocs)
	if *smoke {
		cfg = SmokeConfig()
	}
	cfg.DBServer = *dbserver
	if *only != "" {
		re, err := regexp.Compile(*only)
		if err != nil {
			fmt.Fprintln(os.Stderr, "bench: -ops:", err)
			os.Exit(2)
		}
		cfg.Only = re
	}
	cfg.ServerLogLevel = *logLevel
	cfg.ProfileDir = *profile
	dir, err := os.MkdirTemp("", "restkube-bench-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	cfg.WorkDir = dir
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	rep, err := Run(ctx, cfg, os.Stderr)
	stop()
	if rep != nil {
		rep.Print(os.Stdout)
	}
	_ = os.RemoveAll(dir)
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}
