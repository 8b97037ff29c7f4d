package store

import (
	"bytes"
	"fmt"
	"maps"
	"slices"
	"strings"

	bolt "go.etcd.io/bbolt"

	"github.com/restkube/restkube/dbserver/jsondoc"
	"github.com/restkube/restkube/dbserver/query"
)

// Secondary indexes. Each index is a bbolt bucket "indexes"/<collection>/<path> holding only
// keys (empty values), of two kinds:
//
//   - IndexWhole: kind, the encoding of query.SortValue(doc, path) (the value Result sorts by;
//     null when missing), the 12-byte id. Every document has exactly one, so walking the kind in
//     order lists the whole collection in sort order.
//   - IndexElements: kind, the encoding of one scalar, the id; only for documents whose sort
//     value is not a scalar (an array, or several values where the path fans out). It lists each
//     number, string and boolean that query.PathValues reaches, and the scalar elements of the
//     arrays it reaches: every value a scalar condition can match through MongoDB's array rule
//     (multikey). A document is listed once per distinct element.
//
// The set of indexes is the set of buckets, so writers and readers learn it from their own
// transaction and can never disagree with the data they see. Every write that changes a
// document changes its index entries in the same transaction.

// Index kinds, the first byte of every index key.
const (
	IndexWhole    byte = 'v'
	IndexElements byte = 'e'
)

var bucketIndexes = []byte("indexes")

const idLen = len(ObjectID{})

type indexRef struct {
	path string
	b    *bolt.Bucket
}

// collIndexes returns the index buckets of coll in tx (none when there are none).
func collIndexes(tx *bolt.Tx, coll string) []indexRef {
	root := tx.Bucket(bucketIndexes)
	if root == nil {
		return nil
	}
	cb := root.Bucket([]byte(coll))
	if cb == nil {
		return nil
	}
	var out []indexRef
	_ = cb.ForEachBucket(func(name []byte) error {
		out = append(out, indexRef{path: string(name), b: cb.Bucket(name)})
		return nil
	})
	return out
}

// indexKeys returns the keys of d's entries in the index on path.
func indexKeys(d Doc, path string, id []byte) [][]byte {
	whole := query.SortValue(d, path)
	keys := [][]byte{indexKey(IndexWhole, EncodeIndexValue(whole), id)}
	if isIndexScalar(whole) || whole == nil {
		return keys
	}
	seen := map[string]bool{}
	add := func(v any) {
		if !isIndexScalar(v) {
			return
		}
		enc := EncodeIndexValue(v)
		if seen[string(enc)] {
			return
		}
		seen[string(enc)] = true
		keys = append(keys, indexKey(IndexElements, enc, id))
	}
	for _, v := range query.PathValues(d, path) {
		if arr, ok := v.([]any); ok {
			for _, e := range arr {
				add(e)
			}
			continue
		}
		add(v)
	}
	return keys
}

func indexKey(kind byte, enc, id []byte) []byte {
	enc = cutIndexValue(enc)
	k := make([]byte, 0, 1+len(enc)+len(id))
	k = append(k, kind)
	k = append(k, enc...)
	return append(k, id...)
}

// indexDoc adds (add=true) or removes d's entries in every index of the collection.
func indexDoc(idx []indexRef, d Doc, id []byte, add bool) error {
	for _, ix := range idx {
		for _, k := range indexKeys(d, ix.path, id) {
			var err error
			if add {
				err = ix.b.Put(k, nil)
			} else {
				err = ix.b.Delete(k)
			}
			if err != nil {
				return fmt.Errorf("store: index %q: %w", ix.path, err)
			}
		}
	}
	return nil
}

// reindexRaw replaces the entries of a document whose stored bytes change from oldRaw (nil:
// none) to newRaw (nil: deleted). Both are decoded here so that the index sees exactly what a
// reader decodes.
func reindexRaw(idx []indexRef, id, oldRaw, newRaw []byte) error {
	if len(idx) == 0 {
		return nil
	}
	// Only the top-level fields the indexes read are decoded.
	fields := make([]string, 0, len(idx))
	for _, ix := range idx {
		top, _, _ := strings.Cut(ix.path, ".")
		if !slices.Contains(fields, top) {
			fields = append(fields, top)
		}
	}
	var oldDoc, newDoc Doc
	var err error
	if oldRaw != nil {
		if oldDoc, err = jsondoc.DecodeFields(oldRaw, fields); err != nil {
			return err
		}
	}
	if newRaw != nil {
		if newDoc, err = jsondoc.DecodeFields(newRaw, fields); err != nil {
			return err
		}
	}
	// Entries both versions have stay as they are: an update that leaves the indexed fields
	// alone writes nothing to the indexes (no page of theirs to write at commit).
	for _, ix := range idx {
		var before, after [][]byte
		if oldDoc != nil {
			before = indexKeys(oldDoc, ix.path, id)
		}
		if newDoc != nil {
			after = indexKeys(newDoc, ix.path, id)
		}
		for _, k := range before {
			if !containsKey(after, k) {
				if err := ix.b.Delete(k); err != nil {
					return fmt.Errorf("store: index %q: %w", ix.path, err)
				}
			}
		}
		for _, k := range after {
			if !containsKey(before, k) {
				if err := ix.b.Put(k, nil); err != nil {
					return fmt.Errorf("store: index %q: %w", ix.path, err)
				}
			}
		}
	}
	return nil
}

