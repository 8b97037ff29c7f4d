package store

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/restkube/restkube/dbserver/jsondoc"
	bolt "go.etcd.io/bbolt"
)

// crashChildEnv, when set to a file path, makes the test binary a crash-test writer instead of
// running tests.
const crashChildEnv = "RESTKUBE_STORE_CRASH_CHILD"

func TestMain(m *testing.M) {
	if path := os.Getenv(crashChildEnv); path != "" {
		os.Exit(crashChild(path))
	}
	os.Exit(m.Run())
}

// crashChild writes from 16 goroutines until it is killed, printing each acknowledged write:
// "I <id>" for an insert, "U <id> <version>" for an update.
func crashChild(path string) int {
	s, err := Open(path, Options{})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	var mu sync.Mutex
	ack := func(format string, args ...any) {
		line := fmt.Sprintf(format+"\n", args...)
		mu.Lock()
		defer mu.Unlock()
		// One write call per line, so a kill cannot leave half a line among whole ones.
		if _, err := os.Stdout.WriteString(line); err != nil {
			os.Exit(1)
		}
	}
	// Exit on its own should the parent never kill it.
	stop := time.Now().Add(30 * time.Second)
	pad := strings.Repeat("x", 200)
	var wg sync.WaitGroup
	for w := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; time.Now().Before(stop); i++ {
				docs := []Doc{{"w": float64(w), "i": float64(i), "pad": pad}}
				if i%5 == 0 {
					docs = append(docs, Doc{"bulk": true}, Doc{"bulk": true})
				}
				out, err := s.Insert("crash", docs, "api")
				if err != nil {
					fmt.Fprintln(os.Stderr, err)
					os.Exit(1)
				}
				for _, d := range out {
					ack("I %s", d["_id"])
				}
				id := out[0]["_id"].(string)
				if i%2 == 0 {
					d, err := s.Update("crash", id, 0, "api", func(d Doc) error { d["u"] = 1.0; return nil })
					if err != nil {
						fmt.Fprintln(os.Stderr, err)
						os.Exit(1)
					}
					ack("U %s %d", id, jsondoc.Version(d))
				}
			}
		}()
	}
	wg.Wait()
	return 2 // the parent should have killed us long before
}

func TestCrashLosesNoAcknowledgedWrite(t *testing.T) {
	path := filepath.Join(t.TempDir(), "data.db")
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), crashChildEnv+"="+path)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var once sync.Once
	kill := func() { once.Do(func() { _ = cmd.Process.Signal(syscall.SIGKILL) }) }
	// Bounded: at most 2 s of writing, or fewer once enough writes were acknowledged.
	timer := time.AfterFunc(2*time.Second, kill)
	defer timer.Stop()

	inserted := map[string]bool{}
	updated := map[string]int64{}
	var lines []string
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		lines = append(lines, sc.Text())
		if len(lines) == 3000 {
			kill()
		}
	}
	err = cmd.Wait()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || !exit.Sys().(syscall.WaitStatus).Signaled() {
		t.Fatalf("child did not die by SIGKILL: %v\nstderr: %s", err, stderr.String())
	}
	for i, line := range lines {
		f := strings.Fields(line)
		switch {
		case len(f) == 2 && f[0] == "I" && ValidID(f[1]):
			inserted[f[1]] = true
		case len(f) == 3 && f[0] == "U" && ValidID(f[1]):
			v, err := strconv.ParseInt(f[2], 10, 64)
			if err != nil {
				t.Fatalf("line %d %q: %v", i, line, err)
			}
			updated[f[1]] = v
		default:
			t.Fatalf("line %d: unexpected %q", i, line)
		}
	}
	if len(inserted) < 50 {
		t.Fatalf("only %d acknowledged inserts before the kill: the test proves nothing\nstderr: %s", len(inserted), stderr.String())
	}

	s, err := Open(path, Options{})
	if err != nil {
		t.Fatalf("reopening after the crash: %v", err)
	}
	defer s.Close()
	if err := s.db.View(func(tx *bolt.Tx) error {
		for err := range tx.Check() {
			return err
		}
		return nil
	}); err != nil {
		t.Fatalf("bbolt consistency check after the crash: %v", err)
	}
	missing := 0
	for id := range inserted {
		if _, err := s.Get("crash", id); err != nil {
			missing++
			if missing <= 5 {
				t.Errorf("acknowledged insert %s lost: %v", id, err)
			}
		}
	}
	lostUpdates := 0
	for id, v := range updated {
		d, err := s.Get("crash", id)
		if err != nil || jsondoc.Version(d) < v || d["u"] != 1.0 {
			lostUpdates++
			if lostUpdates <= 5 {
				t.Errorf("acknowledged update of %s to version %d lost: %v, %v", id, v, d, err)
			}
		}
	}
	if lostUpdates > 0 {
		t.Errorf("%d of %d acknowledged updates lost", lostUpdates, len(updated))
	}
	if missing > 0 {
		t.Errorf("%d of %d acknowledged inserts lost", missing, len(inserted))
	}
	t.Logf("checked %d acknowledged inserts and %d updates after SIGKILL", len(inserted), len(updated))
}
