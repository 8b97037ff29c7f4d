package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"iter"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/restkube/restkube/dbserver/auth"
	"github.com/restkube/restkube/dbserver/backup"
	"github.com/restkube/restkube/dbserver/httpapi"
	"github.com/restkube/restkube/dbserver/media"
	"github.com/restkube/restkube/dbserver/realtime"
	"github.com/restkube/restkube/dbserver/settings"
	"github.com/restkube/restkube/dbserver/store"
	"github.com/restkube/restkube/internal/version"
)

// Timings of the process. On SIGTERM the server drains requests for up to 10 s (--shutdown-timeout).
const (
	configPollInterval = time.Second
	storeOpenTimeout   = 5 * time.Second
)

// serveFlags are the flags of `dbserver serve`.
type serveFlags struct {
	dataDir, configDir, listen, logLevel string
	pprofListen                          string
	drain                                time.Duration
	maxConns                             int
}

func serveCmd(args []string, stdout, stderr io.Writer) int {
	var f serveFlags
	flags := flag.NewFlagSet("serve", flag.ContinueOnError)
	flags.SetOutput(stderr)
	flags.StringVar(&f.dataDir, "data-dir", "data", "directory of the database file (and, standalone, of the generated keys)")
	flags.StringVar(&f.configDir, "config-dir", "", "directory of settings.json, api-key, signing-key, auth0-client-secret; empty runs standalone")
	flags.StringVar(&f.listen, "listen", ":8080", "address to serve the API on")
	flags.StringVar(&f.logLevel, "log-level", "info", "debug, info, warn or error")
	flags.DurationVar(&f.drain, "shutdown-timeout", 10*time.Second, "how long to drain requests on SIGTERM")
	flags.IntVar(&f.maxConns, "max-connections", httpapi.DefaultMaxConnections, "most connections open at once; beyond it a JSON 503 (0: no cap)")
	flags.StringVar(&f.pprofListen, "pprof-listen", "", "a loopback address to serve Go's profiles (/debug/pprof/) on; empty (the default) serves none")
	if err := flags.Parse(args); err != nil {
		return 2
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(f.logLevel)); err != nil {
		fmt.Fprintf(stderr, "invalid --log-level %q\n", f.logLevel)
		return 2
	}
	logger := slog.New(slog.NewJSONHandler(stderr, &slog.HandlerOptions{Level: level}))
	tuneGC(os.LookupEnv)
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	if err := serve(ctx, f, stdout, logger); err != nil {
		logger.Error("dbserver failed", "error", err.Error())
		return 1
	}
	return 0
}

// defaultGCPercent is the garbage collector's target unless GOGC says otherwise. The live heap
// of a dbserver is small (documents live in bbolt's mmap, not on the heap) while every request
// allocates, so Go's default of 100 collects very often: 400 cut the CPU of a loaded server by
// about a fifth (make bench: indexed queries +20%, creates +10%) for a peak heap of five times
// the live one. In a pod the operator sets GOMEMLIMIT from the memory limit, and the
// collector then runs early whenever the heap nears it.
const defaultGCPercent = 400

// tuneGC applies defaultGCPercent unless the environment sets GOGC.
func tuneGC(lookup func(string) (string, bool)) {
	if _, set := lookup("GOGC"); !set {
		debug.SetGCPercent(defaultGCPercent)
	}
}

