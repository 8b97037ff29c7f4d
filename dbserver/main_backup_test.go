package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/restkube/restkube/dbserver/store"
	"github.com/restkube/restkube/internal/s3test"
)

// stoppedDatabase writes n documents into a database under a new data dir and closes it.
func stoppedDatabase(t *testing.T, n int) string {
	t.Helper()
	dir := t.TempDir()
	st, err := store.Open(filepath.Join(dir, DataFile), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for i := range n {
		if _, err := st.Insert("notes", []store.Doc{{"i": float64(i)}}, "t"); err != nil {
			t.Fatal(err)
		}
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(dir, "media"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "media", "a.txt"), []byte("media a"), 0o600); err != nil {
		t.Fatal(err)
	}
	return dir
}

func cli(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = run(args, &out, &errb)
	return code, out.String(), errb.String()
}

func TestBackupAndRestoreCommandsWithAFile(t *testing.T) {
	src := stoppedDatabase(t, 12)
	archive := filepath.Join(t.TempDir(), "notes.tar.zst")
	if code, out, errs := cli(t, "backup", "--data-dir", src, "--to", archive, "--database", "notes"); code != 0 || !strings.Contains(out, "12 documents, 1 media files") {
		t.Fatalf("backup: %d %s %s", code, out, errs)
	}
	dest := filepath.Join(t.TempDir(), "new")
	if code, out, errs := cli(t, "restore", "--from", archive, "--data-dir", dest); code != 0 || !strings.Contains(out, "12 documents") {
		t.Fatalf("restore: %d %s %s", code, out, errs)
	}
	if n, err := store.CheckFile(filepath.Join(dest, DataFile), time.Second); err != nil || n != 12 {
		t.Fatalf("restored database: %d documents, %v", n, err)
	}
	if b, _ := os.ReadFile(filepath.Join(dest, "media", "a.txt")); string(b) != "media a" {
		t.Fatalf("media = %q", b)
	}
	// Again into the same dir: refused, unless the init container's --if-empty says skip.
	if code, _, errs := cli(t, "restore", "--from", archive, "--data-dir", dest); code != 1 || !strings.Contains(errs, "not empty") {
		t.Fatalf("restore over a database: %d %s", code, errs)
	}
	if code, out, _ := cli(t, "restore", "--from", archive, "--data-dir", dest, "--if-empty"); code != 0 || !strings.Contains(out, "nothing to do") {
		t.Fatalf("restore --if-empty over a database: %d %s", code, out)
	}
	// A truncated archive: refused, nothing written.
	data, _ := os.ReadFile(archive)
	cut := filepath.Join(t.TempDir(), "cut.tar.zst")
	if err := os.WriteFile(cut, data[:len(data)*2/3], 0o600); err != nil {
		t.Fatal(err)
	}
	empty := t.TempDir()
	if code, _, errs := cli(t, "restore", "--from", cut, "--data-dir", empty); code != 1 || !strings.Contains(errs, "corrupt") {
		t.Fatalf("restore of a truncated archive: %d %s", code, errs)
	}
	if left, _ := os.ReadDir(empty); len(left) != 0 {
		t.Fatalf("a refused restore left %d entries", len(left))
	}
}

func TestBackupCommandRefusesARunningDatabase(t *testing.T) {
	dir := t.TempDir()
	st, err := store.Open(filepath.Join(dir, DataFile), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	code, _, errs := cli(t, "backup", "--data-dir", dir, "--to", filepath.Join(t.TempDir(), "x.tar.zst"))
	if code != 1 || !strings.Contains(errs, "admin endpoint") {
		t.Fatalf("backup of a locked database: %d %s", code, errs)
	}
}

func TestBackupAndRestoreCommandsWithS3(t *testing.T) {
	s3 := s3test.Start(t, "backups")
	creds := t.TempDir()
	s3.WriteCredentials(t, creds)
	src := stoppedDatabase(t, 5)
	flags := []string{"--s3-endpoint", s3.Endpoint, "--s3-path-style", "--s3-credentials-dir", creds}
	if code, out, errs := cli(t, append([]string{"backup", "--data-dir", src, "--to", "s3://backups/one/notes.tar.zst"}, flags...)...); code != 0 {
		t.Fatalf("backup: %d %s %s", code, out, errs)
	}
	dest := t.TempDir()
	if code, out, errs := cli(t, append([]string{"restore", "--data-dir", dest, "--from", "s3://backups/one/notes.tar.zst"}, flags...)...); code != 0 || !strings.Contains(out, "5 documents") {
		t.Fatalf("restore: %d %s %s", code, out, errs)
	}
	code, _, errs := cli(t, append([]string{"restore", "--data-dir", t.TempDir(), "--from", "s3://backups/one/missing.tar.zst"}, flags...)...)
	if code != 1 || !strings.Contains(errs, "backup not found") || strings.Contains(errs, s3.SecretAccessKey) {
		t.Fatalf("restore of a missing object: %d %s", code, errs)
	}
}
