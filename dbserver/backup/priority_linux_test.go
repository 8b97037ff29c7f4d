package backup

import (
	"bytes"
	"context"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/restkube/restkube/dbserver/store"
)

// nicenessWriter records the niceness of the thread each Write runs on.
type nicenessWriter struct {
	bytes.Buffer
	seen map[int]bool
}

func (w *nicenessWriter) Write(p []byte) (int, error) {
	prio, err := syscall.Getpriority(syscall.PRIO_PROCESS, syscall.Gettid())
	if err == nil {
		w.seen[20-prio] = true
	}
	return w.Buffer.Write(p)
}

func currentNice(t *testing.T) int {
	t.Helper()
	prio, err := syscall.Getpriority(syscall.PRIO_PROCESS, syscall.Gettid())
	if err != nil {
		t.Fatal(err)
	}
	return 20 - prio
}

// TestWriteRunsAtALowerPriority: with Nice, all of the archive's work runs on a thread whose
// niceness is raised by that much, and the archive is the same as without.
func TestWriteRunsAtALowerPriority(t *testing.T) {
	st, err := store.Open(filepath.Join(t.TempDir(), DBMember), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if _, err := st.Insert("notes", []store.Doc{{"text": "hello"}}, "t"); err != nil {
		t.Fatal(err)
	}
	base := currentNice(t)
	if base > 14 {
		t.Skipf("the test runs at niceness %d already", base)
	}
	for _, nice := range []int{0, 5} {
		w := &nicenessWriter{seen: map[int]bool{}}
		m, err := Write(context.Background(), w, st.CopyFile, WriteOptions{Database: "n", Nice: nice})
		if err != nil || m.Documents != 1 {
			t.Fatalf("Write: %+v, %v", m, err)
		}
		if len(w.seen) != 1 || !w.seen[base+nice] {
			t.Fatalf("Nice %d: writes ran at niceness %v, want only %d", nice, w.seen, base+nice)
		}
		if _, err := Restore(context.Background(), bytes.NewReader(w.Bytes()), filepath.Join(t.TempDir(), "r"), RestoreOptions{}); err != nil {
			t.Fatalf("the archive written at Nice %d does not restore: %v", nice, err)
		}
	}
	if got := currentNice(t); got != base {
		t.Fatalf("the caller's thread went from niceness %d to %d", base, got)
	}
}
