package store

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/restkube/restkube/dbserver/jsondoc"
	bolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"
)

// Doc is a JSON object as the store reads and writes it; numbers are float64.
type Doc = map[string]any

var (
	// ErrNotFound reports an unknown id, or a document the caller may not see.
	ErrNotFound = errors.New("document not found")
	// ErrVersionMismatch reports a failed If-Match: the stored _version differs from the expected one.
	ErrVersionMismatch = errors.New("version mismatch")
	// ErrClosed is returned by writes after Close.
	ErrClosed = errors.New("store: closed")
)

// AnyVersion as expectVersion makes Update and Delete unconditional.
const AnyVersion int64 = -1

// Options configure Open. The zero value is usable.
type Options struct {
	// OpenTimeout bounds the wait for bbolt's exclusive file lock; default 2s. Another process
	// holding the file (a second dbserver on the same volume) then fails Open quickly.
	OpenTimeout time.Duration
	// Now is the clock for _created, _changed and ObjectIDs; default time.Now.
	Now func() time.Time
	// Rand supplies ObjectID randomness; default crypto/rand.
	Rand io.Reader
	// OnCommit, when set, is told of every committed write that changed documents: once per
	// write, with its Changes (a bulk insert's documents, or the deletions of one DeleteMany
	// or DeleteWhere, together), after the commit is durable, in commit order, and before the
	// writer is answered. It runs on the committer's goroutine, so it must return at once (hand
	// the Changes to a goroutine of its own) and must not call the Store. It owns the slice.
	OnCommit func([]Change)
	// Logger receives operational messages; default slog.Default().
	Logger *slog.Logger
	// Limits bound the documents written (zero fields: the defaults); SetLimits changes them.
	Limits Limits
}

// Top-level buckets. Collections and meta buckets are nested under different parents, so no
// collection name can collide with a meta bucket.
var (
	bucketCollections = []byte("collections")
	bucketMeta        = []byte("meta")
)

// maxNameLen bounds collection and meta bucket names (bbolt allows far longer keys).
const maxNameLen = 255

// initialMmapSize is the size bbolt maps the file at from the start (see Open).
const initialMmapSize = 1 << 30

// Store holds the documents of one database in one bbolt file. It is safe for concurrent use.
type Store struct {
	db     *bolt.DB
	path   string
	now    func() time.Time
	ids    *idGen
	log    *slog.Logger
	writer *committer
	limits atomic.Pointer[Limits]

	indexMu sync.Mutex // one SetIndexes (and its builds) at a time
}

