package store

import (
	"errors"
	"fmt"
	"log/slog"
	"math"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/restkube/restkube/dbserver/jsondoc"
	"github.com/restkube/restkube/internal/testutil"
)

func openTest(t testing.TB, opts Options) *Store {
	t.Helper()
	s, err := Open(filepath.Join(t.TempDir(), "data.db"), opts)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func mustInsert(t testing.TB, s *Store, coll string, docs ...Doc) []Doc {
	t.Helper()
	out, err := s.Insert(coll, docs, "api")
	if err != nil {
		t.Fatalf("Insert: %v", err)
	}
	return out
}

func count(t testing.TB, s *Store, coll string) int {
	t.Helper()
	n := 0
	if err := s.Scan(coll, func(Doc) bool { n++; return true }); err != nil {
		t.Fatalf("Scan: %v", err)
	}
	return n
}

func TestInsertSetsSystemFieldsAndDropsClientOnes(t *testing.T) {
	clk := testutil.NewClock(time.Date(2026, 3, 28, 12, 32, 19, 69_000_000, time.FixedZone("CET", 3600)))
	s := openTest(t, Options{Now: clk.Now})

	in := Doc{"name": "Joe", "_id": "client-id", "_version": 7.0, "_secret": "x", "nested": map[string]any{"_keep": 1.0}}
	out, err := s.Insert("people", []Doc{in}, "joe@example.com")
	if err != nil {
		t.Fatalf("Insert: %v", err)
	}
	d := out[0]
	id, _ := d["_id"].(string)
	if !ValidID(id) {
		t.Fatalf("_id %q is not a valid ObjectID", id)
	}
	want := Doc{
		"_id": id, "name": "Joe", "nested": map[string]any{"_keep": 1.0},
		"_created": "2026-03-28T11:32:19.069Z", "_changed": "2026-03-28T11:32:19.069Z",
		"_createdby": "joe@example.com", "_changedby": "joe@example.com", "_version": 0.0,
	}
	if !reflect.DeepEqual(d, want) {
		t.Errorf("Insert returned\n%v\nwant\n%v", d, want)
	}
	got, err := s.Get("people", id)
	if err != nil {
		t.Fatalf("Get: %v", err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Get returned\n%v\nwant\n%v", got, want)
	}
	if in["_id"] != "client-id" || len(in) != 5 {
		t.Errorf("Insert modified its input: %v", in)
	}
	if ts := mustParse(t, id).Time(); !ts.Equal(time.Date(2026, 3, 28, 11, 32, 19, 0, time.UTC)) {
		t.Errorf("id time = %v, want the clock's second", ts)
	}
}

func mustParse(t testing.TB, id string) ObjectID {
	t.Helper()
	oid, err := ParseObjectID(id)
	if err != nil {
		t.Fatal(err)
	}
	return oid
}

func TestGetMissing(t *testing.T) {
	s := openTest(t, Options{})
	d := mustInsert(t, s, "tasks", Doc{"a": 1.0})[0]
	tests := map[string]struct{ coll, id string }{
		"unknown id":         {"tasks", "0123456789abcdef01234567"},
		"unknown collection": {"nope", d["_id"].(string)},
		"malformed id":       {"tasks", "xyz"},
		"uppercase id":       {"tasks", strings.ToUpper(d["_id"].(string))},
		"empty collection":   {"", d["_id"].(string)},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if _, err := s.Get(tc.coll, tc.id); !errors.Is(err, ErrNotFound) {
				t.Errorf("Get(%q, %q) error = %v, want ErrNotFound", tc.coll, tc.id, err)
			}
		})
	}
}

