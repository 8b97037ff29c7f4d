package store

import (
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"

	bolt "go.etcd.io/bbolt"

	"github.com/restkube/restkube/dbserver/jsondoc"
)

// CorruptError reports a stored document that cannot be decoded. The store writes none (every
// write is checked against the decoder's limits), but a file written by an older version, or
// restored from elsewhere, may hold one; `dbserver check --repair` removes it.
type CorruptError struct {
	Coll, ID string
	Err      error
}

// ErrCorrupt is wrapped by every *CorruptError, for errors.Is.
var ErrCorrupt = errors.New("stored document cannot be decoded")

func (e *CorruptError) Error() string {
	return fmt.Sprintf("store: document %s/%s cannot be decoded (dbserver check --repair removes it): %v", e.Coll, e.ID, e.Err)
}

// Unwrap returns ErrCorrupt and the decoding error.
func (e *CorruptError) Unwrap() []error { return []error{ErrCorrupt, e.Err} }

// Corrupt wraps err, met while decoding the stored document raw of coll, as a *CorruptError
// naming the document's id (read from raw, which works on any document whose _id is intact).
func Corrupt(coll string, raw []byte, err error) error {
	if err == nil {
		return nil
	}
	var ce *CorruptError
	if errors.As(err, &ce) {
		return err
	}
	id := "?"
	if f, ferr := jsondoc.DecodeFields(raw, []string{jsondoc.FieldID}); ferr == nil {
		if s, ok := f[jsondoc.FieldID].(string); ok {
			id = s
		}
	}
	return &CorruptError{Coll: coll, ID: id, Err: err}
}

// Problem is one finding of Check.
type Problem struct {
	Coll string
	// ID is the document's id (hex).
	ID string
	// Index is the index path for an index entry that disagrees with its document; empty for
	// a document that does not decode.
	Index string
	// What says what is wrong, and Repaired whether Check repaired it.
	What     string
	Repaired bool
}

func (p Problem) String() string {
	where := p.Coll + "/" + p.ID
	if p.Index != "" {
		where += " index " + p.Index
	}
	s := where + ": " + p.What
	if p.Repaired {
		s += " (repaired)"
	}
	return s
}

// CheckReport sums up a Check.
type CheckReport struct {
	Documents, IndexEntries int
	Problems                []Problem
}

// Check verifies that every stored document decodes and that every complete index holds
// exactly the entries its documents give (an index still being built is skipped: the next
// SetIndexes finishes it). With repair it removes each document that does not decode (and
// every index entry naming it) and puts back or deletes the index entries that disagree, all in
// one transaction; without, it only reads. report, when not nil, is called with each problem
// as it is found. The backup restore runs it on a restored file.
func (s *Store) Check(repair bool, report func(Problem)) (CheckReport, error) {
	var rep CheckReport
	run := s.db.View
	if repair {
		run = s.db.Update
	}
	err := run(func(tx *bolt.Tx) error {
		rep = CheckReport{}
		note := func(p Problem) {
			p.Repaired = repair
			rep.Problems = append(rep.Problems, p)
			if report != nil {
				report(p)
			}
		}
		colls := tx.Bucket(bucketCollections)
		var names []string
		_ = colls.ForEachBucket(func(k []byte) error { names = append(names, string(k)); return nil })
		for _, coll := range names {
			if err := checkCollection(tx, coll, repair, &rep, note); err != nil {
				return err
			}
		}
		return nil
	})
	return rep, err
}