// Open opens (creating if needed) the bbolt file at path and takes its exclusive lock.
func Open(path string, opts Options) (*Store, error) {
	if opts.OpenTimeout <= 0 {
		opts.OpenTimeout = 2 * time.Second
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Rand == nil {
		opts.Rand = rand.Reader
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	db, err := bolt.Open(path, 0o600, &bolt.Options{
		Timeout:      opts.OpenTimeout,
		FreelistType: bolt.FreelistMapType,
		// bbolt remaps the file when it outgrows the mapping, and a remap waits for every open
		// read transaction (and blocks new ones) while it runs. Mapping 1 GiB up front means no
		// remap until the file passes 1 GiB, so reads and writes do not wait on each other. It
		// costs address space only: pages count as resident when touched, not when mapped,
		// and on Linux the file itself still grows only as data is written.
		InitialMmapSize: initialMmapSize,
	})
	if errors.Is(err, bolterrors.ErrTimeout) {
		return nil, fmt.Errorf("store: %s is locked by another process (gave up after %s; is another dbserver using this data dir?): %w",
			path, opts.OpenTimeout, err)
	}
	if err != nil {
		return nil, fmt.Errorf("store: opening %s: %w", path, err)
	}
	ids, err := newIDGen(opts.Now, opts.Rand)
	if err != nil {
		_ = db.Close()
		return nil, err
	}
	err = db.Update(func(tx *bolt.Tx) error {
		if _, err := tx.CreateBucketIfNotExists(bucketMeta); err != nil {
			return err
		}
		if _, err := tx.CreateBucketIfNotExists(bucketIndexes); err != nil {
			return err
		}
		colls, err := tx.CreateBucketIfNotExists(bucketCollections)
		if err != nil {
			return err
		}
		// New ids must sort after every stored one, even if this process's clock is behind
		// the one that wrote them.
		return colls.ForEachBucket(func(name []byte) error {
			if k, _ := colls.Bucket(name).Cursor().Last(); len(k) == len(ObjectID{}) {
				ids.floor(ObjectID(k))
			}
			return nil
		})
	})
	if err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("store: initializing %s: %w", path, err)
	}
	s := &Store{db: db, path: path, now: opts.Now, ids: ids, log: opts.Logger}
	s.writer = newCommitter(db, opts.Logger, opts.OnCommit)
	s.SetLimits(opts.Limits)
	return s, nil
}

// Close waits for queued writes to commit and closes the file. Writes after Close fail with ErrClosed.
func (s *Store) Close() error {
	s.writer.close()
	if err := s.db.Close(); err != nil {
		return fmt.Errorf("store: closing %s: %w", s.path, err)
	}
	return nil
}

// Path returns the bbolt file's path.
func (s *Store) Path() string { return s.path }

func validName(name string) bool { return name != "" && len(name) <= maxNameLen }

func notFound(coll, id string) error { return fmt.Errorf("store: %s/%s: %w", coll, id, ErrNotFound) }

// docKey returns the bbolt key of id, or false for a malformed id.
func docKey(id string) ([]byte, bool) {
	oid, err := ParseObjectID(id)
	if err != nil {
		return nil, false
	}
	return oid[:], true
}

func collBucket(tx *bolt.Tx, coll string) *bolt.Bucket {
	if !validName(coll) {
		return nil
	}
	return tx.Bucket(bucketCollections).Bucket([]byte(coll))
}

// stored returns the bucket of coll and the stored bytes of the document id (key), or a clean
// not-found error.
func stored(tx *bolt.Tx, coll, id string, key []byte) (*bolt.Bucket, []byte, error) {
	b := collBucket(tx, coll)
	if b == nil {
		return nil, nil, clean(notFound(coll, id))
	}
	v := b.Get(key)
	if v == nil {
		return nil, nil, clean(notFound(coll, id))
	}
	return b, v, nil
}

// Get returns one document. A malformed id is ErrNotFound too (check ValidID first to answer 400).
func (s *Store) Get(coll, id string) (Doc, error) {
	key, ok := docKey(id)
	if !ok {
		return nil, notFound(coll, id)
	}
	var d Doc
	err := s.db.View(func(tx *bolt.Tx) error {
		b := collBucket(tx, coll)
		if b == nil {
			return notFound(coll, id)
		}
		v := b.Get(key)
		if v == nil {
			return notFound(coll, id)
		}
		var err error
		d, err = decodeDoc(v)
		return Corrupt(coll, v, err)
	})
	if err != nil {
		return nil, err
	}
	return d, nil
}

// Insert stores docs in one transaction (all or nothing), in input order, and returns the stored
// documents. Client top-level fields starting with "_" are dropped; _id, _created, _changed,
// _createdby, _changedby (= user) and _version 0 are set. The input maps are not modified.
func (s *Store) Insert(coll string, docs []Doc, user string) ([]Doc, error) {
	return s.insert(coll, docs, user, nil)
}

// Parent ties child documents to their parent document: its id, its collection (Def) and the
// child-list field (Field) they were created under.
type Parent struct {
	ID, Def, Field string
}

// InsertChildren is Insert for child documents of parent: each one also gets _parent_id,
// _parent_def and _parent_field, which updates keep and clients cannot set.
func (s *Store) InsertChildren(coll string, docs []Doc, user string, parent Parent) ([]Doc, error) {
	return s.insert(coll, docs, user, &parent)
}

func (s *Store) insert(coll string, docs []Doc, user string, parent *Parent) ([]Doc, error) {
	if !validName(coll) {
		return nil, fmt.Errorf("store: invalid collection name %q", coll)
	}
	if len(docs) == 0 {
		return []Doc{}, nil
	}
	now := jsondoc.FormatTime(s.now())
	ids := s.ids.next(len(docs))
	out := make([]Doc, len(docs))
	vals := make([][]byte, len(docs))
	// Everything that can fail on the input fails here, before the write transaction.
	lim := s.Limits()
	for i, d := range docs {
		nd := jsondoc.UserFields(d)
		nd[jsondoc.FieldID] = ids[i].String()
		nd[jsondoc.FieldCreated] = now
		nd[jsondoc.FieldChanged] = now
		nd[jsondoc.FieldCreatedBy] = user
		nd[jsondoc.FieldChangedBy] = user
		nd[jsondoc.FieldVersion] = 0.0
		if parent != nil {
			nd[jsondoc.FieldParentID] = parent.ID
			nd[jsondoc.FieldParentDef] = parent.Def
			nd[jsondoc.FieldParentField] = parent.Field
		}
		v, err := encodeDoc(nd)
		if err != nil {
			return nil, fmt.Errorf("store: document %d of %d: %w", i, len(docs), err)
		}
		prefix := ""
		if len(docs) > 1 {
			prefix = fmt.Sprintf("[%d]", i)
		}
		if err := CheckDoc(nd, v, lim, prefix); err != nil {
			return nil, err
		}
		out[i], vals[i] = nd, v
	}
	err := s.writer.write(func(tx *bolt.Tx, ch *changes) error {
		b, err := tx.Bucket(bucketCollections).CreateBucketIfNotExists([]byte(coll))
		if err != nil {
			return fmt.Errorf("store: creating collection %q: %w", coll, err)
		}
		// Keys grow (mostly) monotonically, so fuller pages waste less space.
		b.FillPercent = 0.9
		idx := collIndexes(tx, coll)
		for i := range ids {
			if err := b.Put(ids[i][:], vals[i]); err != nil {
				return fmt.Errorf("store: writing %s/%s: %w", coll, ids[i], err)
			}
			if err := reindexRaw(idx, ids[i][:], nil, vals[i]); err != nil {
				return fmt.Errorf("store: indexing %s/%s: %w", coll, ids[i], err)
			}
			ch.add(Change{Op: OpInsert, Coll: coll, ID: out[i][jsondoc.FieldID].(string), Doc: vals[i], CreatedBy: user})
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// Update loads a document, checks expectVersion (AnyVersion = any; otherwise ErrVersionMismatch),
// calls apply on a deep copy, restores the system fields, bumps _version, sets _changed and
// _changedby, and stores the result, all in one transaction. apply may return an error to abort
// (it is returned as is). apply runs inside the write transaction, may run more than once, and
// must not call the Store.
func (s *Store) Update(coll, id string, expectVersion int64, user string, apply func(Doc) error) (Doc, error) {
	key, ok := docKey(id)
	if !ok {
		return nil, notFound(coll, id)
	}
	// The new version is prepared from a snapshot, outside the writer: decoding, applying and
	// encoding then run in parallel for concurrent requests instead of one after the other in
	// the commit. The transaction uses the result only if the document is still byte for byte
	// the one it was made from; otherwise it prepares again from what it reads.
	var pre *preparedUpdate
	_ = s.db.View(func(tx *bolt.Tx) error {
		// Any failure here, a panic of apply included, is left for the transaction to meet.
		defer func() {
			if recover() != nil {
				pre = nil
			}
		}()
		if b := collBucket(tx, coll); b != nil {
			if v := b.Get(key); v != nil {
				if p, err := s.prepareUpdate(v, expectVersion, user, apply); err == nil {
					p.from = bytes.Clone(v)
					pre = p
				}
			}
		}
		return nil
	})
	var out Doc
	err := s.writer.write(func(tx *bolt.Tx, ch *changes) error {
		b, v, err := stored(tx, coll, id, key)
		if err != nil {
			return err
		}
		p := pre
		if p == nil || !bytes.Equal(v, p.from) {
			if p, err = s.prepareUpdate(v, expectVersion, user, apply); err != nil {
				var ce *CorruptError
				if errors.As(err, &ce) {
					ce.Coll = coll
				}
				return clean(err)
			}
		}
		if err := reindexRaw(collIndexes(tx, coll), key, v, p.enc); err != nil {
			return err
		}
		if err := b.Put(key, p.enc); err != nil {
			return fmt.Errorf("store: writing %s/%s: %w", coll, id, err)
		}
		out = p.doc
		by, _ := p.doc[jsondoc.FieldCreatedBy].(string)
		ch.add(Change{Op: OpUpdate, Coll: coll, ID: id, Doc: p.enc, CreatedBy: by})
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// preparedUpdate is the next version of a document: made from the stored bytes from.
type preparedUpdate struct {
	from, enc []byte
	doc       Doc
}

// prepareUpdate makes the next version of the document stored as v: the version check,
// apply on a deep copy, the system fields restored and bumped, the encoding.
func (s *Store) prepareUpdate(v []byte, expectVersion int64, user string, apply func(Doc) error) (*preparedUpdate, error) {
	orig, err := decodeDoc(v)
	if err != nil {
		return nil, Corrupt("", v, err)
	}
	cur := jsondoc.Version(orig)
	if expectVersion >= 0 && cur != expectVersion {
		return nil, fmt.Errorf("store: %s is at version %d, not %d: %w", orig[jsondoc.FieldID], cur, expectVersion, ErrVersionMismatch)
	}
	// Decoding again is the cheapest deep copy.
	work, err := decodeDoc(v)
	if err != nil {
		return nil, err
	}
	if apply != nil {
		if err := apply(work); err != nil {
			return nil, err
		}
	}
	nd := jsondoc.UserFields(work)
	for _, f := range []string{jsondoc.FieldID, jsondoc.FieldCreated, jsondoc.FieldCreatedBy, jsondoc.FieldParentID, jsondoc.FieldParentDef, jsondoc.FieldParentField} {
		if v, ok := orig[f]; ok {
			nd[f] = v
		}
	}
	nd[jsondoc.FieldChanged] = jsondoc.FormatTime(s.now())
	nd[jsondoc.FieldChangedBy] = user
	nd[jsondoc.FieldVersion] = float64(cur + 1)
	enc, err := encodeDoc(nd)
	if err != nil {
		return nil, err
	}
	if err := CheckDoc(nd, enc, s.Limits(), ""); err != nil {
		return nil, err
	}
	return &preparedUpdate{enc: enc, doc: nd}, nil
}

// Delete removes one document after checking expectVersion (AnyVersion = any) and allow, which
// may be nil and may veto by returning an error (ErrNotFound for a document the caller may not see).
// allow gets only the document's _version, _createdby and the top-level allowFields: deleting
// never decodes the whole document, so a document that cannot be decoded can still be deleted;
// one cut short, whose _version or owner cannot be read, only without expectVersion and allow.
func (s *Store) Delete(coll, id string, expectVersion int64, allow func(Doc) error, allowFields ...string) error {
	key, ok := docKey(id)
	if !ok {
		return notFound(coll, id)
	}
	return s.writer.write(func(tx *bolt.Tx, ch *changes) error {
		b, v, err := stored(tx, coll, id, key)
		if err != nil {
			return err
		}
		var d Doc
		if expectVersion >= 0 || allow != nil || ch.on() {
			if d, err = fieldsForCheck(coll, v, allowFields); err != nil {
				if expectVersion >= 0 || allow != nil {
					return clean(err)
				}
				// Only observers wanted its owner: a document whose fields cannot be read
				// (cut short) is deleted all the same, as one nobody owns.
				d = nil
			}
		}
		if d != nil {
			if cur := jsondoc.Version(d); expectVersion >= 0 && cur != expectVersion {
				return clean(fmt.Errorf("store: %s/%s is at version %d, not %d: %w", coll, id, cur, expectVersion, ErrVersionMismatch))
			}
			if allow != nil {
				if err := allow(d); err != nil {
					return clean(err)
				}
			}
		}
		if err := removeRaw(b, collIndexes(tx, coll), coll, key, v); err != nil {
			return err
		}
		ch.add(deletion(coll, id, d))
		return nil
	})
}

// deletion is the Change of deleting the document d (decoded: observers are told its _createdby).
func deletion(coll, id string, d Doc) Change {
	by, _ := d[jsondoc.FieldCreatedBy].(string)
	return Change{Op: OpDelete, Coll: coll, ID: id, CreatedBy: by}
}

// removeDoc deletes the document stored under key and its index entries. d is the decoded
// document.
func removeDoc(b *bolt.Bucket, idx []indexRef, coll string, key []byte, d Doc) error {
	if err := indexDoc(idx, d, key, false); err != nil {
		return err
	}
	if err := b.Delete(key); err != nil {
		return fmt.Errorf("store: deleting %s/%s: %w", coll, hex.EncodeToString(key), err)
	}
	return nil
}

// DeleteMany deletes, in one transaction, the listed ids that exist and pass allow (nil = all).
// Unknown and malformed ids are skipped. It returns the deleted ids in input order. As for
// Delete, allow gets only _version, _createdby and the top-level allowFields.
func (s *Store) DeleteMany(coll string, ids []string, allow func(Doc) bool, allowFields ...string) ([]string, error) {
	var deleted []string
	err := s.writer.write(func(tx *bolt.Tx, ch *changes) error {
		deleted = deleted[:0]
		b := collBucket(tx, coll)
		if b == nil {
			return nil
		}
		idx := collIndexes(tx, coll)
		for _, id := range ids {
			key, ok := docKey(id)
			if !ok {
				continue
			}
			v := b.Get(key)
			if v == nil {
				continue
			}
			var d Doc
			if allow != nil || ch.on() {
				var err error
				if d, err = fieldsForCheck(coll, v, allowFields); err != nil && allow != nil {
					return clean(err)
				}
				// Without allow, only observers wanted its owner (see Delete).
				if allow != nil && !allow(d) {
					continue
				}
			}
			if err := removeRaw(b, idx, coll, key, v); err != nil {
				return err
			}
			ch.add(deletion(coll, id, d))
			deleted = append(deleted, id)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return append([]string{}, deleted...), nil
}

// DeleteWhere deletes, in one transaction, every document of coll for which match returns true,
// and returns their ids in _id order. match runs inside the write transaction.
func (s *Store) DeleteWhere(coll string, match func(Doc) bool) ([]string, error) {
	var deleted []string
	err := s.writer.write(func(tx *bolt.Tx, ch *changes) error {
		deleted = deleted[:0]
		b := collBucket(tx, coll)
		if b == nil {
			return nil
		}
		var keys [][]byte
		var docs []Doc
		c := b.Cursor()
		for k, v := c.First(); k != nil; k, v = c.Next() {
			if v == nil {
				continue
			}
			d, err := decodeDoc(v)
			if err != nil {
				return clean(Corrupt(coll, v, err))
			}
			if match(d) {
				keys = append(keys, k)
				docs = append(docs, d)
			}
		}
		idx := collIndexes(tx, coll)
		// Delete after the walk: deleting under a bbolt cursor can skip entries.
		for i, k := range keys {
			if err := removeDoc(b, idx, coll, k, docs[i]); err != nil {
				return err
			}
			id := hex.EncodeToString(k)
			ch.add(deletion(coll, id, docs[i]))
			deleted = append(deleted, id)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return append([]string{}, deleted...), nil
}

// Scan calls fn for each document of coll in _id (= creation) order, inside one read
// transaction (a consistent snapshot), until fn returns false. An unknown collection calls
// nothing. Writes do not wait for a scan, but a long scan keeps old pages from reuse.
func (s *Store) Scan(coll string, fn func(Doc) bool) error {
	return s.db.View(func(tx *bolt.Tx) error {
		return eachDoc(collBucket(tx, coll), coll, func(_ []byte, d Doc) (bool, error) { return fn(d), nil })
	})
}

// eachDoc decodes the documents of the collection bucket b (nil: none) in _id order and calls
// fn with each key and document until fn returns false or an error.
func eachDoc(b *bolt.Bucket, coll string, fn func(key []byte, d Doc) (bool, error)) error {
	if b == nil {
		return nil
	}
	c := b.Cursor()
	for k, v := c.First(); k != nil; k, v = c.Next() {
		if v == nil {
			continue // a nested bucket, not a document
		}
		d, err := decodeDoc(v)
		if err != nil {
			return Corrupt(coll, v, err)
		}
		if more, err := fn(k, d); err != nil || !more {
			return err
		}
	}
	return nil
}

// Collections lists the names of the collections that exist, sorted.
func (s *Store) Collections() ([]string, error) {
	names := []string{}
	err := s.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketCollections).ForEachBucket(func(k []byte) error {
			names = append(names, string(k))
			return nil
		})
	})
	return names, err
}

// Stats counts the work of the group committer since Open.
type Stats struct {
	// Commits is the number of write transactions committed (each one fsync).
	Commits int64
	// Writes is the number of writes those commits carried; Writes/Commits is the batching factor.
	Writes int64
}

// Stats returns the committer's counters.
func (s *Store) Stats() Stats {
	return Stats{Commits: s.writer.commits.Load(), Writes: s.writer.writes.Load()}
}

// Activity returns a count that grows with every write acknowledged and every read
// transaction begun: how busy the store is, for background work that yields to it (a backup
// pauses while it grows, see backup.WriteOptions.Activity).
func (s *Store) Activity() int64 {
	return s.writer.writes.Load() + int64(s.db.Stats().TxN)
}