// serve runs the server until ctx ends, then drains and closes the store.
func serve(ctx context.Context, f serveFlags, stdout io.Writer, logger *slog.Logger) error {
	if err := os.MkdirAll(f.dataDir, 0o700); err != nil {
		return fmt.Errorf("creating the data dir: %w", err)
	}
	src, err := configSource(f, stdout, logger)
	if err != nil {
		return err
	}
	if f.pprofListen != "" {
		stop, err := servePprof(f.pprofListen, logger)
		if err != nil {
			return err
		}
		defer stop()
	}
	reg := prometheus.NewRegistry()
	// The realtime hub hears every commit of the store; it serves /realtime while the settings
	// enable it, and takes in nothing otherwise.
	hub, err := realtime.New(realtime.Options{
		Enabled: func() bool { c := src.Current(); return c != nil && c.Settings.Realtime.Enabled },
		MaxSubscribers: func() int {
			if c := src.Current(); c != nil {
				return c.Settings.Realtime.MaxSubscribers
			}
			return settings.DefaultMaxSubscribers
		},
		Registerer: reg,
		Logger:     logger,
	})
	if err != nil {
		return fmt.Errorf("starting the realtime hub: %w", err)
	}
	defer hub.Close()
	st, err := store.Open(filepath.Join(f.dataDir, DataFile), store.Options{OpenTimeout: storeOpenTimeout, Logger: logger, OnCommit: hub.Commit})
	if err != nil {
		return fmt.Errorf("opening the database: %w", err)
	}
	// Closed last, after the HTTP server has drained, so no acknowledged write is cut short.
	defer func() {
		if err := st.Close(); err != nil {
			logger.Error("closing the database", "error", err.Error())
		}
	}()

	// Indexes follow the settings: built when declared, dropped when removed, also on reload.
	if err := syncIndexes(st, src.Current()); err != nil {
		return err
	}
	// On a reload they are synced by a goroutine of their own, so that building a large index
	// does not hold back the next reload; it works on the newest settings it has been given.
	latest := newLatest[*settings.Config]()
	go func() {
		for c := range latest.next(ctx) {
			if err := syncIndexes(st, c); err != nil {
				logger.Error("updating indexes after a settings change", "error", err.Error())
			}
		}
	}()
	src.OnChange(latest.set)

	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	reg.MustRegister(storeCollectors(st)...)
	// Files under <data-dir>/media, metadata in the store; Open sweeps what a crash left.
	archive, err := media.Open(media.Options{Dir: filepath.Join(f.dataDir, MediaDir), Store: st, Registry: reg, Logger: logger})
	if err != nil {
		return fmt.Errorf("opening the media archive: %w", err)
	}
	// Backups read their object store from the settings and its credentials from the config
	// dir; standalone, there is no object store, and the endpoint answers so.
	backups, err := backup.NewService(backup.ServiceOptions{
		CopyFile:       st.CopyFile,
		Activity:       st.Activity, // a backup pauses while the store works
		Media:          archive,     // Pin defers unlinks of deleted media until the copy is done
		Settings:       src.Current,
		CredentialsDir: f.configDir,
		Registry:       reg,
		Logger:         logger,
	})
	if err != nil {
		return err
	}
	// Runs before the store closes (defers run last-in first-out): a backup under way is cancelled.
	defer backups.Close()
	var draining atomic.Bool
	// Built whatever the settings say: it reads them on every call, so enabling auth later
	// (a settings reload) applies without a restart.
	users := auth.New(auth.Options{
		Config:      src.Current,
		Users:       auth.NewStoreUsers(st),
		Revocations: auth.NewStoreRevocations(st),
		Logger:      logger,
	})
	api, err := httpapi.New(httpapi.Options{
		Store:    st,
		Settings: src,
		Logger:   logger,
		Registry: reg,
		Auth:     users,
		Media:    archive,
		Realtime: hub,
		Backup:   backups,
		Ready: func() error {
			if draining.Load() {
				return errors.New("shutting down")
			}
			return nil
		},
	})
	if err != nil {
		return err
	}

	ln, err := net.Listen("tcp", f.listen)
	if err != nil {
		return fmt.Errorf("listening on %s: %w", f.listen, err)
	}
	ln = httpapi.LimitListener(ln, f.maxConns)
	srv := &http.Server{
		Handler:           api,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       60 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    httpapi.ServerMaxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
	// Streams never end by themselves: a graceful shutdown ends them first, or it would wait
	// the whole drain for them.
	srv.RegisterOnShutdown(hub.Close)
	go src.Run(ctx, configPollInterval)

	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	logger.Info("listening", "addr", ln.Addr().String(), "version", version.String(), "dataDir", f.dataDir, "configDir", f.configDir)
	if cfg := src.Current(); cfg != nil && cfg.Settings.ConsoleEnabled() {
		u := consoleURL(ln.Addr())
		if f.configDir == "" {
			// Standalone: tell the person who started it where to look.
			fmt.Fprintf(stdout, "Console: %s\n", u)
		}
		logger.Info("web console", "url", u)
	}

	select {
	case err := <-served:
		return fmt.Errorf("serving: %w", err)
	case <-ctx.Done():
	}
	draining.Store(true)
	logger.Info("shutting down: draining requests", "timeout", f.drain.String())
	shutdownCtx, cancel := context.WithTimeout(context.Background(), f.drain)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		// Requests still running after the drain are cut; their writes either committed or not.
		logger.Warn("drain timed out; closing remaining connections", "error", err.Error())
		_ = srv.Close()
	}
	logger.Info("stopped")
	return nil
}

// consoleURL is the web console's address on the listener addr: a wildcard address (":8080")
// is shown as localhost.
func consoleURL(addr net.Addr) string {
	host, port, err := net.SplitHostPort(addr.String())
	if err != nil {
		return "http://" + addr.String() + "/console/"
	}
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		host = "localhost"
	}
	return "http://" + net.JoinHostPort(host, port) + "/console/"
}

