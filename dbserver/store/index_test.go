package store

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"testing"

	"github.com/restkube/restkube/dbserver/jsondoc"
	"github.com/restkube/restkube/internal/testutil"
	bolt "go.etcd.io/bbolt"
)

// indexEntries lists the entries of an index as "kind value-hex id-hex" strings.
func indexEntries(t *testing.T, s *Store, coll, path string) []string {
	t.Helper()
	var out []string
	err := s.View(func(sn *Snapshot) error {
		for _, kind := range []byte{IndexElements, IndexWhole} {
			sn.IndexScan(coll, path, kind, KeyRange{}, false, func(v, id []byte) bool {
				out = append(out, fmt.Sprintf("%c %x %x", kind, v, id))
				return true
			})
		}
		return nil
	})
	if err != nil {
		t.Fatalf("View: %v", err)
	}
	return out
}

// expectedEntries rebuilds the entries of an index from the stored documents.
func expectedEntries(t *testing.T, s *Store, coll, path string) []string {
	t.Helper()
	var out []string
	if err := s.Scan(coll, func(d Doc) bool {
		id, _ := ParseObjectID(d[jsondoc.FieldID].(string))
		for _, k := range indexKeys(d, path, id[:]) {
			out = append(out, fmt.Sprintf("%c %x %x", k[0], k[1:len(k)-idLen], k[len(k)-idLen:]))
		}
		return true
	}); err != nil {
		t.Fatalf("Scan: %v", err)
	}
	slices.Sort(out)
	return out
}

func checkIndexes(t *testing.T, s *Store, coll string, paths ...string) {
	t.Helper()
	for _, p := range paths {
		got, want := indexEntries(t, s, coll, p), expectedEntries(t, s, coll, p)
		if !slices.Equal(got, want) {
			t.Fatalf("index %s.%s out of sync:\n got %d entries %v\nwant %d entries %v", coll, p, len(got), got, len(want), want)
		}
	}
}

func TestIndexesFollowEveryKindOfWrite(t *testing.T) {
	s := openTest(t, Options{})
	if err := s.SetIndexes(map[string][]string{"c": {"n", "a.b", "tags"}}); err != nil {
		t.Fatalf("SetIndexes: %v", err)
	}
	paths := []string{"n", "a.b", "tags"}
	r := rand.New(rand.NewPCG(5, 6))
	randDoc := func() Doc {
		d := Doc{}
		if r.IntN(4) > 0 {
			d["n"] = testutil.RandValue(r, 0)
		}
		if r.IntN(2) == 0 {
			d["a"] = []any{map[string]any{"b": testutil.RandValue(r, 1)}, map[string]any{"b": float64(r.IntN(3))}}
		} else if r.IntN(2) == 0 {
			d["a"] = map[string]any{"b": testutil.RandValue(r, 1)}
		}
		if r.IntN(2) == 0 {
			d["tags"] = []any{"x", "y", float64(r.IntN(3)), "x"}
		}
		return d
	}
	var ids []string
	for round := 0; round < 30; round++ {
		// Bulk insert.
		batch := make([]Doc, 1+r.IntN(5))
		for i := range batch {
			batch[i] = randDoc()
		}
		for _, d := range mustInsert(t, s, "c", batch...) {
			ids = append(ids, d[jsondoc.FieldID].(string))
		}
		checkIndexes(t, s, "c", paths...)
		// Update.
		id := ids[r.IntN(len(ids))]
		repl := randDoc()
		if _, err := s.Update("c", id, AnyVersion, "api", func(d Doc) error {
			clear(d)
			for k, v := range repl {
				d[k] = v
			}
			return nil
		}); err != nil && !errors.Is(err, ErrNotFound) {
			t.Fatalf("Update: %v", err)
		}
		checkIndexes(t, s, "c", paths...)
		// Delete one, several, or by condition.
		switch round % 3 {
		case 0:
			if err := s.Delete("c", ids[r.IntN(len(ids))], AnyVersion, nil); err != nil && !errors.Is(err, ErrNotFound) {
				t.Fatalf("Delete: %v", err)
			}
		case 1:
			if _, err := s.DeleteMany("c", []string{ids[r.IntN(len(ids))], ids[r.IntN(len(ids))]}, nil); err != nil {
				t.Fatalf("DeleteMany: %v", err)
			}
		default:
			if _, err := s.DeleteWhere("c", func(d Doc) bool { _, ok := d["tags"]; return ok && r.IntN(2) == 0 }); err != nil {
				t.Fatalf("DeleteWhere: %v", err)
			}
		}
		checkIndexes(t, s, "c", paths...)
	}
	if len(expectedEntries(t, s, "c", "n")) == 0 {
		t.Fatal("the test left no documents to check")
	}
}

