package store

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/restkube/restkube/internal/testutil"
)

// A write that fails after changing its transaction (or panics) must not fail the writes that
// shared its batch, and must leave nothing behind.
func TestFailedWriteDoesNotFailItsBatch(t *testing.T) {
	s := openTest(t, Options{Logger: discardLogger()})
	c := s.writer

	// Hold the committer inside a transaction so that the writes below all queue into one batch.
	release := make(chan struct{})
	started := make(chan struct{})
	var once sync.Once
	blockerDone := make(chan error, 1)
	go func() {
		blockerDone <- c.write(func(tx *bolt.Tx, _ *changes) error {
			once.Do(func() { close(started) })
			<-release
			return nil
		})
	}()
	<-started

	type kind int
	const (
		good kind = iota
		dirtyError
		panics
		refused
	)
	kinds := []kind{good, dirtyError, good, panics, good, refused, good, dirtyError, good, good}
	results := make([]error, len(kinds))
	var wg sync.WaitGroup
	for i, k := range kinds {
		wg.Add(1)
		go func() {
			defer wg.Done()
			key := []byte(fmt.Sprintf("k%02d", i))
			results[i] = c.write(func(tx *bolt.Tx, _ *changes) error {
				if k == refused {
					return clean(fmt.Errorf("refused %d", i))
				}
				b, err := tx.CreateBucketIfNotExists([]byte("test"))
				if err != nil {
					return err
				}
				if err := b.Put(key, []byte("v")); err != nil {
					return err
				}
				switch k {
				case dirtyError:
					return fmt.Errorf("failed %d after writing", i)
				case panics:
					panic(fmt.Sprintf("panic %d", i))
				}
				return nil
			})
		}()
	}
	testutil.EventuallyTrue(t, 10*time.Second, "all writes to queue", func() bool { return len(c.queue) == len(kinds) })
	close(release)
	wg.Wait()
	if err := <-blockerDone; err != nil {
		t.Fatalf("blocker: %v", err)
	}

	for i, k := range kinds {
		err := results[i]
		switch k {
		case good:
			if err != nil {
				t.Errorf("write %d: %v, want success", i, err)
			}
		case dirtyError:
			if err == nil || !strings.Contains(err.Error(), "after writing") {
				t.Errorf("write %d: %v, want its own error", i, err)
			}
		case panics:
			if err == nil || !strings.Contains(err.Error(), "panicked") {
				t.Errorf("write %d: %v, want a panic error", i, err)
			}
		case refused:
			var ce *cleanError
			if err == nil || errors.As(err, &ce) || !strings.Contains(err.Error(), "refused") {
				t.Errorf("write %d: %v, want its unwrapped error", i, err)
			}
		}
	}
	err := s.db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket([]byte("test"))
		for i, k := range kinds {
			v := b.Get([]byte(fmt.Sprintf("k%02d", i)))
			if present := v != nil; present != (k == good) {
				t.Errorf("key of write %d (kind %d) present = %v", i, k, present)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// The blocker's commit and one shared commit for every good write: no more.
	if st := s.Stats(); st.Commits != 2 || st.Writes != 1+6+1 {
		t.Errorf("Stats = %+v, want 2 commits carrying 8 writes (the clean failure is acknowledged too)", st)
	}
}

func TestWritesShareCommitsUnderLoad(t *testing.T) {
	s := openTest(t, Options{})
	var wg sync.WaitGroup
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 30 {
				if _, err := s.Insert("c", []Doc{{"x": 1.0}}, "api"); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	st := s.Stats()
	if st.Writes != 16*30 {
		t.Fatalf("Stats.Writes = %d, want %d", st.Writes, 16*30)
	}
	// With 16 writers each waiting for its fsync, most commits carry several writes.
	if st.Commits*2 > st.Writes {
		t.Errorf("%d commits for %d writes: writers are not sharing commits", st.Commits, st.Writes)
	}
}

// Activity grows with writes and with reads, and not on its own.
func TestActivityCountsWritesAndReads(t *testing.T) {
	s := openTest(t, Options{})
	a0 := s.Activity()
	if s.Activity() != a0 {
		t.Fatal("Activity grew while the store did nothing")
	}
	docs, err := s.Insert("notes", []Doc{{"n": 1.0}}, "t")
	if err != nil {
		t.Fatal(err)
	}
	a1 := s.Activity()
	if a1 <= a0 {
		t.Fatalf("Activity after a write = %d, before %d", a1, a0)
	}
	if _, err := s.Get("notes", docs[0]["_id"].(string)); err != nil {
		t.Fatal(err)
	}
	if a2 := s.Activity(); a2 <= a1 {
		t.Fatalf("Activity after a read = %d, before %d", a2, a1)
	}
}