func checkCollection(tx *bolt.Tx, coll string, repair bool, rep *CheckReport, note func(Problem)) error {
	b := collBucket(tx, coll)
	idx := collIndexes(tx, coll)
	complete := idx[:0:0]
	for _, ix := range idx {
		if ix.b.Get(buildingMark) == nil {
			complete = append(complete, ix)
		}
	}
	want := make([]map[string]bool, len(complete))
	for i := range want {
		want[i] = map[string]bool{}
	}
	var broken [][]byte
	c := b.Cursor()
	for k, v := c.First(); k != nil; k, v = c.Next() {
		if v == nil {
			continue
		}
		rep.Documents++
		d, err := decodeDoc(v)
		if err != nil {
			broken = append(broken, slices.Clone(k))
			note(Problem{Coll: coll, ID: hex.EncodeToString(k), What: "does not decode: " + err.Error()})
			continue
		}
		for i, ix := range complete {
			for _, key := range indexKeys(d, ix.path, k) {
				want[i][string(key)] = true
			}
		}
	}
	if repair {
		// After the walk: deleting under a bbolt cursor can skip entries.
		for _, k := range broken {
			if err := dropIndexEntriesOf(idx, k); err != nil {
				return err
			}
			if err := b.Delete(k); err != nil {
				return fmt.Errorf("store: deleting %s/%x: %w", coll, k, err)
			}
		}
	}
	for i, ix := range complete {
		var extra [][]byte
		have := map[string]bool{}
		ic := ix.b.Cursor()
		for k, _ := ic.First(); k != nil; k, _ = ic.Next() {
			if bytes.Equal(k, buildingMark) {
				continue
			}
			rep.IndexEntries++
			have[string(k)] = true
			if !want[i][string(k)] && !isBroken(broken, k) {
				extra = append(extra, slices.Clone(k))
			}
		}
		var missing [][]byte
		for k := range want[i] {
			if !have[k] {
				missing = append(missing, []byte(k))
			}
		}
		slices.SortFunc(missing, bytes.Compare)
		for _, k := range extra {
			note(Problem{Coll: coll, ID: entryID(k), Index: ix.path, What: "index entry without a matching document value"})
		}
		for _, k := range missing {
			note(Problem{Coll: coll, ID: entryID(k), Index: ix.path, What: "index entry missing"})
		}
		if !repair {
			continue
		}
		for _, k := range extra {
			if err := ix.b.Delete(k); err != nil {
				return fmt.Errorf("store: index %s.%s: %w", coll, ix.path, err)
			}
		}
		for _, k := range missing {
			if err := ix.b.Put(k, nil); err != nil {
				return fmt.Errorf("store: index %s.%s: %w", coll, ix.path, err)
			}
		}
	}
	return nil
}

// entryID is the id (hex) at the end of an index key.
func entryID(k []byte) string {
	if len(k) < idLen {
		return "?"
	}
	return hex.EncodeToString(k[len(k)-idLen:])
}

func isBroken(broken [][]byte, k []byte) bool {
	if len(k) < idLen {
		return false
	}
	id := k[len(k)-idLen:]
	for _, b := range broken {
		if bytes.Equal(b, id) {
			return true
		}
	}
	return false
}

// dropIndexEntriesOf deletes every entry naming the document id from the indexes idx, without
// the document: it walks each index (for a document that cannot be decoded, whose entries
// cannot be computed).
func dropIndexEntriesOf(idx []indexRef, id []byte) error {
	for _, ix := range idx {
		var keys [][]byte
		c := ix.b.Cursor()
		for k, _ := c.First(); k != nil; k, _ = c.Next() {
			if len(k) > idLen && bytes.Equal(k[len(k)-idLen:], id) {
				keys = append(keys, slices.Clone(k))
			}
		}
		for _, k := range keys {
			if err := ix.b.Delete(k); err != nil {
				return fmt.Errorf("store: index %q: %w", ix.path, err)
			}
		}
	}
	return nil
}

// removeRaw deletes the document stored as raw under key and its index entries. The entries are
// found from the indexed fields alone, or, when even those do not decode, by walking the indexes:
// deleting never needs the whole document to decode.
func removeRaw(b *bolt.Bucket, idx []indexRef, coll string, key, raw []byte) error {
	if err := reindexRaw(idx, key, raw, nil); err != nil {
		if err := dropIndexEntriesOf(idx, key); err != nil {
			return err
		}
	}
	if err := b.Delete(key); err != nil {
		return fmt.Errorf("store: deleting %s/%s: %w", coll, hex.EncodeToString(key), err)
	}
	return nil
}

// checkFields are the fields Delete and DeleteMany always decode for their checks.
var checkFields = []string{jsondoc.FieldVersion, jsondoc.FieldCreatedBy}

// fieldsForCheck decodes the fields a delete checks (its version, its owner, and extra for the
// caller's allow), which works on a document whose other fields do not decode.
func fieldsForCheck(coll string, raw []byte, extra []string) (Doc, error) {
	fields := checkFields
	if len(extra) > 0 {
		fields = append(slices.Clip(checkFields), extra...)
	}
	d, err := jsondoc.DecodeFields(raw, fields)
	if err != nil {
		return nil, Corrupt(coll, raw, err)
	}
	return d, nil
}