func TestUpdate(t *testing.T) {
	clk := testutil.NewClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	s := openTest(t, Options{Now: clk.Now})
	orig := mustInsert(t, s, "tasks", Doc{"title": "a", "n": 1.0, "tags": []any{"x"}})[0]
	id := orig["_id"].(string)
	clk.Set(time.Date(2026, 1, 2, 3, 4, 5, 6_000_000, time.UTC))

	got, err := s.Update("tasks", id, 0, "bob", func(d Doc) error {
		d["n"] = d["n"].(float64) + 1
		d["tags"] = append(d["tags"].([]any), "y")
		// A client must not be able to set system fields through apply.
		d["_id"], d["_created"], d["_createdby"], d["_version"], d["_other"] = "x", "x", "x", 99.0, "x"
		delete(d, "title")
		return nil
	})
	if err != nil {
		t.Fatalf("Update: %v", err)
	}
	want := Doc{
		"_id": id, "n": 2.0, "tags": []any{"x", "y"},
		"_created": "2026-01-01T00:00:00.000Z", "_changed": "2026-01-02T03:04:05.006Z",
		"_createdby": "api", "_changedby": "bob", "_version": 1.0,
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Update returned\n%v\nwant\n%v", got, want)
	}
	if stored, _ := s.Get("tasks", id); !reflect.DeepEqual(stored, want) {
		t.Errorf("stored\n%v\nwant\n%v", stored, want)
	}

	veto := errors.New("veto")
	failures := map[string]struct {
		id      string
		version int64
		apply   func(Doc) error
		wantErr error
	}{
		"stale version":     {id, 0, nil, ErrVersionMismatch},
		"future version":    {id, 5, nil, ErrVersionMismatch},
		"apply vetoes":      {id, AnyVersion, func(d Doc) error { d["n"] = 100.0; return veto }, veto},
		"unknown id":        {"0123456789abcdef01234567", AnyVersion, nil, ErrNotFound},
		"malformed id":      {"nope", AnyVersion, nil, ErrNotFound},
		"unencodable value": {id, AnyVersion, func(d Doc) error { d["n"] = math.NaN(); return nil }, nil},
		"apply panics":      {id, AnyVersion, func(d Doc) error { panic("boom") }, nil},
	}
	for name, tc := range failures {
		t.Run(name, func(t *testing.T) {
			_, err := s.Update("tasks", tc.id, tc.version, "eve", tc.apply)
			if err == nil || tc.wantErr != nil && !errors.Is(err, tc.wantErr) {
				t.Fatalf("Update error = %v, want %v", err, tc.wantErr)
			}
			if stored, _ := s.Get("tasks", id); !reflect.DeepEqual(stored, want) {
				t.Errorf("a failed update changed the document:\n%v\nwant\n%v", stored, want)
			}
		})
	}

	if got, err := s.Update("tasks", id, 1, "bob", nil); err != nil || jsondoc.Version(got) != 2 {
		t.Errorf("Update with the right version = %v, %v; want version 2", got, err)
	}
	if got, err := s.Update("tasks", id, AnyVersion, "bob", nil); err != nil || jsondoc.Version(got) != 3 {
		t.Errorf("Update with any version = %v, %v; want version 3", got, err)
	}
}

func TestDelete(t *testing.T) {
	s := openTest(t, Options{})
	veto := fmt.Errorf("private: %w", ErrNotFound)
	tests := map[string]struct {
		version  int64
		allow    func(Doc) error
		useID    string
		wantErr  error
		wantGone bool
	}{
		"unconditional":    {AnyVersion, nil, "", nil, true},
		"matching version": {0, nil, "", nil, true},
		"stale version":    {3, nil, "", ErrVersionMismatch, false},
		"allowed":          {AnyVersion, func(Doc) error { return nil }, "", nil, true},
		"vetoed":           {AnyVersion, func(Doc) error { return veto }, "", ErrNotFound, false},
		"unknown id":       {AnyVersion, nil, "0123456789abcdef01234567", ErrNotFound, false},
		"malformed id":     {AnyVersion, nil, "0123", ErrNotFound, false},
		"allow sees the version and owner only": {AnyVersion, func(d Doc) error {
			if d[jsondoc.FieldCreatedBy] != "api" || jsondoc.Version(d) != 0 || len(d) != 2 {
				return errors.New("wrong doc")
			}
			return nil
		}, "", nil, true},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			id := mustInsert(t, s, "tasks", Doc{"k": "v"})[0]["_id"].(string)
			target := id
			if tc.useID != "" {
				target = tc.useID
			}
			err := s.Delete("tasks", target, tc.version, tc.allow)
			if tc.wantErr == nil && err != nil || tc.wantErr != nil && !errors.Is(err, tc.wantErr) {
				t.Fatalf("Delete error = %v, want %v", err, tc.wantErr)
			}
			_, err = s.Get("tasks", id)
			if gone := errors.Is(err, ErrNotFound); gone != tc.wantGone {
				t.Errorf("document gone = %v, want %v", gone, tc.wantGone)
			}
		})
	}
}