func containsKey(keys [][]byte, k []byte) bool {
	return slices.ContainsFunc(keys, func(x []byte) bool { return bytes.Equal(x, k) })
}

// ValidIndexPath reports whether path can name an index: a non-empty dot path without empty
// segments, short enough for a bucket name. "_id" needs no index (key order is _id order).
func ValidIndexPath(path string) bool {
	if path == "" || len(path) > maxNameLen || path == jsondoc.FieldID {
		return false
	}
	return !slices.Contains(strings.Split(path, "."), "")
}

// SetIndexes makes the indexes of the whole database exactly want (collection → paths): it
// drops the unwanted ones and builds the missing ones from the stored documents. Invalid paths
// (see ValidIndexPath) are ignored.
//
// A new index is created empty and marked as building, then filled buildChunk documents per
// transaction in _id order; writes in between maintain it like any index, so when the walk
// ends it is complete, and only then is the mark removed. Queries do not use an index while
// it is marked, and writes wait at most one chunk instead of the whole build. A build cut
// short (an error, a restart) leaves the mark; the next SetIndexes finishes it.
func (s *Store) SetIndexes(want map[string][]string) error {
	clean := map[string][]string{}
	for coll, paths := range want {
		if !validName(coll) {
			continue
		}
		for _, p := range paths {
			if ValidIndexPath(p) && !slices.Contains(clean[coll], p) {
				clean[coll] = append(clean[coll], p)
			}
		}
	}
	s.indexMu.Lock()
	defer s.indexMu.Unlock()
	// Settings reloads call this with an unchanged set most of the time: answer from a read
	// transaction instead of committing (and fsyncing) an empty write.
	have, building, err := s.indexState()
	if err == nil && sameIndexes(have, clean) && len(building) == 0 {
		return nil
	}
	err = s.writer.write(func(tx *bolt.Tx, _ *changes) error {
		root, err := tx.CreateBucketIfNotExists(bucketIndexes)
		if err != nil {
			return fmt.Errorf("store: creating the index bucket: %w", err)
		}
		// Drop what is not wanted.
		var dropColls [][]byte
		err = root.ForEachBucket(func(name []byte) error {
			paths, ok := clean[string(name)]
			if !ok {
				dropColls = append(dropColls, slices.Clone(name))
				return nil
			}
			cb := root.Bucket(name)
			var drop [][]byte
			_ = cb.ForEachBucket(func(p []byte) error {
				if !slices.Contains(paths, string(p)) {
					drop = append(drop, slices.Clone(p))
				}
				return nil
			})
			for _, p := range drop {
				if err := cb.DeleteBucket(p); err != nil {
					return fmt.Errorf("store: dropping index %s.%s: %w", name, p, err)
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
		for _, c := range dropColls {
			if err := root.DeleteBucket(c); err != nil {
				return fmt.Errorf("store: dropping the indexes of %s: %w", c, err)
			}
		}
		// Create what is missing, empty and marked as building.
		for coll, paths := range clean {
			cb, err := root.CreateBucketIfNotExists([]byte(coll))
			if err != nil {
				return fmt.Errorf("store: creating the indexes of %s: %w", coll, err)
			}
			for _, p := range paths {
				if cb.Bucket([]byte(p)) != nil {
					continue
				}
				ib, err := cb.CreateBucket([]byte(p))
				if err != nil {
					return fmt.Errorf("store: creating index %s.%s: %w", coll, p, err)
				}
				if err := ib.Put(buildingMark, nil); err != nil {
					return fmt.Errorf("store: creating index %s.%s: %w", coll, p, err)
				}
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	// To build: the wanted indexes that were missing (created just now, marked) or still
	// marked from before. buildIndex leaves alone one that is not marked.
	colls := slices.Sorted(maps.Keys(clean))
	for _, coll := range colls {
		for _, p := range clean[coll] {
			if slices.Contains(have[coll], p) && !slices.Contains(building, [2]string{coll, p}) {
				continue
			}
			if err := s.buildIndex(coll, p); err != nil {
				return err
			}
		}
	}
	return nil
}

// buildingMark is the key that marks an index as being built. Index entries begin with a kind
// byte (IndexWhole, IndexElements), never 0, so no entry can be mistaken for it.
var buildingMark = []byte{0}

// buildChunk is how many documents one transaction of an index build reads.
var buildChunk = 2000

// buildIndex fills the marked index coll.path chunk by chunk and removes the mark at the end.
func (s *Store) buildIndex(coll, path string) error {
	var after []byte // the last document indexed
	for {
		var next []byte
		done := false
		err := s.writer.write(func(tx *bolt.Tx, _ *changes) error {
			next, done = nil, false
			ib := indexBucket(tx, coll, path)
			if ib == nil || ib.Get(buildingMark) == nil {
				done = true // dropped meanwhile, or finished
				return nil
			}
			c := collBucket(tx, coll)
			if c == nil {
				done = true
				return ib.Delete(buildingMark)
			}
			cur := c.Cursor()
			k, v := cur.First()
			if after != nil {
				if k, v = cur.Seek(after); bytes.Equal(k, after) {
					k, v = cur.Next()
				}
			}
			ix := []indexRef{{path: path, b: ib}}
			for n := 0; k != nil && n < buildChunk; k, v = cur.Next() {
				if v == nil {
					continue // a nested bucket, not a document
				}
				d, err := decodeDoc(v)
				if err != nil {
					return fmt.Errorf("store: %s/%x: %w", coll, k, err)
				}
				if err := indexDoc(ix, d, k, true); err != nil {
					return err
				}
				next = k
				n++
			}
			if k == nil {
				done = true
				return ib.Delete(buildingMark)
			}
			next = slices.Clone(next)
			return nil
		})
		if err != nil {
			return fmt.Errorf("store: building index %s.%s: %w", coll, path, err)
		}
		if done {
			return nil
		}
		after = next
	}
}

func indexBucket(tx *bolt.Tx, coll, path string) *bolt.Bucket {
	root := tx.Bucket(bucketIndexes)
	if root == nil || !validName(coll) || path == "" {
		return nil
	}
	cb := root.Bucket([]byte(coll))
	if cb == nil {
		return nil
	}
	return cb.Bucket([]byte(path))
}

func sameIndexes(have, want map[string][]string) bool {
	n := 0
	for coll, paths := range want {
		if len(paths) == 0 {
			continue
		}
		n++
		h := have[coll]
		if len(h) != len(paths) {
			return false
		}
		for _, p := range paths {
			if !slices.Contains(h, p) {
				return false
			}
		}
	}
	return n == len(have)
}

// indexState returns every index (collection → paths) and those still marked as building
// (collection, path), in order.
func (s *Store) indexState() (all map[string][]string, building [][2]string, err error) {
	all = map[string][]string{}
	err = s.db.View(func(tx *bolt.Tx) error {
		root := tx.Bucket(bucketIndexes)
		if root == nil {
			return nil
		}
		return root.ForEachBucket(func(name []byte) error {
			cb := root.Bucket(name)
			var paths []string
			_ = cb.ForEachBucket(func(p []byte) error {
				paths = append(paths, string(p))
				if cb.Bucket(p).Get(buildingMark) != nil {
					building = append(building, [2]string{string(name), string(p)})
				}
				return nil
			})
			if len(paths) > 0 {
				all[string(name)] = paths
			}
			return nil
		})
	})
	return all, building, err
}

// Indexes returns the indexes that exist (collection → sorted paths), built or being built.
func (s *Store) Indexes() (map[string][]string, error) {
	all, _, err := s.indexState()
	return all, err
}

// KeyRange bounds index values (encodings from EncodeIndexValue). A nil Low starts at the
// first value, a nil High runs to the last.
type KeyRange struct {
	Low, High         []byte
	LowIncl, HighIncl bool
}

func (r KeyRange) aboveLow(v []byte) bool {
	if r.Low == nil {
		return true
	}
	c := bytes.Compare(v, r.Low)
	return c > 0 || c == 0 && r.LowIncl
}

func (r KeyRange) belowHigh(v []byte) bool {
	if r.High == nil {
		return true
	}
	c := bytes.Compare(v, r.High)
	return c < 0 || c == 0 && r.HighIncl
}
