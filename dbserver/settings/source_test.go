package settings

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/restkube/restkube/internal/testutil"
)

func TestLoadDirTrimsKeysAndRequiresThem(t *testing.T) {
	dir := t.TempDir()
	if _, err := LoadDir(dir); err == nil {
		t.Fatal("an empty config dir must be refused (no api-key)")
	}
	testutil.WriteFile(t, filepath.Join(dir, APIKeyFile), "  key-1\n")
	testutil.WriteFile(t, filepath.Join(dir, SigningKeyFile), "sign\n")
	cfg, err := LoadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.APIKey != "key-1" || cfg.SigningKey != "sign" {
		t.Errorf("keys not trimmed: %q %q", cfg.APIKey, cfg.SigningKey)
	}
	if cfg.Settings.Limits.MaxPageSize != DefaultMaxPageSize {
		t.Error("defaults not applied")
	}
}

func TestReloadByRenameKeepsLastGood(t *testing.T) {
	dir := t.TempDir()
	testutil.WriteFile(t, filepath.Join(dir, APIKeyFile), "old")
	testutil.WriteFile(t, filepath.Join(dir, SigningKeyFile), "sign")
	testutil.WriteFile(t, filepath.Join(dir, SettingsFile), `{"limits": {"maxPageSize": 5}}`)
	src, err := NewSource(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	notified := 0
	src.OnChange(func(*Config) { notified++ })

	testutil.ReplaceByRename(t, filepath.Join(dir, APIKeyFile), "new\n")
	if changed, err := src.Reload(); err != nil || !changed {
		t.Fatalf("Reload = %v, %v", changed, err)
	}
	if got := src.Current().APIKey; got != "new" {
		t.Fatalf("api key = %q after rename", got)
	}

	testutil.ReplaceByRename(t, filepath.Join(dir, SettingsFile), `{"limits": {"maxPageSize": "lots"}}`)
	if _, err := src.Reload(); err == nil {
		t.Fatal("a broken settings.json must be reported")
	}
	if got := src.Current().Settings.Limits.MaxPageSize; got != 5 {
		t.Fatalf("last good settings lost: maxPageSize = %d", got)
	}
	if changed, err := src.Reload(); changed || err != nil {
		t.Fatalf("an unchanged broken file is reported once: %v %v", changed, err)
	}
	if notified != 1 {
		t.Errorf("OnChange ran %d times, want 1", notified)
	}
}

// TestFollowsKubeletSymlinkSwap mimics how the kubelet updates a projected volume: the files are
// symlinks through ..data, which is atomically re-pointed at a new timestamped directory.
func TestFollowsKubeletSymlinkSwap(t *testing.T) {
	dir := t.TempDir()
	mkVersion := func(name, key string) {
		v := filepath.Join(dir, name)
		if err := os.Mkdir(v, 0o755); err != nil {
			t.Fatal(err)
		}
		testutil.WriteFile(t, filepath.Join(v, APIKeyFile), key)
		testutil.WriteFile(t, filepath.Join(v, SigningKeyFile), "sign")
		testutil.WriteFile(t, filepath.Join(v, SettingsFile), `{}`)
	}
	mkVersion("..2026_01_01", "first")
	if err := os.Symlink("..2026_01_01", filepath.Join(dir, "..data")); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{APIKeyFile, SigningKeyFile, SettingsFile} {
		if err := os.Symlink(filepath.Join("..data", f), filepath.Join(dir, f)); err != nil {
			t.Fatal(err)
		}
	}
	src, err := NewSource(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go src.Run(ctx, 10*time.Millisecond)

	mkVersion("..2026_01_02", "second")
	if err := os.Symlink("..2026_01_02", filepath.Join(dir, "..data_tmp")); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(filepath.Join(dir, "..data_tmp"), filepath.Join(dir, "..data")); err != nil {
		t.Fatal(err)
	}
	if err := os.RemoveAll(filepath.Join(dir, "..2026_01_01")); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for src.Current().APIKey != "second" {
		if time.Now().After(deadline) {
			t.Fatalf("api key still %q after the ..data swap", src.Current().APIKey)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