func TestDeleteMany(t *testing.T) {
	s := openTest(t, Options{})
	docs := mustInsert(t, s, "tasks", Doc{"n": 0.0}, Doc{"n": 1.0}, Doc{"n": 2.0}, Doc{"n": 3.0}, Doc{"n": 4.0})
	id := func(i int) string { return docs[i]["_id"].(string) }
	// Input order, not key order; unknown, malformed, duplicate and disallowed ids are skipped.
	ids := []string{id(3), "0123456789abcdef01234567", id(1), "bad", id(3), id(2), id(0)}
	// allow sees _version and _createdby (not the whole document): document 2 is at version 1.
	if _, err := s.Update("tasks", id(2), AnyVersion, "api", nil); err != nil {
		t.Fatal(err)
	}
	got, err := s.DeleteMany("tasks", ids, func(d Doc) bool { return jsondoc.Version(d) == 0 })
	if err != nil {
		t.Fatalf("DeleteMany: %v", err)
	}
	if want := []string{id(3), id(1), id(0)}; !reflect.DeepEqual(got, want) {
		t.Errorf("DeleteMany = %v, want %v", got, want)
	}
	var left []string
	_ = s.Scan("tasks", func(d Doc) bool { left = append(left, d["_id"].(string)); return true })
	if want := []string{id(2), id(4)}; !reflect.DeepEqual(left, want) {
		t.Errorf("left %v, want %v", left, want)
	}
	if got, err := s.DeleteMany("nope", []string{id(2)}, nil); err != nil || len(got) != 0 {
		t.Errorf("DeleteMany on an unknown collection = %v, %v; want nothing", got, err)
	}
	if got, err := s.DeleteMany("tasks", []string{id(2), id(4)}, nil); err != nil || len(got) != 2 {
		t.Errorf("DeleteMany with nil allow = %v, %v; want both", got, err)
	}
}

func TestDeleteWhere(t *testing.T) {
	s := openTest(t, Options{})
	var want []string
	for i := range 20 {
		d := mustInsert(t, s, "tasks", Doc{"n": float64(i)})[0]
		if i%3 == 0 {
			want = append(want, d["_id"].(string))
		}
	}
	got, err := s.DeleteWhere("tasks", func(d Doc) bool { return int(d["n"].(float64))%3 == 0 })
	if err != nil {
		t.Fatalf("DeleteWhere: %v", err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("DeleteWhere = %v, want %v", got, want)
	}
	if n := count(t, s, "tasks"); n != 20-len(want) {
		t.Errorf("%d documents left, want %d", n, 20-len(want))
	}
	if got, err := s.DeleteWhere("nope", func(Doc) bool { return true }); err != nil || len(got) != 0 {
		t.Errorf("DeleteWhere on an unknown collection = %v, %v", got, err)
	}
}

func TestScanOrderIsCreationOrder(t *testing.T) {
	base := time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
	clk := testutil.NewClock(base)
	s := openTest(t, Options{Now: clk.Now})
	var want []string
	for i := range 30 {
		// The clock jumps around, backwards included; creation order must still hold.
		clk.Set(base.Add(time.Duration((i*7)%5-2) * time.Second))
		for _, d := range mustInsert(t, s, "c", Doc{"i": float64(i)}, Doc{"i": float64(i) + 0.5}) {
			want = append(want, d["_id"].(string))
		}
	}
	var got []string
	if err := s.Scan("c", func(d Doc) bool { got = append(got, d["_id"].(string)); return true }); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("Scan order\n%v\nwant creation order\n%v", got, want)
	}
	n := 0
	_ = s.Scan("c", func(Doc) bool { n++; return n < 5 })
	if n != 5 {
		t.Errorf("Scan went on after fn returned false: %d calls", n)
	}
	calls := 0
	if err := s.Scan("unknown", func(Doc) bool { calls++; return true }); err != nil || calls != 0 {
		t.Errorf("Scan of an unknown collection: %d calls, %v", calls, err)
	}
}

