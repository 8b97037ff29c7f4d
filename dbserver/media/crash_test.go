package media

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/restkube/restkube/dbserver/store"
)

// The child process of the crash tests: when crashDirEnv names a directory, the test binary
// opens an archive there and uploads instead of running tests. With crashAtEnv set it kills
// itself (SIGKILL, as the kernel's OOM killer or a node failure would) at that step of its
// first write; without, it uploads until the parent kills it.
const (
	crashDirEnv = "RESTKUBE_MEDIA_CRASH_DIR"
	crashAtEnv  = "RESTKUBE_MEDIA_CRASH_AT"
)

func TestMain(m *testing.M) {
	if dir := os.Getenv(crashDirEnv); dir != "" {
		os.Exit(crashChild(dir, os.Getenv(crashAtEnv)))
	}
	os.Exit(m.Run())
}

// crashChild prints "A <id> <seed> <size>" when a file is written to tmp/ (not yet
// committed), "C <id>" when its upload committed, "D <id>" when a delete returned, and
// "K <id>" when it kills itself at a step of the write of id.
func crashChild(dir, at string) int {
	st, err := store.Open(filepath.Join(dir, "restkube.db"), store.Options{})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	a, err := Open(Options{Dir: filepath.Join(dir, "media"), Store: st})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	say := func(format string, args ...any) {
		// One write per line, so a kill cannot leave half a line among whole ones.
		if _, err := os.Stdout.WriteString(fmt.Sprintf(format+"\n", args...)); err != nil {
			os.Exit(1)
		}
	}
	put := func(seed uint64, size int) (string, error) {
		u, err := a.NewUpload("api", 1<<30)
		if err != nil {
			return "", err
		}
		m, err := u.Add("f.bin", "", bytes.NewReader(payload(seed, size)))
		if err != nil {
			return "", err
		}
		say("A %s %d %d", m.ID, seed, size)
		if _, err := u.Commit(); err != nil {
			return "", err
		}
		say("C %s", m.ID)
		return m.ID, nil
	}
	if at != "" {
		if at == "delete-committed" {
			id, err := put(1, 100_000)
			if err != nil {
				fmt.Fprintln(os.Stderr, err)
				return 1
			}
			a.crashAt = killAt(at, say)
			_ = a.Delete(id)
			say("D %s", id)
			return 0
		}
		a.crashAt = killAt(at, say)
		if _, err := put(1, 100_000); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		return 0
	}
	stop := time.Now().Add(30 * time.Second) // exit on its own should the parent never kill it
	for seed := uint64(1); time.Now().Before(stop); seed++ {
		id, err := put(seed, int(seed%7)*50_000+1)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		if seed%3 == 0 {
			if err := a.Delete(id); err != nil {
				fmt.Fprintln(os.Stderr, err)
				return 1
			}
			say("D %s", id)
		}
	}
	return 0
}

func killAt(step string, say func(string, ...any)) func(string, string) {
	return func(s, id string) {
		if s == step {
			say("K %s", id)
			_ = syscall.Kill(os.Getpid(), syscall.SIGKILL)
			time.Sleep(time.Minute) // the signal is delivered; never go on
		}
	}
}

// event is one line of the child's output.
type event struct {
	kind       string
	id         string
	seed, size int
}

// runChild starts the child on dir and returns its events once it has died: killed by
// itself at step at, or by us after it acknowledged minCommits uploads.
func runChild(t *testing.T, dir, at string, minCommits int) []event {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), crashDirEnv+"="+dir, crashAtEnv+"="+at)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var events []event
	commits := 0
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 2 {
			continue
		}
		e := event{kind: f[0], id: f[1]}
		if e.kind == "A" && len(f) == 4 {
			e.seed, _ = strconv.Atoi(f[2])
			e.size, _ = strconv.Atoi(f[3])
		}
		events = append(events, e)
		if e.kind == "C" {
			commits++
			if minCommits > 0 && commits == minCommits {
				_ = cmd.Process.Kill()
			}
		}
	}
	err = cmd.Wait()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
		t.Fatalf("the child was not killed (%v); stderr: %s", err, stderr.String())
	}
	return events
}