// latest hands the newest value set to one consumer: values set while the consumer is busy
// replace each other, and it gets only the last.
type latest[T any] struct {
	mu      sync.Mutex
	v       T
	pending bool
	wake    chan struct{}
}

func newLatest[T any]() *latest[T] { return &latest[T]{wake: make(chan struct{}, 1)} }

func (l *latest[T]) set(v T) {
	l.mu.Lock()
	l.v, l.pending = v, true
	l.mu.Unlock()
	select {
	case l.wake <- struct{}{}:
	default:
	}
}

// next yields each newest value until ctx ends.
func (l *latest[T]) next(ctx context.Context) iter.Seq[T] {
	return func(yield func(T) bool) {
		for {
			select {
			case <-ctx.Done():
				return
			case <-l.wake:
			}
			l.mu.Lock()
			v, ok := l.v, l.pending
			l.pending = false
			l.mu.Unlock()
			if ok && !yield(v) {
				return
			}
		}
	}
}

// storeCollectors expose the store's group commit: commits (one fsync each) and the writes
// they carried; writes/commits is how many writers share an fsync.
func storeCollectors(st *store.Store) []prometheus.Collector {
	return []prometheus.Collector{
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Namespace: "restkube", Name: "store_commits_total",
			Help: "Write transactions committed to the database file (each one fsync).",
		}, func() float64 { return float64(st.Stats().Commits) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Namespace: "restkube", Name: "store_writes_total",
			Help: "Write requests (an insert, bulk or not, an update, a delete) acknowledged as committed; divided by commits, the writers per fsync.",
		}, func() float64 { return float64(st.Stats().Writes) }),
	}
}

// configSource reads the config dir, or in standalone mode makes a fixed config from keys kept
// in the data dir (generated on first start).
func configSource(f serveFlags, stdout io.Writer, logger *slog.Logger) (*settings.Source, error) {
	if f.configDir != "" {
		return settings.NewSource(f.configDir, logger)
	}
	apiKey, created, err := ensureKey(filepath.Join(f.dataDir, settings.APIKeyFile))
	if err != nil {
		return nil, err
	}
	if created {
		// Printed once, to stdout only: it is never logged.
		fmt.Fprintf(stdout, "API key: %s\n", apiKey)
		logger.Info("standalone mode: generated the full-access API key (printed once on stdout)", "file", filepath.Join(f.dataDir, settings.APIKeyFile))
	}
	signingKey, _, err := ensureKey(filepath.Join(f.dataDir, settings.SigningKeyFile))
	if err != nil {
		return nil, err
	}
	return settings.StaticSource(&settings.Config{APIKey: apiKey, SigningKey: signingKey}), nil
}

// ensureKey returns the key in path, creating it (32 random bytes as hex, mode 0600) when the
// file does not exist. created tells whether it was just made.
func ensureKey(path string) (key string, created bool, err error) {
	b, err := os.ReadFile(path)
	switch {
	case err == nil:
		key = strings.TrimSpace(string(b))
		if key == "" {
			return "", false, fmt.Errorf("key file %s is empty", path)
		}
		return key, false, nil
	case !errors.Is(err, fs.ErrNotExist):
		return "", false, fmt.Errorf("reading key file: %w", err)
	}
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		return "", false, fmt.Errorf("generating a key: %w", err)
	}
	key = hex.EncodeToString(raw)
	// O_EXCL: two processes starting at once cannot both write a key and disagree on it.
	fh, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return "", false, fmt.Errorf("creating key file: %w", err)
	}
	// A half-written key file must not survive: the next start would read it as the key.
	fail := func(what string, err error) (string, bool, error) {
		_ = fh.Close()
		_ = os.Remove(path)
		return "", false, fmt.Errorf("%s key file: %w", what, err)
	}
	if _, err := fh.WriteString(key + "\n"); err != nil {
		return fail("writing", err)
	}
	if err := fh.Sync(); err != nil {
		return fail("syncing", err)
	}
	if err := fh.Close(); err != nil {
		_ = os.Remove(path)
		return "", false, fmt.Errorf("closing key file: %w", err)
	}
	return key, true, nil
}

// syncIndexes makes the store's secondary indexes those that cfg's collections declare.
func syncIndexes(st *store.Store, cfg *settings.Config) error {
	want := map[string][]string{}
	for _, c := range cfg.Settings.Collections {
		if len(c.Indexes) > 0 {
			want[c.Name] = c.Indexes
		}
	}
	if err := st.SetIndexes(want); err != nil {
		return fmt.Errorf("building indexes: %w", err)
	}
	return nil
}