func TestSetIndexesBuildsAndDrops(t *testing.T) {
	s := openTest(t, Options{})
	mustInsert(t, s, "c", Doc{"n": 1.0, "m": "x"}, Doc{"n": []any{2.0, "a"}}, Doc{"m": true})
	mustInsert(t, s, "d", Doc{"n": 5.0})
	if err := s.SetIndexes(map[string][]string{"c": {"n", "m", "", "_id", "a..b"}, "d": {"n"}}); err != nil {
		t.Fatalf("SetIndexes: %v", err)
	}
	got, err := s.Indexes()
	if err != nil {
		t.Fatal(err)
	}
	if want := map[string][]string{"c": {"m", "n"}, "d": {"n"}}; !reflect.DeepEqual(got, want) {
		t.Fatalf("Indexes = %v, want %v (invalid paths ignored)", got, want)
	}
	checkIndexes(t, s, "c", "n", "m")
	checkIndexes(t, s, "d", "n")
	if n := len(indexEntries(t, s, "c", "n")); n != 5 {
		t.Fatalf("index c.n has %d entries, want 3 whole + 2 elements", n)
	}

	commits := s.Stats().Commits
	if err := s.SetIndexes(map[string][]string{"d": {"n"}, "c": {"n", "m"}, "e": nil}); err != nil {
		t.Fatalf("SetIndexes: %v", err)
	}
	if s.Stats().Commits != commits {
		t.Fatal("an unchanged index set committed a transaction")
	}

	if err := s.SetIndexes(map[string][]string{"c": {"m"}}); err != nil {
		t.Fatalf("SetIndexes: %v", err)
	}
	got, _ = s.Indexes()
	if want := map[string][]string{"c": {"m"}}; !reflect.DeepEqual(got, want) {
		t.Fatalf("after dropping: Indexes = %v, want %v", got, want)
	}
	if n := len(indexEntries(t, s, "c", "n")); n != 0 {
		t.Fatalf("dropped index still lists %d entries", n)
	}
	// Indexes survive a restart.
	path := s.Path()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s2, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	mustInsert(t, s2, "c", Doc{"m": "late"})
	checkIndexes(t, s2, "c", "m")
}

func TestFailedWriteLeavesNoIndexEntries(t *testing.T) {
	s := openTest(t, Options{})
	if err := s.SetIndexes(map[string][]string{"c": {"n"}}); err != nil {
		t.Fatal(err)
	}
	d := mustInsert(t, s, "c", Doc{"n": 1.0})[0]
	id := d[jsondoc.FieldID].(string)
	boom := errors.New("veto")
	if _, err := s.Update("c", id, AnyVersion, "api", func(d Doc) error { d["n"] = 2.0; return boom }); !errors.Is(err, boom) {
		t.Fatalf("Update error = %v, want the veto", err)
	}
	if _, err := s.Update("c", id, 7, "api", nil); !errors.Is(err, ErrVersionMismatch) {
		t.Fatalf("Update error = %v, want a version mismatch", err)
	}
	// A write that fails after changing its transaction is rolled back, index entries included.
	err := s.writer.write(func(tx *bolt.Tx, _ *changes) error {
		idx := collIndexes(tx, "c")
		oid, _ := ParseObjectID(id)
		if err := indexDoc(idx, Doc{"n": 99.0}, oid[:], true); err != nil {
			return err
		}
		return errors.New("failed late")
	})
	if err == nil {
		t.Fatal("the failing write reported success")
	}
	checkIndexes(t, s, "c", "n")
	if n := len(indexEntries(t, s, "c", "n")); n != 1 {
		t.Fatalf("index has %d entries, want 1", n)
	}
}

func TestIndexScanRangesAndDirections(t *testing.T) {
	s := openTest(t, Options{})
	if err := s.SetIndexes(map[string][]string{"c": {"n"}}); err != nil {
		t.Fatal(err)
	}
	for _, v := range []any{3.0, 1.0, 2.0, 2.0, "x", nil, 4.0} {
		mustInsert(t, s, "c", Doc{"n": v})
	}
	enc := EncodeIndexValue
	numLo, numHi := TypeRange(0.0)
	tests := map[string]struct {
		r       KeyRange
		reverse bool
		want    []any
	}{
		"everything ascending":       {KeyRange{}, false, []any{nil, 1.0, 2.0, 2.0, 3.0, 4.0, "x"}},
		"everything descending":      {KeyRange{}, true, []any{"x", 4.0, 3.0, 2.0, 2.0, 1.0, nil}},
		"numbers above 2":            {KeyRange{Low: enc(2.0), High: numHi}, false, []any{3.0, 4.0}},
		"numbers from 2, descending": {KeyRange{Low: enc(2.0), LowIncl: true, High: numHi}, true, []any{4.0, 3.0, 2.0, 2.0}},
		"numbers below 3":            {KeyRange{Low: numLo, LowIncl: true, High: enc(3.0)}, false, []any{1.0, 2.0, 2.0}},
		"numbers to 3, descending":   {KeyRange{Low: numLo, LowIncl: true, High: enc(3.0), HighIncl: true}, true, []any{3.0, 2.0, 2.0, 1.0}},
		"below 3 exclusive, desc":    {KeyRange{Low: numLo, LowIncl: true, High: enc(3.0)}, true, []any{2.0, 2.0, 1.0}},
		"exactly 2":                  {KeyRange{Low: enc(2.0), High: enc(2.0), LowIncl: true, HighIncl: true}, false, []any{2.0, 2.0}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			var got []any
			err := s.View(func(sn *Snapshot) error {
				sn.IndexScan("c", "n", IndexWhole, tc.r, tc.reverse, func(v, id []byte) bool {
					d, err := jsondoc.DecodeDoc(sn.Raw("c", id))
					if err != nil {
						t.Fatal(err)
					}
					got = append(got, d["n"])
					return true
				})
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("got %v, want %v", got, tc.want)
			}
		})
	}
}

