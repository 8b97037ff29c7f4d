package main

import (
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/restkube/restkube/dbserver/store"
)

// checkCmd is `dbserver check`: offline (it takes the file's lock, so the server must be
// stopped), it verifies that every document decodes and every index agrees with its documents,
// printing each problem; with --repair it removes undecodable documents and fixes the indexes.
// Exit 0: nothing wrong (or all repaired); 1: problems found and left; 2: usage or open error.
func checkCmd(args []string, stdout, stderr io.Writer) int {
	flags := flag.NewFlagSet("check", flag.ContinueOnError)
	flags.SetOutput(stderr)
	dataDir := flags.String("data-dir", "data", "directory of the database file")
	repair := flags.Bool("repair", false, "remove documents that do not decode and rebuild index entries that disagree")
	if err := flags.Parse(args); err != nil {
		return 2
	}
	path := filepath.Join(*dataDir, DataFile)
	if _, err := os.Stat(path); err != nil {
		fmt.Fprintf(stderr, "check: %v\n", err)
		return 2
	}
	st, err := store.Open(path, store.Options{OpenTimeout: storeOpenTimeout, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		fmt.Fprintf(stderr, "check: %v\n", err)
		return 2
	}
	rep, err := st.Check(*repair, func(p store.Problem) { fmt.Fprintln(stdout, p.String()) })
	if cerr := st.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		fmt.Fprintf(stderr, "check: %v\n", err)
		return 2
	}
	fmt.Fprintf(stdout, "%d documents, %d index entries, %d problems", rep.Documents, rep.IndexEntries, len(rep.Problems))
	if *repair && len(rep.Problems) > 0 {
		fmt.Fprint(stdout, ", all repaired")
	}
	fmt.Fprintln(stdout)
	if len(rep.Problems) > 0 && !*repair {
		return 1
	}
	return 0
}
