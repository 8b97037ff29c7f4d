package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/restkube/restkube/dbserver/backup"
	"github.com/restkube/restkube/dbserver/settings"
	"github.com/restkube/restkube/dbserver/store"
)

// s3Flags name an object store on the command line; the bucket comes from the s3:// URL.
type s3Flags struct {
	endpoint, region, credentialsDir string
	pathStyle                        bool
}

func (f *s3Flags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.endpoint, "s3-endpoint", "", "object store URL (default "+backup.DefaultEndpoint+")")
	fs.StringVar(&f.region, "s3-region", "", "object store region (default us-east-1)")
	fs.BoolVar(&f.pathStyle, "s3-path-style", false, "address the bucket in the path, as most self-hosted stores need")
	fs.StringVar(&f.credentialsDir, "s3-credentials-dir", "", "directory of "+settings.BackupAccessKeyFile+", "+settings.BackupSecretKeyFile+" and optionally "+settings.BackupCAFile)
}

// bucket opens the store an s3:// URL names and returns it with the object key.
func (f *s3Flags) bucket(url string) (*backup.Bucket, string, error) {
	name, key, err := backup.ParseS3URL(url)
	if err != nil {
		return nil, "", err
	}
	if f.credentialsDir == "" {
		return nil, "", errors.New("--s3-credentials-dir is required for an s3:// URL")
	}
	objStore := settings.ObjectStore{Bucket: name, Endpoint: f.endpoint, Region: f.region, PathStyle: f.pathStyle}
	probe := settings.Settings{Backup: settings.Backup{ObjectStore: &objStore}}
	if err := probe.Validate(); err != nil {
		return nil, "", err
	}
	cfg, err := backup.LoadStoreConfig(objStore, f.credentialsDir)
	if err != nil {
		return nil, "", err
	}
	b, err := backup.NewBucket(cfg)
	return b, key, err
}

func backupCmd(args []string, stdout, stderr io.Writer) int {
	var dataDir, to, database string
	var s3 s3Flags
	fs := flag.NewFlagSet("backup", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&dataDir, "data-dir", "data", "data dir of a stopped database (a running one is backed up through its admin endpoint)")
	fs.StringVar(&to, "to", "", "archive to write: a file (.tar.zst) or s3://bucket/key")
	fs.StringVar(&database, "database", "", "database name for the manifest (default: the data dir's name)")
	s3.register(fs)
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if to == "" || fs.NArg() > 0 {
		fmt.Fprintln(stderr, "backup: --to is required, and no arguments are taken")
		return 2
	}
	if database == "" {
		abs, _ := filepath.Abs(dataDir)
		database = filepath.Base(abs)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	dbPath := filepath.Join(dataDir, DataFile)
	if _, err := os.Stat(dbPath); err != nil {
		fmt.Fprintf(stderr, "backup: no database in %s: %v\n", dataDir, err)
		return 1
	}
	copyFile := func(fn func(*store.FileCopy) error) error {
		return store.CopyClosedFile(dbPath, storeOpenTimeout, fn)
	}
	opts := backup.WriteOptions{Database: database, Media: backup.DirMedia(filepath.Join(dataDir, backup.MediaDir))}
	var m backup.Manifest
	var err error
	if strings.HasPrefix(to, "s3://") {
		m, err = backupToS3(ctx, &s3, to, func(w io.Writer) (backup.Manifest, error) { return backup.Write(ctx, w, copyFile, opts) })
	} else {
		m, err = backup.WriteFile(ctx, to, copyFile, opts)
	}
	if err != nil {
		// The backup package's errors name it already; the store's do not.
		msg := err.Error()
		if !strings.HasPrefix(msg, "backup: ") {
			msg = "backup: " + msg
		}
		fmt.Fprintln(stderr, msg)
		return 1
	}
	fmt.Fprintf(stdout, "backed up %s: %d documents, %d media files to %s\n", database, m.Documents, m.Files, to)
	return 0
}

func backupToS3(ctx context.Context, s3 *s3Flags, url string, write func(io.Writer) (backup.Manifest, error)) (backup.Manifest, error) {
	b, key, err := s3.bucket(url)
	if err != nil {
		return backup.Manifest{}, err
	}
	pr, pw := io.Pipe()
	var m backup.Manifest
	var werr error
	done := make(chan struct{})
	go func() {
		defer close(done)
		m, werr = write(pw)
		_ = pw.CloseWithError(werr)
	}()
	_, err = b.Put(ctx, key, pr)
	_ = pr.CloseWithError(errors.New("upload ended"))
	<-done
	if werr != nil {
		return backup.Manifest{}, werr
	}
	return m, err
}

func restoreCmd(args []string, stdout, stderr io.Writer) int {
	var dataDir, from string
	var force, ifEmpty bool
	var s3 s3Flags
	fs := flag.NewFlagSet("restore", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&dataDir, "data-dir", "data", "data dir to restore into; must not hold a database unless --force")
	fs.StringVar(&from, "from", "", "archive to restore: a file or s3://bucket/key")
	fs.BoolVar(&force, "force", false, "replace the database in the data dir (after the archive is verified)")
	fs.BoolVar(&ifEmpty, "if-empty", false, "do nothing when the data dir already holds a database (a restore that ran before)")
	s3.register(fs)
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if from == "" || fs.NArg() > 0 || (force && ifEmpty) {
		fmt.Fprintln(stderr, "restore: --from is required, --force and --if-empty exclude each other, and no arguments are taken")
		return 2
	}
	if ifEmpty {
		if _, err := os.Stat(filepath.Join(dataDir, DataFile)); err == nil {
			if _, err := os.Stat(filepath.Join(dataDir, ".restore-incomplete")); err != nil {
				fmt.Fprintf(stdout, "restore: %s already holds a database; nothing to do\n", dataDir)
				return 0
			}
		}
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	logger := slog.New(slog.NewJSONHandler(stderr, nil))
	var r io.ReadCloser
	if strings.HasPrefix(from, "s3://") {
		b, key, err := s3.bucket(from)
		if err == nil {
			r, err = b.Get(ctx, key)
		}
		if err != nil {
			return restoreFailed(stderr, err)
		}
	} else {
		f, err := os.Open(from)
		if err != nil {
			return restoreFailed(stderr, err)
		}
		r = f
	}
	defer func() { _ = r.Close() }()
	m, err := backup.Restore(ctx, r, dataDir, backup.RestoreOptions{Force: force, Logger: logger})
	if err != nil {
		return restoreFailed(stderr, err)
	}
	fmt.Fprintf(stdout, "restored %s (backup of %s): %d documents, %d media files into %s\n",
		m.Database, m.Created.Format("2006-01-02T15:04:05Z07:00"), m.Documents, m.Files, dataDir)
	return 0
}

// restoreFailed reports err on stderr and in the termination message, where the operator
// reads why a bootstrap from a backup failed.
func restoreFailed(stderr io.Writer, err error) int {
	fmt.Fprintf(stderr, "restore: %v\n", err)
	if f, ferr := os.OpenFile("/dev/termination-log", os.O_WRONLY|os.O_TRUNC, 0); ferr == nil {
		fmt.Fprintf(f, "restore: %v\n", err)
		_ = f.Close()
	}
	return 1
}