// An index is built in many small transactions while writes go on; the writes in between
// maintain it, so once built it lists exactly the documents there are.
func TestIndexBuildsOnlineUnderWrites(t *testing.T) {
	defer func(n int) { buildChunk = n }(buildChunk)
	buildChunk = 25
	s := openTest(t, Options{})
	var docs []Doc
	for i := range 3000 {
		docs = append(docs, Doc{"n": float64(i % 97), "tags": []any{float64(i % 3), "x"}})
	}
	var ids []string
	for _, d := range mustInsert(t, s, "c", docs...) {
		ids = append(ids, d[jsondoc.FieldID].(string))
	}
	before := s.Stats().Writes
	built := make(chan error, 1)
	go func() { built <- s.SetIndexes(map[string][]string{"c": {"n", "tags"}}) }()
	r := rand.New(rand.NewPCG(7, 8))
	writes := 0
	for done := false; !done; {
		select {
		case err := <-built:
			if err != nil {
				t.Fatalf("SetIndexes: %v", err)
			}
			done = true
		default:
		}
		// Inserts (after every id), updates and deletes anywhere (before and after the walk).
		switch writes % 3 {
		case 0:
			ids = append(ids, mustInsert(t, s, "c", Doc{"n": float64(r.IntN(97)), "tags": []any{"y"}})[0][jsondoc.FieldID].(string))
		case 1:
			if _, err := s.Update("c", ids[r.IntN(len(ids))], AnyVersion, "api", func(d Doc) error {
				d["n"] = float64(r.IntN(97))
				d["tags"] = []any{float64(r.IntN(5))}
				return nil
			}); err != nil && !errors.Is(err, ErrNotFound) {
				t.Fatalf("Update: %v", err)
			}
		default:
			if err := s.Delete("c", ids[r.IntN(len(ids))], AnyVersion, nil); err != nil && !errors.Is(err, ErrNotFound) {
				t.Fatalf("Delete: %v", err)
			}
		}
		writes++
	}
	// Every chunk is one write of its own (writes share commits with it, which is the point).
	if chunks := s.Stats().Writes - before - int64(writes); chunks < 2*3000/25 {
		t.Errorf("the build took %d writes, want at least %d (chunks of %d documents for two indexes)", chunks, 2*3000/25, buildChunk)
	}
	if writes < 10 {
		t.Errorf("only %d writes ran during the build: the test did not exercise interleaving", writes)
	}
	checkIndexes(t, s, "c", "n", "tags")
	t.Logf("%d writes during the build", writes)
}

// An index still marked as building (a build cut short by an error or a restart) is not used
// by queries, and the next SetIndexes completes it.
func TestUnfinishedIndexIsNotUsedAndGetsFinished(t *testing.T) {
	s := openTest(t, Options{})
	mustInsert(t, s, "c", Doc{"n": 1.0}, Doc{"n": 2.0}, Doc{"n": 3.0})
	if err := s.SetIndexes(map[string][]string{"c": {"n"}}); err != nil {
		t.Fatal(err)
	}
	// Cut short: the mark back, and the entries of two documents gone.
	err := s.writer.write(func(tx *bolt.Tx, _ *changes) error {
		ib := indexBucket(tx, "c", "n")
		c := ib.Cursor()
		for k, _ := c.Last(); k != nil && k[0] == IndexWhole; k, _ = c.Last() {
			if err := c.Delete(); err != nil {
				return err
			}
			if len(indexEntriesRaw(ib)) <= 1 {
				break
			}
		}
		return ib.Put(buildingMark, nil)
	})
	if err != nil {
		t.Fatal(err)
	}
	indexed := func() bool {
		var ok bool
		_ = s.View(func(sn *Snapshot) error { ok = sn.Indexed("c", "n"); return nil })
		return ok
	}
	if indexed() {
		t.Fatal("an index marked as building is offered to queries")
	}
	path := s.Path()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s, err = Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.SetIndexes(map[string][]string{"c": {"n"}}); err != nil {
		t.Fatal(err)
	}
	if !indexed() {
		t.Fatal("SetIndexes left the index unfinished")
	}
	checkIndexes(t, s, "c", "n")
}

// indexEntriesRaw lists the keys of an index bucket, the building mark included.
func indexEntriesRaw(ib *bolt.Bucket) [][]byte {
	var out [][]byte
	_ = ib.ForEach(func(k, _ []byte) error { out = append(out, k); return nil })
	return out
}