// checkConsistent reopens the archive in dir and checks the invariant a crash must keep:
// every file with metadata is whole, and nothing else is left on disk.
func checkConsistent(t *testing.T, dir string) *Archive {
	t.Helper()
	st := openStore(t, dir)
	a, err := Open(Options{Dir: filepath.Join(dir, "media"), Store: st})
	if err != nil {
		t.Fatal(err)
	}
	if left := tmpEntries(t, a); len(left) != 0 {
		t.Errorf("tmp/ holds %v after Open", left)
	}
	es, _ := os.ReadDir(a.dir)
	for _, e := range es {
		if e.IsDir() {
			continue
		}
		if _, err := a.Get(e.Name()); err != nil {
			t.Errorf("%s is on disk without metadata after Open: %v", e.Name(), err)
		}
	}
	return a
}

func TestCrashAtEachStepLeavesAllOrNothing(t *testing.T) {
	cases := map[string]struct {
		at      string
		visible bool
	}{
		"killed after the file is synced in tmp/, before the rename": {"tmp-synced", false},
		"killed after the rename, before the metadata commit":        {"renamed", false},
		"killed right after the metadata commit":                     {"committed", true},
		"killed after a delete's commit, before the unlink":          {"delete-committed", false},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			events := runChild(t, dir, tc.at, 0)
			var written *event
			var killed string
			for i := range events {
				switch events[i].kind {
				case "A":
					written = &events[i]
				case "K":
					killed = events[i].id
				}
			}
			if killed == "" {
				t.Fatalf("the child did not die at %s: %v", tc.at, events)
			}
			if written == nil || written.id != killed {
				written = &event{id: killed}
			}
			if tc.at == "renamed" && !exists(filepath.Join(dir, "media", written.id)) {
				t.Fatal("the crash point is wrong: the file is not in place before the commit")
			}
			a := checkConsistent(t, dir)
			m, err := a.Get(written.id)
			if visible := err == nil; visible != tc.visible {
				t.Fatalf("after the crash the file is visible = %v, want %v", visible, tc.visible)
			}
			if tc.visible {
				b, _ := readAll(t, a, m, Original)
				if !bytes.Equal(b, payload(uint64(written.seed), written.size)) {
					t.Errorf("the committed file is not whole: %d bytes, want %d", len(b), written.size)
				}
			}
			if !tc.visible && exists(filepath.Join(a.dir, written.id)) {
				t.Error("the file's content is still on disk")
			}
		})
	}
}

// A child uploading and deleting in a loop is killed at an arbitrary moment: every upload it
// acknowledged and did not delete is whole, and nothing else is left.
func TestKilledWhileUploadingKeepsEveryAcknowledgedFile(t *testing.T) {
	for round := range 3 {
		dir := t.TempDir()
		events := runChild(t, dir, "", 20+round*7)
		a := checkConsistent(t, dir)
		written := map[string]event{}
		committed, deleted := map[string]bool{}, map[string]bool{}
		for _, e := range events {
			switch e.kind {
			case "A":
				written[e.id] = e
			case "C":
				committed[e.id] = true
			case "D":
				deleted[e.id] = true
			}
		}
		for id := range committed {
			if deleted[id] {
				if _, err := a.Get(id); err == nil {
					t.Errorf("round %d: %s was deleted but is visible", round, id)
				}
				continue
			}
			m, err := a.Get(id)
			if err != nil {
				t.Errorf("round %d: acknowledged upload %s is missing: %v", round, id, err)
				continue
			}
			b, _ := readAll(t, a, m, Original)
			if w := written[id]; !bytes.Equal(b, payload(uint64(w.seed), w.size)) {
				t.Errorf("round %d: %s is not whole (%d bytes, want %d)", round, id, len(b), w.size)
			}
		}
	}
}
