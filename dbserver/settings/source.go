package settings

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// The files of the pod contract under --config-dir.
const (
	SettingsFile     = "settings.json"
	APIKeyFile       = "api-key"
	SigningKeyFile   = "signing-key"
	ClientSecretFile = "auth0-client-secret"

	// The object store's credentials for backups (see Backup); read at each backup, so a
	// rotated Secret applies to the next one.
	BackupAccessKeyFile = "backup-access-key-id"
	BackupSecretKeyFile = "backup-secret-access-key"
	BackupCAFile        = "backup-ca.crt"
)

// Config is everything the dbserver reads from its config dir.
type Config struct {
	Settings     Settings
	APIKey       string
	SigningKey   string
	ClientSecret string
}

// LoadDir reads and validates the config dir. settings.json and auth0-client-secret may be
// absent; api-key and signing-key must hold a key. The returned settings have defaults applied.
func LoadDir(dir string) (*Config, error) {
	files, err := readFiles(dir)
	if err != nil {
		return nil, err
	}
	return parseFiles(files)
}

func parseFiles(files map[string][]byte) (*Config, error) {
	s, err := Parse(files[SettingsFile])
	if err != nil {
		return nil, err
	}
	cfg := &Config{
		Settings:     s.WithDefaults(),
		APIKey:       strings.TrimSpace(string(files[APIKeyFile])),
		SigningKey:   strings.TrimSpace(string(files[SigningKeyFile])),
		ClientSecret: strings.TrimSpace(string(files[ClientSecretFile])),
	}
	var errs []error
	if cfg.APIKey == "" {
		errs = append(errs, fmt.Errorf("%s: missing or empty", APIKeyFile))
	}
	if cfg.SigningKey == "" {
		errs = append(errs, fmt.Errorf("%s: missing or empty", SigningKeyFile))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return cfg, nil
}

// readFiles reads the contract's files, following symlinks (the kubelet's ..data swap).
func readFiles(dir string) (map[string][]byte, error) {
	files := map[string][]byte{}
	for _, name := range []string{SettingsFile, APIKeyFile, SigningKeyFile, ClientSecretFile} {
		data, err := os.ReadFile(filepath.Join(dir, name))
		switch {
		case errors.Is(err, fs.ErrNotExist):
			continue
		case err != nil:
			return nil, fmt.Errorf("reading %s: %w", name, err)
		}
		files[name] = data
	}
	return files, nil
}

func fingerprint(files map[string][]byte) [sha256.Size]byte {
	h := sha256.New()
	for _, name := range []string{SettingsFile, APIKeyFile, SigningKeyFile, ClientSecretFile} {
		data, ok := files[name]
		fmt.Fprintf(h, "%s:%t:%d:", name, ok, len(data))
		h.Write(data)
	}
	var sum [sha256.Size]byte
	copy(sum[:], h.Sum(nil))
	return sum
}

// Source holds the config in force and reloads it when the files change. Readers never block:
// Current is one atomic load.
type Source struct {
	dir    string
	logger *slog.Logger
	cur    atomic.Pointer[Config]

	mu       sync.Mutex // serializes reloads
	lastSeen [sha256.Size]byte
	onChange []func(*Config)
}

// NewSource loads dir once; that first load must succeed.
func NewSource(dir string, logger *slog.Logger) (*Source, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	s := &Source{dir: dir, logger: logger}
	files, err := readFiles(dir)
	if err != nil {
		return nil, err
	}
	cfg, err := parseFiles(files)
	if err != nil {
		return nil, fmt.Errorf("config dir %s: %w", dir, err)
	}
	s.cur.Store(cfg)
	s.lastSeen = fingerprint(files)
	return s, nil
}

// StaticSource serves a fixed config (standalone mode and tests). Defaults are applied.
func StaticSource(cfg *Config) *Source {
	c := *cfg
	c.Settings = c.Settings.WithDefaults()
	s := &Source{logger: slog.New(slog.DiscardHandler)}
	s.cur.Store(&c)
	return s
}

// Current is the last good config. Callers must not modify it.
func (s *Source) Current() *Config { return s.cur.Load() }

// Set replaces the config in force (defaults applied) and notifies subscribers; tests use it.
func (s *Source) Set(cfg *Config) {
	c := *cfg
	c.Settings = c.Settings.WithDefaults()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.cur.Store(&c)
	s.notify(&c)
}

// OnChange registers fn to run after every successful reload.
func (s *Source) OnChange(fn func(*Config)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.onChange = append(s.onChange, fn)
}

func (s *Source) notify(c *Config) {
	for _, fn := range s.onChange {
		fn(c)
	}
}

// Reload reads the files again. It reports whether the config changed; a broken new file is
// an error and the last good config stays in force. Unchanged files are not parsed again.
func (s *Source) Reload() (bool, error) {
	if s.dir == "" {
		return false, nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	files, err := readFiles(s.dir)
	if err != nil {
		return false, err
	}
	fp := fingerprint(files)
	if bytes.Equal(fp[:], s.lastSeen[:]) {
		return false, nil
	}
	s.lastSeen = fp // a bad file is reported once, not on every poll
	cfg, err := parseFiles(files)
	if err != nil {
		return false, err
	}
	s.cur.Store(cfg)
	s.notify(cfg)
	return true, nil
}

// Run polls the config dir every interval until ctx ends. Polling (rather than inotify) sees
// every way the files can change — the kubelet's atomic ..data symlink swap, a rename over a
// file, an edit in place — at the cost of reading four small files per interval.
func (s *Source) Run(ctx context.Context, interval time.Duration) {
	if s.dir == "" {
		return
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			changed, err := s.Reload()
			switch {
			case err != nil:
				s.logger.Error("new config rejected; keeping the last good one", "dir", s.dir, "err", err)
			case changed:
				s.logger.Info("config reloaded", "dir", s.dir)
			}
		}
	}
}
