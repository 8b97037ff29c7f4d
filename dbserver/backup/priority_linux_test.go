package backup

import (
	"bytes"
	"context"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/restkube/restkube/dbserver/store"
)

// nicenessWriter records the niceness, the scheduling policy and the I/O priority of the
// thread each Write runs on.
type nicenessWriter struct {
	bytes.Buffer
	seen     map[int]bool
	policies map[uintptr]bool
	ioprios  map[uintptr]bool
}

func (w *nicenessWriter) Write(p []byte) (int, error) {
	tid := syscall.Gettid()
	prio, err := syscall.Getpriority(syscall.PRIO_PROCESS, tid)
	if err == nil {
		w.seen[20-prio] = true
	}
	if policy, _, errno := syscall.RawSyscall(syscall.SYS_SCHED_GETSCHEDULER, uintptr(tid), 0, 0); errno == 0 {
		w.policies[policy] = true
	}
	if ioprio, _, errno := syscall.RawSyscall(syscall.SYS_IOPRIO_GET, ioprioWhoProcess, uintptr(tid), 0); errno == 0 {
		w.ioprios[ioprio] = true
	}
	return w.Buffer.Write(p)
}

func currentPolicy(t *testing.T) uintptr {
	t.Helper()
	policy, _, errno := syscall.RawSyscall(syscall.SYS_SCHED_GETSCHEDULER, uintptr(syscall.Gettid()), 0, 0)
	if errno != 0 {
		t.Fatal(errno)
	}
	return policy
}

func currentIOPrio(t *testing.T) uintptr {
	t.Helper()
	ioprio, _, errno := syscall.RawSyscall(syscall.SYS_IOPRIO_GET, ioprioWhoProcess, uintptr(syscall.Gettid()), 0)
	if errno != 0 {
		t.Fatal(errno)
	}
	return ioprio
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
// niceness is raised by that much, whose policy is SCHED_IDLE and whose I/O priority class is
// idle (without Nice, the caller's policy and I/O priority), and the archive is the same as
// without.
func TestWriteRunsAtALowerPriority(t *testing.T) {
	st, err := store.Open(filepath.Join(t.TempDir(), DBMember), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if _, err := st.Insert("notes", []store.Doc{{"text": "hello"}}, "t"); err != nil {
		t.Fatal(err)
	}
	base, basePolicy, baseIOPrio := currentNice(t), currentPolicy(t), currentIOPrio(t)
	if baseIOPrio == ioprioIdle {
		t.Skip("the test runs in the idle I/O class already")
	}
	if base > 14 {
		t.Skipf("the test runs at niceness %d already", base)
	}
	for _, nice := range []int{0, 5} {
		w := &nicenessWriter{seen: map[int]bool{}, policies: map[uintptr]bool{}, ioprios: map[uintptr]bool{}}
		m, err := Write(context.Background(), w, st.CopyFile, WriteOptions{Database: "n", Nice: nice})
		if err != nil || m.Documents != 1 {
			t.Fatalf("Write: %+v, %v", m, err)
		}
		if len(w.seen) != 1 || !w.seen[base+nice] {
			t.Fatalf("Nice %d: writes ran at niceness %v, want only %d", nice, w.seen, base+nice)
		}
		wantPolicy, wantIOPrio := basePolicy, baseIOPrio
		if nice > 0 {
			wantPolicy, wantIOPrio = schedIdle, ioprioIdle
		}
		if len(w.ioprios) != 1 || !w.ioprios[wantIOPrio] {
			t.Fatalf("Nice %d: writes ran at I/O priorities %v, want only %#x", nice, w.ioprios, wantIOPrio)
		}
		if len(w.policies) != 1 || !w.policies[wantPolicy] {
			t.Fatalf("Nice %d: writes ran under scheduling policies %v, want only %d", nice, w.policies, wantPolicy)
		}
		if _, err := Restore(context.Background(), bytes.NewReader(w.Bytes()), filepath.Join(t.TempDir(), "r"), RestoreOptions{}); err != nil {
			t.Fatalf("the archive written at Nice %d does not restore: %v", nice, err)
		}
	}
	if got := currentNice(t); got != base {
		t.Fatalf("the caller's thread went from niceness %d to %d", base, got)
	}
	if got := currentPolicy(t); got != basePolicy {
		t.Fatalf("the caller's thread went from policy %d to %d", basePolicy, got)
	}
	if got := currentIOPrio(t); got != baseIOPrio {
		t.Fatalf("the caller's thread went from I/O priority %#x to %#x", baseIOPrio, got)
	}
}
