package store

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"

	"github.com/restkube/restkube/dbserver/jsondoc"
)

// recorder is an OnCommit that keeps every write's Changes.
type recorder struct {
	mu     sync.Mutex
	writes [][]Change
}

func (r *recorder) observe(list []Change) {
	r.mu.Lock()
	r.writes = append(r.writes, list)
	r.mu.Unlock()
}

func (r *recorder) take() [][]Change {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := r.writes
	r.writes = nil
	return out
}

// Every kind of write reports its documents once, after it committed, grouped per write; writes
// that fail or change nothing report nothing.
func TestOnCommitReportsEachCommittedWrite(t *testing.T) {
	rec := &recorder{}
	s := openTest(t, Options{OnCommit: rec.observe, Logger: discardLogger()})

	docs, err := s.Insert("c", []Doc{{"n": 1.0}, {"n": 2.0}, {"n": 3.0}}, "ann@example.com")
	if err != nil {
		t.Fatal(err)
	}
	ids := []string{docs[0][jsondoc.FieldID].(string), docs[1][jsondoc.FieldID].(string), docs[2][jsondoc.FieldID].(string)}
	w := rec.take()
	if len(w) != 1 || len(w[0]) != 3 {
		t.Fatalf("a bulk insert of 3 is one write of 3 changes, got %v", w)
	}
	for i, c := range w[0] {
		var d Doc
		if err := json.Unmarshal(c.Doc, &d); err != nil {
			t.Fatalf("change %d: Doc is not JSON: %v", i, err)
		}
		if c.Op != OpInsert || c.Coll != "c" || c.ID != ids[i] || c.CreatedBy != "ann@example.com" || d["n"] != float64(i+1) || d[jsondoc.FieldID] != ids[i] {
			t.Errorf("change %d = %+v (doc %v)", i, c, d)
		}
	}

	if _, err := s.Update("c", ids[0], AnyVersion, "bob", func(d Doc) error { d["n"] = 10.0; return nil }); err != nil {
		t.Fatal(err)
	}
	w = rec.take()
	if len(w) != 1 || len(w[0]) != 1 || w[0][0].Op != OpUpdate || w[0][0].ID != ids[0] || w[0][0].CreatedBy != "ann@example.com" {
		t.Fatalf("update: %+v", w)
	}
	var d Doc
	if err := json.Unmarshal(w[0][0].Doc, &d); err != nil || d["n"] != 10.0 || d[jsondoc.FieldVersion] != 1.0 {
		t.Fatalf("update doc = %s", w[0][0].Doc)
	}

	// Failing writes report nothing.
	if _, err := s.Update("c", ids[0], 0, "bob", nil); !errors.Is(err, ErrVersionMismatch) {
		t.Fatalf("stale update: %v", err)
	}
	if err := s.Delete("c", ids[1], AnyVersion, func(Doc) error { return ErrNotFound }); !errors.Is(err, ErrNotFound) {
		t.Fatalf("vetoed delete: %v", err)
	}
	if got, _ := s.DeleteMany("c", []string{"000000000000000000000000"}, nil); len(got) != 0 {
		t.Fatalf("deleted %v", got)
	}
	if w := rec.take(); len(w) != 0 {
		t.Fatalf("failed or empty writes reported %v", w)
	}

	if err := s.Delete("c", ids[0], AnyVersion, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := s.DeleteMany("c", []string{ids[1], "000000000000000000000000"}, nil); err != nil {
		t.Fatal(err)
	}
	more := mustInsert(t, s, "c", Doc{"n": 7.0}, Doc{"n": 8.0})
	if _, err := s.DeleteWhere("c", func(d Doc) bool { return d["n"].(float64) > 2 }); err != nil {
		t.Fatal(err)
	}
	w = rec.take()
	var got []string
	for _, write := range w {
		var line []string
		for _, c := range write {
			line = append(line, fmt.Sprintf("%d:%s:%s", c.Op, c.ID, c.CreatedBy))
		}
		got = append(got, fmt.Sprint(line))
	}
	want := []string{
		fmt.Sprint([]string{fmt.Sprintf("%d:%s:ann@example.com", OpDelete, ids[0])}),
		fmt.Sprint([]string{fmt.Sprintf("%d:%s:ann@example.com", OpDelete, ids[1])}),
		fmt.Sprint([]string{fmt.Sprintf("%d:%s:api", OpInsert, more[0][jsondoc.FieldID]), fmt.Sprintf("%d:%s:api", OpInsert, more[1][jsondoc.FieldID])}),
		fmt.Sprint([]string{
			fmt.Sprintf("%d:%s:ann@example.com", OpDelete, ids[2]),
			fmt.Sprintf("%d:%s:api", OpDelete, more[0][jsondoc.FieldID]),
			fmt.Sprintf("%d:%s:api", OpDelete, more[1][jsondoc.FieldID]),
		}),
	}
	if !slices.Equal(got, want) {
		t.Fatalf("writes:\n got %v\nwant %v", got, want)
	}
}

// Concurrent writers share commits; the observer hears each write exactly once, in commit
// order (concurrent updates of one document report versions 1, 2, 3, ...), and before the
// writer is answered.
func TestOnCommitOrderUnderConcurrency(t *testing.T) {
	var mu sync.Mutex
	var versions []float64
	seen := map[float64]bool{}
	s := openTest(t, Options{Logger: discardLogger(), OnCommit: func(list []Change) {
		mu.Lock()
		defer mu.Unlock()
		for _, c := range list {
			if c.Op != OpUpdate {
				continue
			}
			var d Doc
			if err := json.Unmarshal(c.Doc, &d); err != nil {
				panic(err)
			}
			versions = append(versions, d[jsondoc.FieldVersion].(float64))
			seen[d[jsondoc.FieldVersion].(float64)] = true
		}
	}})
	id := mustInsert(t, s, "c", Doc{"n": 0.0})[0][jsondoc.FieldID].(string)
	const writers, each = 8, 25
	var wg sync.WaitGroup
	errs := make(chan error, writers*each)
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < each; i++ {
				out, err := s.Update("c", id, AnyVersion, "api", func(d Doc) error { d["n"] = d["n"].(float64) + 1; return nil })
				if err != nil {
					errs <- err
					return
				}
				mu.Lock()
				ok := seen[out[jsondoc.FieldVersion].(float64)]
				mu.Unlock()
				if !ok {
					errs <- fmt.Errorf("version %v answered before its commit was reported", out[jsondoc.FieldVersion])
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if len(versions) != writers*each {
		t.Fatalf("reported %d updates, want %d", len(versions), writers*each)
	}
	for i, v := range versions {
		if v != float64(i+1) {
			t.Fatalf("update %d reported version %v: not in commit order", i, v)
		}
	}
}
