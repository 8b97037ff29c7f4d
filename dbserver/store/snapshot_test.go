package store

import (
	"strings"
	"testing"
	"time"

	"github.com/restkube/restkube/dbserver/jsondoc"
)

// TestWritesDoNotWaitForAnOpenRead holds a read transaction open while writes grow the file
// by megabytes. bbolt remaps a growing file, and a remap waits for every open reader; with
// the file mapped large from the start (InitialMmapSize) no remap happens and the writes go
// through while the reader is still open.
func TestWritesDoNotWaitForAnOpenRead(t *testing.T) {
	s := openTest(t, Options{})
	mustInsert(t, s, "c", Doc{"n": 1.0})
	holding := make(chan struct{})
	release := make(chan struct{})
	readDone := make(chan int)
	go func() {
		n := 0
		_ = s.View(func(sn *Snapshot) error {
			close(holding)
			<-release
			// The snapshot still sees the state from before the writes.
			sn.Docs("c", false, func(_, _ []byte) bool { n++; return true })
			return nil
		})
		readDone <- n
	}()
	<-holding
	wrote := make(chan error, 1)
	go func() {
		big := strings.Repeat("x", 64<<10)
		for i := 0; i < 100; i++ { // about 6.5 MB
			if _, err := s.Insert("c", []Doc{{"big": big}}, "api"); err != nil {
				wrote <- err
				return
			}
		}
		wrote <- nil
	}()
	select {
	case err := <-wrote:
		if err != nil {
			t.Fatalf("Insert: %v", err)
		}
	case <-time.After(30 * time.Second):
		close(release)
		t.Fatal("writes waited for an open read transaction")
	}
	close(release)
	if n := <-readDone; n != 1 {
		t.Fatalf("the open snapshot saw %d documents, want the 1 from before the writes", n)
	}
	if n := count(t, s, "c"); n != 101 {
		t.Fatalf("after the writes: %d documents, want 101", n)
	}
}

// Raw finds a document by id and nothing else: not the next id, not in another collection,
// also when lookups alternate between collections and ids in any order.
func TestSnapshotRaw(t *testing.T) {
	s := openTest(t, Options{})
	a := mustInsert(t, s, "a", Doc{"n": 1.0}, Doc{"n": 2.0}, Doc{"n": 3.0})
	b := mustInsert(t, s, "b", Doc{"n": 10.0})
	id := func(d Doc) []byte { oid, _ := ParseObjectID(d[jsondoc.FieldID].(string)); return oid[:] }
	missing := append([]byte(nil), id(a[1])...)
	missing[6] ^= 0x01 // the random part: an id next to stored ones, never stored itself
	err := s.View(func(sn *Snapshot) error {
		for _, c := range []struct {
			coll string
			id   []byte
			want float64 // 0: none
		}{
			{"a", id(a[2]), 3}, {"a", id(a[0]), 1}, {"b", id(b[0]), 10}, {"a", id(b[0]), 0}, {"b", id(a[0]), 0},
			{"a", missing, 0}, {"a", id(a[1]), 2}, {"nope", id(a[0]), 0}, {"a", []byte("short"), 0},
			// In id order (a step from one to the next), with a gap, and back.
			{"a", id(a[0]), 1}, {"a", id(a[1]), 2}, {"a", id(a[2]), 3}, {"a", id(a[0]), 1}, {"a", id(a[2]), 3},
			{"a", id(a[0]), 1}, {"a", missing, 0}, {"a", id(a[2]), 3}, {"a", id(b[0]), 0},
		} {
			raw := sn.Raw(c.coll, c.id)
			if c.want == 0 {
				if raw != nil {
					t.Errorf("Raw(%s, %x) = %s, want none", c.coll, c.id, raw)
				}
				continue
			}
			d, err := jsondoc.DecodeDoc(raw)
			if err != nil || d["n"] != c.want {
				t.Errorf("Raw(%s, %x) = %s (%v), want n=%v", c.coll, c.id, raw, err, c.want)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
