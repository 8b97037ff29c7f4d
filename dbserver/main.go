// Command dbserver serves one RestKube database: the restdb.io-compatible REST API over a
// bbolt file. Its flags and files (the pod contract: --data-dir holds restkube.db, --config-dir
// holds settings.json, api-key, signing-key and auth0-client-secret, reloaded on change) are
// described in the README ("What the operator creates") and in package settings.
package main

import (
	"fmt"
	"io"
	"os"

	"github.com/restkube/restkube/internal/version"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

const usage = `usage:
  dbserver serve [--data-dir DIR] [--config-dir DIR] [--listen ADDR] [--max-connections N] [--pprof-listen 127.0.0.1:PORT]
  dbserver check [--data-dir DIR] [--repair]
  dbserver backup --data-dir DIR --to FILE|s3://BUCKET/KEY [--database NAME] [s3 flags]
  dbserver restore --from FILE|s3://BUCKET/KEY --data-dir DIR [--force] [--if-empty] [s3 flags]
    s3 flags: --s3-endpoint URL --s3-region REGION --s3-path-style --s3-credentials-dir DIR
              (DIR holds backup-access-key-id, backup-secret-access-key and optionally backup-ca.crt)
  dbserver --version
`

// run is main without the process: it returns the exit code.
func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	switch args[0] {
	case "--version", "-version", "version":
		fmt.Fprintln(stdout, "dbserver", version.String())
		return 0
	case "serve":
		return serveCmd(args[1:], stdout, stderr)
	case "check":
		return checkCmd(args[1:], stdout, stderr)
	case "backup":
		return backupCmd(args[1:], stdout, stderr)
	case "restore":
		return restoreCmd(args[1:], stdout, stderr)
	case "-h", "--help", "help":
		fmt.Fprint(stdout, usage)
		return 0
	}
	fmt.Fprintf(stderr, "unknown command %q\n%s", args[0], usage)
	return 2
}
