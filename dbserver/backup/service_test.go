package backup

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/restkube/restkube/dbserver/settings"
	"github.com/restkube/restkube/internal/s3test"
)

// syncBuffer is a log sink the service's goroutine and the test share.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// clock is a settable clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

type serviceEnv struct {
	svc   *Service
	s3    *s3test.Server
	logs  *syncBuffer
	clock *clock
	reg   *prometheus.Registry
	cfg   *settings.Config
	dir   string
}

func newServiceEnv(t *testing.T, b settings.Backup) *serviceEnv {
	t.Helper()
	s3 := s3test.Start(t, "backups")
	e := &serviceEnv{s3: s3, logs: &syncBuffer{}, clock: &clock{t: time.Date(2026, 1, 1, 3, 0, 0, 0, time.UTC)}, reg: prometheus.NewRegistry(), dir: t.TempDir()}
	st := openStore(t, e.dir)
	insert(t, st, "notes", 20)
	writeFile(t, filepath.Join(e.dir, MediaDir, "cat.png"), "meow")
	creds := t.TempDir()
	s3.WriteCredentials(t, creds)
	if b.ObjectStore != nil {
		b.ObjectStore.Endpoint = s3.Endpoint
	}
	e.cfg = &settings.Config{Settings: settings.Settings{Backup: b}}
	if err := e.cfg.Settings.Validate(); err != nil {
		t.Fatal(err)
	}
	svc, err := NewService(ServiceOptions{
		CopyFile: st.CopyFile, Media: DirMedia(filepath.Join(e.dir, MediaDir)),
		Settings: func() *settings.Config { return e.cfg }, CredentialsDir: creds,
		Registry: e.reg, Logger: slog.New(slog.NewJSONHandler(e.logs, nil)), Now: e.clock.now,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(svc.Close)
	e.svc = svc
	return e
}

// take starts a backup and waits for its end.
func (e *serviceEnv) take(t *testing.T) Run {
	t.Helper()
	run, err := e.svc.Start()
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if r, ok := e.svc.Get(run.ID); ok && r.Phase != PhaseRunning {
			return r
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("backup %s did not end within 30s", run.ID)
	return Run{}
}

func store1(prefix string, keep, days int) settings.Backup {
	return settings.Backup{
		Database:    "notes-db",
		ObjectStore: &settings.ObjectStore{Bucket: "backups", Prefix: prefix, PathStyle: true},
		Retention:   settings.Retention{KeepLast: keep, MaxAgeDays: days},
	}
}

func TestServiceBacksUpToTheObjectStoreAndRestores(t *testing.T) {
	e := newServiceEnv(t, store1("apps/notes/", 0, 0))
	run := e.take(t)
	if run.Phase != PhaseCompleted || run.Error != "" {
		t.Fatalf("run = %+v", run)
	}
	if !strings.HasPrefix(run.Key, "apps/notes/20260101T030000.000Z-") || run.Documents != 20 || run.Files != 1 || run.Size <= 0 {
		t.Fatalf("run = %+v", run)
	}
	if keys := e.s3.Keys(t, "backups", "apps/notes/"); len(keys) != 1 || keys[0] != run.Key {
		t.Fatalf("objects = %v, want [%s]", keys, run.Key)
	}
	// Restored from the store through the same client the restore command uses.
	if _, err := LoadStoreConfig(*e.cfg.Settings.Backup.ObjectStore, t.TempDir()); err == nil {
		t.Fatal("credentials were read from a directory that holds none")
	}
	creds := t.TempDir()
	e.s3.WriteCredentials(t, creds)
	cfg, err := LoadStoreConfig(*e.cfg.Settings.Backup.ObjectStore, creds)
	if err != nil {
		t.Fatal(err)
	}
	b, err := NewBucket(cfg)
	if err != nil {
		t.Fatal(err)
	}
	r, err := b.Get(context.Background(), run.Key)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = r.Close() }()
	dest := t.TempDir()
	m, err := Restore(context.Background(), r, dest, RestoreOptions{})
	if err != nil || m.Documents != 20 || m.Files != 1 {
		t.Fatalf("restore: %+v, %v", m, err)
	}
	if got, _ := os.ReadFile(filepath.Join(dest, MediaDir, "cat.png")); string(got) != "meow" {
		t.Fatalf("media = %q", got)
	}
	if _, err := b.Get(context.Background(), "apps/notes/nothing-here.tar.zst"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("a missing object: %v, want ErrNotFound", err)
	}

	if got := testutil.ToFloat64(e.svc.metrics.lastSuccess); got != float64(run.Ended.Unix()) {
		t.Errorf("last success metric = %v, want %v", got, run.Ended.Unix())
	}
	if got := testutil.ToFloat64(e.svc.metrics.lastSize); got != float64(run.Size) {
		t.Errorf("last size metric = %v, want %v", got, run.Size)
	}
	if n, err := testutil.GatherAndCount(e.reg, "restkube_backup_failures_total", "restkube_backup_last_duration_seconds"); err != nil || n != 2 {
		t.Errorf("metrics registered: %d, %v", n, err)
	}
	if !strings.Contains(e.logs.String(), "backup completed") {
		t.Errorf("no log line for the backup: %s", e.logs)
	}
}

func TestRetentionKeepsTheNewestAndLeavesForeignObjects(t *testing.T) {
	e := newServiceEnv(t, store1("db/", 2, 0))
	if _, err := e.s3.Client.PutObject(context.Background(), "backups", "db/notes-by-hand.txt", strings.NewReader("mine"), 4, minio.PutObjectOptions{}); err != nil {
		t.Fatal(err)
	}
	var runs []Run
	for range 4 {
		runs = append(runs, e.take(t))
		e.clock.add(time.Hour)
	}
	keys := e.s3.Keys(t, "backups", "db/")
	want := []string{runs[2].Key, runs[3].Key, "db/notes-by-hand.txt"}
	if strings.Join(keys, ",") != strings.Join(want, ",") {
		t.Fatalf("objects = %v, want %v", keys, want)
	}
	if runs[2].Deleted != 1 || runs[3].Deleted != 1 {
		t.Fatalf("deleted per run: %d, %d; want 1, 1", runs[2].Deleted, runs[3].Deleted)
	}
	if got := testutil.ToFloat64(e.svc.metrics.retained); got != 2 {
		t.Fatalf("retention metric = %v, want 2", got)
	}

	// By age: with 2 days, a backup taken 3 days later removes all but itself.
	e.cfg.Settings.Backup.Retention = settings.Retention{MaxAgeDays: 2}
	e.clock.add(72 * time.Hour)
	last := e.take(t)
	keys = e.s3.Keys(t, "backups", "db/")
	if strings.Join(keys, ",") != last.Key+",db/notes-by-hand.txt" {
		t.Fatalf("objects after the age limit = %v", keys)
	}
}

func TestFailuresAreRecordedWithoutCredentials(t *testing.T) {
	e := newServiceEnv(t, store1("x/", 0, 0))
	e.cfg.Settings.Backup.ObjectStore.Bucket = "no-such-bucket"
	run := e.take(t)
	if run.Phase != PhaseFailed || run.Error == "" {
		t.Fatalf("run = %+v", run)
	}
	if got := testutil.ToFloat64(e.svc.metrics.failures); got != 1 {
		t.Fatalf("failures = %v", got)
	}
	// Wrong credentials: the store's answer must not bring them into the status or the logs.
	creds := e.svc.opts.CredentialsDir
	writeFile(t, filepath.Join(creds, settings.BackupSecretKeyFile), "Wrong-Secret-Value-xyz")
	e.cfg.Settings.Backup.ObjectStore.Bucket = "backups"
	run = e.take(t)
	if run.Phase != PhaseFailed {
		t.Fatalf("run with a wrong secret = %+v", run)
	}
	for _, secret := range []string{e.s3.SecretAccessKey, "Wrong-Secret-Value-xyz", e.s3.AccessKeyID} {
		if strings.Contains(run.Error, secret) || strings.Contains(e.logs.String(), secret) {
			t.Fatalf("a credential appears in the status or logs:\n%s\n%s", run.Error, e.logs)
		}
	}
	// One at a time, and none without an object store.
	e.cfg.Settings.Backup.ObjectStore = nil
	if _, err := e.svc.Start(); !errors.Is(err, ErrNotConfigured) {
		t.Fatalf("Start without a store: %v", err)
	}
}

func TestExpired(t *testing.T) {
	const p = "restkube/apps/todo/"
	keys := []string{
		p + "20260101T030000.000Z-aaaaaa.tar.zst",
		p + "20260102T030000.000Z-bbbbbb.tar.zst",
		p + "20260103T030000.000Z-cccccc.tar.zst",
		p + "20260104T030000.000Z-dddddd.tar.zst",
		p + "notes.txt", // not ours: never touched
		"other/20260101T030000.000Z-eeeeee.tar.zst",      // another prefix
		p + "nested/20260101T030000.000Z-ffffff.tar.zst", // not directly under the prefix
	}
	now, _ := time.Parse(time.RFC3339, "2026-01-04T04:00:00Z")
	cases := map[string]struct {
		r      settings.Retention
		newest string
		want   []string
	}{
		"no retention keeps all":  {settings.Retention{}, keys[3], nil},
		"keep the last two":       {settings.Retention{KeepLast: 2}, keys[3], []string{keys[1], keys[0]}},
		"older than two days":     {settings.Retention{MaxAgeDays: 2}, keys[3], []string{keys[1], keys[0]}},
		"either rule deletes":     {settings.Retention{KeepLast: 3, MaxAgeDays: 2}, keys[3], []string{keys[1], keys[0]}},
		"the newest is never due": {settings.Retention{KeepLast: 1, MaxAgeDays: 1}, keys[3], []string{keys[2], keys[1], keys[0]}},
		"nor the one just taken":  {settings.Retention{KeepLast: 1}, keys[2], []string{keys[1], keys[0]}},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			got := Expired(p, keys, c.r, c.newest, now)
			if strings.Join(got, ",") != strings.Join(c.want, ",") {
				t.Fatalf("Expired = %v, want %v", got, c.want)
			}
		})
	}
}
