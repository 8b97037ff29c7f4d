package backup

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/restkube/restkube/dbserver/settings"
)

// The phases of a Run.
const (
	PhaseRunning   = "Running"
	PhaseCompleted = "Completed"
	PhaseFailed    = "Failed"
)

var (
	// ErrNotConfigured is returned by Start when settings.json names no object store.
	ErrNotConfigured = errors.New("no object store is configured for backups (backup.objectStore in settings.json)")
	// ErrBusy is returned by Start while another backup runs.
	ErrBusy = errors.New("a backup is already running")
)

// keptRuns is how many runs the service remembers (the admin endpoint's history).
const keptRuns = 20

// Run is one backup the service took or is taking.
type Run struct {
	ID        string     `json:"id"`
	Phase     string     `json:"phase"`
	Started   time.Time  `json:"started"`
	Ended     *time.Time `json:"ended,omitempty"`
	Bucket    string     `json:"bucket,omitempty"`
	Key       string     `json:"key,omitempty"`
	Size      int64      `json:"size,omitempty"`
	Documents int64      `json:"documents,omitempty"`
	Files     int        `json:"files,omitempty"`
	// Deleted counts the older backups retention removed after this one.
	Deleted int    `json:"deleted,omitempty"`
	Error   string `json:"error,omitempty"`
}

// ServiceOptions configure NewService. CopyFile and Settings are required.
type ServiceOptions struct {
	// CopyFile gives a consistent copy of the database file ((*store.Store).CopyFile).
	CopyFile CopyFunc
	// Activity grows while the database works (see WriteOptions.Activity); nil: backups
	// never pause.
	Activity func() int64
	// Media is the media directory to include; nil includes none.
	Media MediaSource
	// Settings returns the config in force; its Backup section says where backups go.
	Settings func() *settings.Config
	// CredentialsDir holds the object store's credential files (the config dir).
	CredentialsDir string
	// Registry receives the backup metrics; nil registers none.
	Registry prometheus.Registerer
	// Logger receives one line per backup; default discards.
	Logger *slog.Logger
	// Now is the clock; default time.Now.
	Now func() time.Time
}

// Service takes backups to the configured object store one at a time, applies retention after
// each successful one, and remembers the last runs.
type Service struct {
	opts    ServiceOptions
	log     *slog.Logger
	now     func() time.Time
	metrics *metrics
	ctx     context.Context
	cancel  context.CancelFunc
	wg      sync.WaitGroup

	mu        sync.Mutex
	runs      []Run // oldest first
	running   bool
	lastStart time.Time
}

// NewService builds the service; Close stops a backup under way.
func NewService(opts ServiceOptions) (*Service, error) {
	if opts.CopyFile == nil || opts.Settings == nil {
		return nil, errors.New("backup: CopyFile and Settings are required")
	}
	s := &Service{opts: opts, log: opts.Logger, now: opts.Now}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.now == nil {
		s.now = time.Now
	}
	m, err := newMetrics(opts.Registry)
	if err != nil {
		return nil, err
	}
	s.metrics = m
	s.ctx, s.cancel = context.WithCancel(context.Background())
	return s, nil
}

// Close cancels a backup under way and waits for it to end.
func (s *Service) Close() {
	s.cancel()
	s.wg.Wait()
}

// Start begins a backup to the configured object store and returns its run at once.
func (s *Service) Start() (Run, error) {
	cfg := s.opts.Settings()
	if cfg == nil || cfg.Settings.Backup.ObjectStore == nil {
		return Run{}, ErrNotConfigured
	}
	b := cfg.Settings.Backup
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.running {
		return Run{}, ErrBusy
	}
	if s.ctx.Err() != nil {
		return Run{}, errors.New("backup: the service is shutting down")
	}
	// Strictly after the last one: keys sort by start time, which retention relies on.
	started := s.now().UTC().Truncate(time.Millisecond)
	if !started.After(s.lastStart) {
		started = s.lastStart.Add(time.Millisecond)
	}
	s.lastStart = started
	id := newID(started)
	run := Run{ID: id, Phase: PhaseRunning, Started: started, Bucket: b.ObjectStore.Bucket, Key: b.ObjectStore.Prefix + id + ".tar.zst"}
	s.runs = append(s.runs, run)
	if len(s.runs) > keptRuns {
		s.runs = slices.Delete(s.runs, 0, len(s.runs)-keptRuns)
	}
	s.running = true
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		s.finish(s.take(run, b))
	}()
	return run, nil
}

