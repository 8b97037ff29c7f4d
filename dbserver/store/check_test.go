package store

import (
	"errors"
	"strings"
	"testing"

	bolt "go.etcd.io/bbolt"

	"github.com/restkube/restkube/dbserver/jsondoc"
)

// putRaw stores raw bytes as the document id of coll, behind the store's back: how a file
// written by an older version (or damaged) looks.
func putRaw(t *testing.T, s *Store, coll string, id ObjectID, raw string) {
	t.Helper()
	err := s.db.Update(func(tx *bolt.Tx) error {
		b, err := tx.Bucket(bucketCollections).CreateBucketIfNotExists([]byte(coll))
		if err != nil {
			return err
		}
		return b.Put(id[:], []byte(raw))
	})
	if err != nil {
		t.Fatal(err)
	}
}

// tooDeepJSON is a document nested past the decoder's limit, with intact system fields.
func tooDeepJSON(id ObjectID) string {
	return `{"_id":"` + id.String() + `","_version":0,"n":1,"x":` +
		strings.Repeat(`{"x":`, jsondoc.MaxDecodeDepth+5) + "1" + strings.Repeat("}", jsondoc.MaxDecodeDepth+5) + "}"
}

func TestUndecodableDocumentsCanBeDeletedAndRepaired(t *testing.T) {
	s := openTest(t, Options{})
	good := mustInsert(t, s, "c", Doc{"n": 1.0}, Doc{"n": 2.0})
	if err := s.SetIndexes(map[string][]string{"c": {"n", "x"}}); err != nil {
		t.Fatal(err)
	}
	bad1, bad2 := s.ids.next(1)[0], s.ids.next(1)[0]
	putRaw(t, s, "c", bad1, tooDeepJSON(bad1))
	putRaw(t, s, "c", bad2, tooDeepJSON(bad2))

	// Readers name the document.
	_, err := s.Get("c", bad1.String())
	var ce *CorruptError
	if !errors.As(err, &ce) || ce.ID != bad1.String() || ce.Coll != "c" {
		t.Fatalf("Get: %v, want a CorruptError naming c/%s", err, bad1)
	}
	if err := s.Scan("c", func(Doc) bool { return true }); !errors.As(err, &ce) || ce.ID != bad1.String() {
		t.Fatalf("Scan: %v, want a CorruptError naming %s", err, bad1)
	}
	_, err = s.Update("c", bad1.String(), AnyVersion, "api", func(Doc) error { return nil })
	if !errors.As(err, &ce) || ce.ID != bad1.String() || ce.Coll != "c" {
		t.Fatalf("Update: %v, want a CorruptError naming c/%s", err, bad1)
	}

	// Check finds it (and the index entries it lacks: none were written for it).
	var seen []string
	rep, err := s.Check(false, func(p Problem) { seen = append(seen, p.String()) })
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Problems) != 2 || rep.Documents != 4 || !strings.Contains(seen[0], bad1.String()) {
		t.Fatalf("Check found %v in %d documents", seen, rep.Documents)
	}

	// Delete by id, with a version check too, needs only _version.
	if err := s.Delete("c", bad1.String(), 0, func(d Doc) error { return nil }); err != nil {
		t.Fatalf("Delete of an undecodable document: %v", err)
	}

	// An index entry that names a document wrongly, and one that is missing.
	err = s.db.Update(func(tx *bolt.Tx) error {
		ib := indexBucket(tx, "c", "n")
		id := mustParse(t, good[0][jsondoc.FieldID].(string))
		if err := ib.Delete(indexKey(IndexWhole, EncodeIndexValue(1.0), id[:])); err != nil {
			return err
		}
		return ib.Put(indexKey(IndexWhole, EncodeIndexValue(99.0), id[:]), nil)
	})
	if err != nil {
		t.Fatal(err)
	}
	seen = nil
	rep, err = s.Check(true, func(p Problem) { seen = append(seen, p.String()) })
	if err != nil || len(rep.Problems) != 3 {
		t.Fatalf("repair found %v (%v), want bad2 and two index entries", seen, err)
	}
	rep, err = s.Check(false, nil)
	if err != nil || len(rep.Problems) != 0 || rep.Documents != 2 {
		t.Fatalf("after the repair: %+v %v", rep, err)
	}
	checkIndexes(t, s, "c", "n", "x")
	if n := count(t, s, "c"); n != 2 {
		t.Fatalf("%d documents after the repair, want the 2 good ones", n)
	}
}

// TestADocumentCutShortCanBeDeleted: a document cut short has no readable _version or owner.
// Delete and DeleteMany remove it when nothing but observers wants those (observers are told of
// a deletion with no owner); with a version to check or an owner check, they name it.
func TestADocumentCutShortCanBeDeleted(t *testing.T) {
	var deletions []Change
	s := openTest(t, Options{OnCommit: func(cs []Change) {
		for _, c := range cs {
			if c.Op == OpDelete {
				deletions = append(deletions, c)
			}
		}
	}})
	mustInsert(t, s, "c", Doc{"n": 1.0})
	ids := s.ids.next(2)
	for _, id := range ids {
		putRaw(t, s, "c", id, `{"_id":"`+id.String()+`","_version":0,"n":2,"text":"cut sh`)
	}
	var ce *CorruptError
	if err := s.Delete("c", ids[0].String(), 0, nil); !errors.As(err, &ce) || ce.ID != ids[0].String() {
		t.Fatalf("Delete with a version: %v, want a CorruptError naming it", err)
	}
	if err := s.Delete("c", ids[0].String(), AnyVersion, func(Doc) error { return nil }); !errors.As(err, &ce) {
		t.Fatalf("Delete with an owner check: %v, want a CorruptError", err)
	}
	if _, err := s.DeleteMany("c", []string{ids[1].String()}, func(Doc) bool { return true }); !errors.As(err, &ce) {
		t.Fatalf("DeleteMany with an owner check: %v, want a CorruptError", err)
	}
	if err := s.Delete("c", ids[0].String(), AnyVersion, nil); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	if got, err := s.DeleteMany("c", []string{ids[1].String()}, nil); err != nil || len(got) != 1 {
		t.Fatalf("DeleteMany: %v %v", got, err)
	}
	if len(deletions) != 2 || deletions[0].ID != ids[0].String() || deletions[0].CreatedBy != "" {
		t.Fatalf("observers were told %+v", deletions)
	}
	rep, err := s.Check(false, nil)
	if err != nil || len(rep.Problems) != 0 || rep.Documents != 1 {
		t.Fatalf("after the deletes: %+v %v", rep, err)
	}
}