func TestInsertIsAllOrNothing(t *testing.T) {
	s := openTest(t, Options{})
	docs := []Doc{{"a": 1.0}, {"b": math.Inf(1)}, {"c": 3.0}}
	if _, err := s.Insert("bulk", docs, "api"); err == nil || !strings.Contains(err.Error(), "document 1") {
		t.Fatalf("Insert with an unencodable document: error = %v, want one naming document 1", err)
	}
	if n := count(t, s, "bulk"); n != 0 {
		t.Errorf("%d documents stored after a failed bulk insert, want 0", n)
	}
	colls, _ := s.Collections()
	if len(colls) != 0 {
		t.Errorf("a failed insert created collections %v", colls)
	}
	out := mustInsert(t, s, "bulk", Doc{"a": 1.0}, Doc{"b": 2.0}, Doc{"c": 3.0})
	var got []string
	_ = s.Scan("bulk", func(d Doc) bool { got = append(got, d["_id"].(string)); return true })
	if len(got) != 3 || got[0] != out[0]["_id"] || got[2] != out[2]["_id"] {
		t.Errorf("bulk insert stored %v, want input order %v", got, out)
	}
	if got, err := s.Insert("bulk", nil, "api"); err != nil || len(got) != 0 {
		t.Errorf("empty Insert = %v, %v", got, err)
	}
	if _, err := s.Insert("", []Doc{{}}, "api"); err == nil {
		t.Error("Insert into an empty collection name succeeded")
	}
}

func TestCollections(t *testing.T) {
	s := openTest(t, Options{})
	mustInsert(t, s, "b", Doc{})
	mustInsert(t, s, "a", Doc{})
	if err := s.PutMeta("c", "k", []byte("v")); err != nil {
		t.Fatal(err)
	}
	got, err := s.Collections()
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"a", "b"}; !reflect.DeepEqual(got, want) {
		t.Errorf("Collections = %v, want %v (meta buckets must not show)", got, want)
	}
}

func TestConcurrentWritersAreAllAcknowledged(t *testing.T) {
	s := openTest(t, Options{})
	const writers, each = 16, 40
	var wg sync.WaitGroup
	ids := make([][]string, writers)
	errs := make(chan error, writers)
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				out, err := s.Insert("load", []Doc{{"w": float64(w), "i": float64(i)}}, "api")
				if err != nil {
					errs <- err
					return
				}
				id := out[0]["_id"].(string)
				// Every third write also updates, and some of those race on purpose with a stale version.
				if i%3 == 0 {
					if _, err := s.Update("load", id, 0, "api", func(d Doc) error { d["u"] = true; return nil }); err != nil {
						errs <- err
						return
					}
					if _, err := s.Update("load", id, 0, "api", nil); !errors.Is(err, ErrVersionMismatch) {
						errs <- fmt.Errorf("stale update: %w, want ErrVersionMismatch", err)
						return
					}
				}
				ids[w] = append(ids[w], id)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for w := range writers {
		for i, id := range ids[w] {
			d, err := s.Get("load", id)
			if err != nil {
				t.Fatalf("acknowledged %s missing: %v", id, err)
			}
			if d["w"] != float64(w) || d["i"] != float64(i) || (i%3 == 0) != (d["u"] == true) {
				t.Errorf("document %s = %v", id, d)
			}
			seen[id] = true
		}
	}
	if len(seen) != writers*each || count(t, s, "load") != writers*each {
		t.Errorf("%d distinct ids, %d stored; want %d", len(seen), count(t, s, "load"), writers*each)
	}
}