// Runs returns the remembered runs, newest first.
func (s *Service) Runs() []Run {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Run, 0, len(s.runs))
	for i := len(s.runs) - 1; i >= 0; i-- {
		out = append(out, s.runs[i])
	}
	return out
}

// ObjectStore returns the object store backups go to under the settings in force, or nil
// when none is configured (Start then fails with ErrNotConfigured).
func (s *Service) ObjectStore() *settings.ObjectStore {
	cfg := s.opts.Settings()
	if cfg == nil {
		return nil
	}
	return cfg.Settings.Backup.ObjectStore
}

// Get returns the run with id.
func (s *Service) Get(id string) (Run, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, r := range s.runs {
		if r.ID == id {
			return r, true
		}
	}
	return Run{}, false
}

func (s *Service) finish(run Run) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.running = false
	for i := range s.runs {
		if s.runs[i].ID == run.ID {
			s.runs[i] = run
		}
	}
}

// take runs one backup and returns its final state.
func (s *Service) take(run Run, b settings.Backup) Run {
	fail := func(err error, redact func(string) string) Run {
		ended := s.now().UTC()
		run.Phase, run.Ended, run.Error = PhaseFailed, &ended, redact(err.Error())
		s.metrics.failures.Inc()
		s.log.Error("backup failed", "id", run.ID, "error", run.Error)
		return run
	}
	cfg, err := LoadStoreConfig(*b.ObjectStore, s.opts.CredentialsDir)
	if err != nil {
		return fail(err, func(m string) string { return m })
	}
	bucket, err := NewBucket(cfg)
	if err != nil {
		return fail(err, cfg.redact)
	}
	s.log.Info("backup started", "id", run.ID, "store", cfg, "key", run.Key)
	database := b.Database
	if database == "" {
		database = "restkube"
	}
	// The archive streams through a pipe into the upload: neither side holds more than a
	// part of it.
	pr, pw := io.Pipe()
	var m Manifest
	var werr error
	done := make(chan struct{})
	go func() {
		defer close(done)
		m, werr = Write(s.ctx, pw, s.opts.CopyFile, WriteOptions{Database: database, Media: s.opts.Media, Now: s.now, Nice: BackgroundNice, Activity: s.opts.Activity})
		_ = pw.CloseWithError(werr)
	}()
	size, err := bucket.Put(s.ctx, run.Key, pr)
	_ = pr.CloseWithError(errors.New("upload ended"))
	<-done
	if werr != nil {
		return fail(werr, cfg.redact)
	}
	if err != nil {
		return fail(err, cfg.redact)
	}
	ended := s.now().UTC()
	run.Phase, run.Ended, run.Size, run.Documents, run.Files = PhaseCompleted, &ended, size, m.Documents, m.Files
	s.metrics.succeeded(ended, ended.Sub(run.Started), size)
	s.log.Info("backup completed", "id", run.ID, "key", run.Key, "bytes", size, "documents", m.Documents, "files", m.Files, "duration", ended.Sub(run.Started).String())

	deleted, err := ApplyRetention(s.ctx, bucket, b.ObjectStore.Prefix, b.Retention, run.Key, ended)
	run.Deleted = deleted
	s.metrics.retained.Add(float64(deleted))
	if err != nil {
		// The backup itself is good; a retention failure is retried after the next one.
		run.Error = "retention: " + cfg.redact(err.Error())
		s.log.Error("applying backup retention", "error", run.Error)
	}
	return run
}

// backupKey matches the keys this package writes under a prefix (newID + ".tar.zst").
var backupKey = regexp.MustCompile(`^(\d{8}T\d{6}\.\d{3}Z)-[0-9a-f]{6}\.tar\.zst$`)

