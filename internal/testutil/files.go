package testutil

import (
	"os"
	"testing"
)

// WriteFile writes content to path (mode 0600) or fails the test.
func WriteFile(t testing.TB, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

// ReplaceByRename swaps a file the way editors, config managers and Secret tooling do: it
// writes content next to path and renames it over path, so readers see the old file or the
// new one, never half of one.
func ReplaceByRename(t testing.TB, path, content string) {
	t.Helper()
	tmp := path + ".tmp"
	WriteFile(t, tmp, content)
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}