func TestOpenFailsFastOnHeldLock(t *testing.T) {
	path := filepath.Join(t.TempDir(), "data.db")
	s, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	start := time.Now()
	s2, err := Open(path, Options{OpenTimeout: 200 * time.Millisecond})
	if err == nil {
		s2.Close()
		t.Fatal("second Open of a locked file succeeded")
	}
	if elapsed := time.Since(start); elapsed > 5*time.Second {
		t.Errorf("second Open took %v, want about the 200ms timeout", elapsed)
	}
	if msg := err.Error(); !strings.Contains(msg, path) || !strings.Contains(msg, "locked") {
		t.Errorf("error %q should name the file and say it is locked", msg)
	}
}

func TestReopenKeepsDataAndIDOrder(t *testing.T) {
	path := filepath.Join(t.TempDir(), "data.db")
	clk := testutil.NewClock(time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC))
	s, err := Open(path, Options{Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	first := mustInsert(t, s, "c", Doc{"n": 1.0})[0]
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Insert("c", []Doc{{}}, "api"); !errors.Is(err, ErrClosed) {
		t.Errorf("Insert after Close: %v, want ErrClosed", err)
	}

	// The next process's clock is an hour behind: its ids must still sort after the old ones.
	clk.Set(clk.Now().Add(-time.Hour))
	s, err = Open(path, Options{Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if got, err := s.Get("c", first["_id"].(string)); err != nil || !reflect.DeepEqual(got, first) {
		t.Fatalf("after reopen Get = %v, %v; want %v", got, err, first)
	}
	second := mustInsert(t, s, "c", Doc{"n": 2.0})[0]
	if second["_id"].(string) <= first["_id"].(string) {
		t.Errorf("id after reopen %s does not sort after %s", second["_id"], first["_id"])
	}
}

func TestMeta(t *testing.T) {
	s := openTest(t, Options{})
	if v, err := s.GetMeta("revoked", "a"); v != nil || err != nil {
		t.Errorf("GetMeta of an absent bucket = %q, %v; want nil, nil", v, err)
	}
	buf := []byte("1")
	for _, k := range []string{"c", "a", "b"} {
		if err := s.PutMeta("revoked", k, buf); err != nil {
			t.Fatal(err)
		}
	}
	buf[0] = '9' // the store must have kept its own copy
	if err := s.PutMeta("revoked", "b", []byte("2")); err != nil {
		t.Fatal(err)
	}
	if v, err := s.GetMeta("revoked", "b"); string(v) != "2" || err != nil {
		t.Errorf("GetMeta(b) = %q, %v; want 2", v, err)
	}
	if v, _ := s.GetMeta("revoked", "a"); string(v) != "1" {
		t.Errorf("GetMeta(a) = %q; want 1", v)
	}
	if v, err := s.GetMeta("revoked", "zz"); v != nil || err != nil {
		t.Errorf("GetMeta of an absent key = %q, %v", v, err)
	}
	// A meta bucket and a collection with the same name do not meet.
	mustInsert(t, s, "revoked", Doc{"x": 1.0})
	var keys []string
	if err := s.ScanMeta("revoked", func(k string, v []byte) bool { keys = append(keys, k+"="+string(v)); return true }); err != nil {
		t.Fatal(err)
	}
	if want := []string{"a=1", "b=2", "c=1"}; !reflect.DeepEqual(keys, want) {
		t.Errorf("ScanMeta = %v, want %v", keys, want)
	}
	if err := s.DeleteMeta("revoked", "a", "c", "missing"); err != nil {
		t.Fatal(err)
	}
	keys = nil
	_ = s.ScanMeta("revoked", func(k string, _ []byte) bool { keys = append(keys, k); return true })
	if want := []string{"b"}; !reflect.DeepEqual(keys, want) {
		t.Errorf("after DeleteMeta keys = %v, want %v", keys, want)
	}
	if err := s.DeleteMeta("absent", "a"); err != nil {
		t.Errorf("DeleteMeta on an absent bucket: %v", err)
	}
	for _, bad := range []struct{ bucket, key string }{{"", "k"}, {"b", ""}} {
		if err := s.PutMeta(bad.bucket, bad.key, nil); err == nil {
			t.Errorf("PutMeta(%q, %q) succeeded", bad.bucket, bad.key)
		}
	}
}

func TestPutMetasIsAllOrNone(t *testing.T) {
	s := openTest(t, Options{})
	vals := [][]byte{[]byte("1"), []byte("2")}
	if err := s.PutMetas("m", []string{"a", "b"}, vals); err != nil {
		t.Fatal(err)
	}
	vals[0][0] = '9' // the store must have kept its own copy
	for k, want := range map[string]string{"a": "1", "b": "2"} {
		if v, err := s.GetMeta("m", k); string(v) != want || err != nil {
			t.Errorf("GetMeta(%s) = %q, %v; want %s", k, v, err, want)
		}
	}
	// One bad key refuses the whole call: the good key before it is not written.
	if err := s.PutMetas("m", []string{"c", ""}, [][]byte{[]byte("3"), []byte("4")}); err == nil {
		t.Error("PutMetas with an empty key succeeded")
	}
	if v, _ := s.GetMeta("m", "c"); v != nil {
		t.Errorf("a refused PutMetas wrote c = %q", v)
	}
	if err := s.PutMetas("m", []string{"c"}, nil); err == nil {
		t.Error("PutMetas with more keys than values succeeded")
	}
}

func discardLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }

// Updates are prepared outside the writer from a snapshot; one whose document changed in the
// meantime must be prepared again, never stored from the stale copy. Concurrent increments
// with no version check therefore all count.
func TestConcurrentUpdatesAreNotLost(t *testing.T) {
	s := openTest(t, Options{})
	if err := s.SetIndexes(map[string][]string{"c": {"n"}}); err != nil {
		t.Fatal(err)
	}
	id := mustInsert(t, s, "c", Doc{"n": 0.0})[0][jsondoc.FieldID].(string)
	const writers, each = 16, 40
	var wg sync.WaitGroup
	for range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range each {
				if _, err := s.Update("c", id, AnyVersion, "api", func(d Doc) error {
					d["n"] = d["n"].(float64) + 1
					return nil
				}); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	d, err := s.Get("c", id)
	if err != nil {
		t.Fatal(err)
	}
	if d["n"] != float64(writers*each) || jsondoc.Version(d) != writers*each {
		t.Errorf("after %d increments n = %v, _version = %d", writers*each, d["n"], jsondoc.Version(d))
	}
	checkIndexes(t, s, "c", "n")
}

func TestInsertChildrenKeepsParent(t *testing.T) {
	s := openTest(t, Options{})
	parent := Parent{ID: "0123456789abcdef01234567", Def: "contact", Field: "activities"}
	out, err := s.InsertChildren("activities", []Doc{{"what": "call", "_parent_id": "forged"}}, "api", parent)
	if err != nil {
		t.Fatal(err)
	}
	id := out[0]["_id"].(string)
	check := func(d Doc) {
		t.Helper()
		if d["_parent_id"] != parent.ID || d["_parent_def"] != parent.Def || d["_parent_field"] != parent.Field {
			t.Errorf("parent fields %v %v %v, want %+v", d["_parent_id"], d["_parent_def"], d["_parent_field"], parent)
		}
	}
	check(out[0])
	d, err := s.Update("activities", id, AnyVersion, "api", func(d Doc) error {
		d["what"] = "meeting"
		d["_parent_id"] = "forged"
		delete(d, "_parent_def")
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	check(d)
	stored, err := s.Get("activities", id)
	if err != nil {
		t.Fatal(err)
	}
	check(stored)
	if stored["what"] != "meeting" {
		t.Errorf("what = %v", stored["what"])
	}
	plain, err := s.Insert("activities", []Doc{{"what": "x"}}, "api")
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := plain[0]["_parent_id"]; ok {
		t.Error("a plain insert has a _parent_id")
	}
}