// ApplyRetention deletes the backups under prefix that r no longer keeps (see Expired). It
// returns how many it deleted.
func ApplyRetention(ctx context.Context, b *Bucket, prefix string, r settings.Retention, newest string, now time.Time) (int, error) {
	if r.KeepLast == 0 && r.MaxAgeDays == 0 {
		return 0, nil
	}
	objs, err := b.List(ctx, prefix)
	if err != nil {
		return 0, err
	}
	keys := make([]string, 0, len(objs))
	for _, o := range objs {
		keys = append(keys, o.Key)
	}
	deleted := 0
	var errs []error
	for _, key := range Expired(prefix, keys, r, newest, now) {
		if err := b.Delete(ctx, key); err != nil {
			errs = append(errs, err)
			continue
		}
		deleted++
	}
	return deleted, errors.Join(errs...)
}

// Expired returns the keys among keys (object keys under prefix) that retention r no longer
// keeps: those beyond the newest KeepLast and those older than MaxAgeDays (by the time in
// their key). It never returns newest (the backup just taken), the newest key of all, nor a
// key this package did not write. The operator applies the same rule to DatabaseBackups, so
// that an object never outlives its archive.
func Expired(prefix string, keys []string, r settings.Retention, newest string, now time.Time) []string {
	if r.KeepLast == 0 && r.MaxAgeDays == 0 {
		return nil
	}
	type backup struct {
		key string
		at  time.Time
	}
	var backups []backup
	for _, key := range keys {
		rest, ok := strings.CutPrefix(key, prefix)
		if !ok {
			continue
		}
		sm := backupKey.FindStringSubmatch(rest)
		if sm == nil {
			continue
		}
		at, err := time.Parse(idTime, sm[1])
		if err != nil {
			continue
		}
		backups = append(backups, backup{key: key, at: at})
	}
	// Newest first: the service gives each backup a later millisecond than the one before.
	slices.SortFunc(backups, func(a, b backup) int { return strings.Compare(b.key, a.key) })
	var out []string
	for i, bk := range backups {
		expired := (r.KeepLast > 0 && i >= r.KeepLast) ||
			(r.MaxAgeDays > 0 && now.Sub(bk.at) > time.Duration(r.MaxAgeDays)*24*time.Hour)
		if expired && bk.key != newest && i != 0 {
			out = append(out, bk.key)
		}
	}
	return out
}

// metrics are the backup series of /metrics.
type metrics struct {
	lastSuccess, lastDuration, lastSize prometheus.Gauge
	failures, successes, retained       prometheus.Counter
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		lastSuccess: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: "restkube", Name: "backup_last_success_timestamp_seconds",
			Help: "When the last successful backup ended (Unix time); 0 before the first."}),
		lastDuration: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: "restkube", Name: "backup_last_duration_seconds",
			Help: "How long the last successful backup took."}),
		lastSize: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: "restkube", Name: "backup_last_size_bytes",
			Help: "Size of the last successful backup's archive."}),
		failures: prometheus.NewCounter(prometheus.CounterOpts{Namespace: "restkube", Name: "backup_failures_total",
			Help: "Backups that failed."}),
		successes: prometheus.NewCounter(prometheus.CounterOpts{Namespace: "restkube", Name: "backup_successes_total",
			Help: "Backups that completed."}),
		retained: prometheus.NewCounter(prometheus.CounterOpts{Namespace: "restkube", Name: "backup_retention_deleted_total",
			Help: "Old backups deleted by retention."}),
	}
	if reg == nil {
		return m, nil
	}
	for _, c := range []prometheus.Collector{m.lastSuccess, m.lastDuration, m.lastSize, m.failures, m.successes, m.retained} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("backup: registering metrics: %w", err)
		}
	}
	return m, nil
}

func (m *metrics) succeeded(at time.Time, d time.Duration, size int64) {
	m.successes.Inc()
	m.lastSuccess.Set(float64(at.UnixNano()) / 1e9)
	m.lastDuration.Set(d.Seconds())
	m.lastSize.Set(float64(size))
}
