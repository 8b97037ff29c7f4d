package store

import (
	"bytes"

	bolt "go.etcd.io/bbolt"
)

// Snapshot is a consistent read-only view of the store for a query planner: raw documents in
// _id order, single documents, and index ranges. Byte slices it hands out are valid only until
// the function given to View returns; decode or copy what must outlive it.
type Snapshot struct {
	tx *bolt.Tx

	// The last collection looked up, so that a query fetching documents one by one opens
	// its bucket once rather than per document, and a cursor on it that Raw reuses (bbolt's
	// Get makes a cursor, and allocates its stack, on every call).
	coll   string
	bucket *bolt.Bucket
	cursor *bolt.Cursor
	at     []byte // the key the cursor is on (nil: unknown)
}

// docs returns the bucket of coll's documents, or nil.
func (sn *Snapshot) docs(coll string) *bolt.Bucket {
	if sn.bucket == nil || sn.coll != coll {
		sn.coll, sn.bucket, sn.cursor, sn.at = coll, collBucket(sn.tx, coll), nil, nil
	}
	return sn.bucket
}

// View runs fn on a snapshot in one bbolt read transaction, which runs concurrently with
// writes and never waits for them.
func (s *Store) View(fn func(*Snapshot) error) error {
	return s.db.View(func(tx *bolt.Tx) error { return fn(&Snapshot{tx: tx}) })
}

// Indexed reports whether the collection has an index on path.
func (sn *Snapshot) Indexed(coll, path string) bool { return sn.index(coll, path) != nil }

// index returns the bucket of the index on coll.path, unless there is none or it is still
// being built (queries then read the documents instead).
func (sn *Snapshot) index(coll, path string) *bolt.Bucket {
	ib := indexBucket(sn.tx, coll, path)
	if ib == nil || ib.Get(buildingMark) != nil {
		return nil
	}
	return ib
}

// Docs calls fn with each document's id and stored bytes, in _id order (descending when
// reverse), until fn returns false.
func (sn *Snapshot) Docs(coll string, reverse bool, fn func(id, raw []byte) bool) {
	b := sn.docs(coll)
	if b == nil {
		return
	}
	c := b.Cursor()
	next := c.Next
	k, v := c.First()
	if reverse {
		next = c.Prev
		k, v = c.Last()
	}
	for ; k != nil; k, v = next() {
		if v != nil && !fn(k, v) {
			return
		}
	}
}

// Raw returns the stored bytes of a document by its 12-byte id, or nil.
func (sn *Snapshot) Raw(coll string, id []byte) []byte {
	b := sn.docs(coll)
	if b == nil || len(id) != idLen {
		return nil
	}
	if sn.cursor == nil {
		sn.cursor = b.Cursor()
	} else if sn.at != nil && bytes.Compare(sn.at, id) < 0 {
		// Index order often follows creation order (ids increase with time): when the
		// document wanted is the next one, a step is cheaper than a search from the root.
		if k, v := sn.cursor.Next(); bytes.Equal(k, id) {
			sn.at = k
			return v
		}
	}
	k, v := sn.cursor.Seek(id)
	sn.at = k
	if !bytes.Equal(k, id) {
		return nil
	}
	return v
}

// IndexScan calls fn for each entry of one kind (IndexWhole or IndexElements) of the index on
// path whose value lies in r, in value order and then id order (both descending when
// reverse), until fn returns false. value is the entry's (possibly cut, see MaxIndexValue)
// value encoding. It reports false when there is no such index.
func (sn *Snapshot) IndexScan(coll, path string, kind byte, r KeyRange, reverse bool, fn func(value, id []byte) bool) bool {
	ib := sn.index(coll, path)
	if ib == nil {
		return false
	}
	c := ib.Cursor()
	var k []byte
	// A value followed by 0xFF bytes sorts above that value with any id, and (the encoding
	// being prefix-free) below any greater value.
	past := bytes.Repeat([]byte{0xFF}, idLen+1)
	if !reverse {
		start := append([]byte{kind}, r.Low...)
		if r.Low != nil && !r.LowIncl {
			start = append(start, past...)
		}
		k, _ = c.Seek(start)
	} else {
		// Position on the first key above the range, then step back.
		var end []byte
		switch {
		case r.High == nil:
			end = []byte{kind + 1}
		case r.HighIncl:
			end = append(append([]byte{kind}, r.High...), past...)
		default:
			end = append([]byte{kind}, r.High...)
		}
		if k, _ = c.Seek(end); k == nil {
			k, _ = c.Last()
		} else {
			k, _ = c.Prev()
		}
	}
	for ; k != nil; k = step(c, reverse) {
		if len(k) < 1+idLen || k[0] != kind {
			break
		}
		val, id := k[1:len(k)-idLen], k[len(k)-idLen:]
		if !reverse {
			if !r.belowHigh(val) {
				break
			}
			if !r.aboveLow(val) {
				continue
			}
		} else {
			if !r.aboveLow(val) {
				break
			}
			if !r.belowHigh(val) {
				continue
			}
		}
		if !fn(val, id) {
			break
		}
	}
	return true
}

func step(c *bolt.Cursor, reverse bool) []byte {
	var k []byte
	if reverse {
		k, _ = c.Prev()
	} else {
		k, _ = c.Next()
	}
	return k
}
