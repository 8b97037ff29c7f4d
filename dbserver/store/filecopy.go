package store

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	bolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"
)

// FileCopy is the database file as one read transaction sees it: a consistent copy that
// writers do not wait for (bbolt's copy-on-write keeps the pages it reads alive until it ends).
// It is valid only inside the function given to CopyFile or CopyClosedFile.
type FileCopy struct {
	tx *bolt.Tx
	// docs is the number of documents WriteTo counted; valid when counted.
	docs    int64
	counted bool
}

// Size is the number of bytes WriteTo writes.
func (c *FileCopy) Size() int64 { return c.tx.Size() }

// WriteTo writes the whole file as of the transaction to w. On the way it counts the
// documents (see Documents) from the leaf pages of the collections as they pass, so that the
// count costs no second read of the file.
func (c *FileCopy) WriteTo(w io.Writer) (int64, error) {
	lc := c.leafCounter(w)
	dst := w
	if lc != nil {
		dst = lc
	}
	n, err := c.tx.WriteTo(dst)
	if err != nil {
		return n, fmt.Errorf("store: copying the database file: %w", err)
	}
	if lc != nil && lc.complete() {
		c.docs, c.counted = lc.docs, true
	}
	return n, nil
}

// Documents counts the documents of every collection. After WriteTo it is the count WriteTo
// took on the way; otherwise (or when that count could not be trusted) it walks the
// collections' B+trees through the memory map, which reads every leaf page once more and
// makes them resident.
func (c *FileCopy) Documents() int64 {
	if c.counted {
		return c.docs
	}
	return documents(c.tx)
}

func documents(tx *bolt.Tx) int64 {
	root := tx.Bucket(bucketCollections)
	if root == nil {
		return 0
	}
	var n int64
	_ = root.ForEachBucket(func(name []byte) error {
		n += int64(root.Bucket(name).Stats().KeyN)
		return nil
	})
	return n
}

// bbolt's page layout (version 2 of its file format, unchanged since boltdb): a 16-byte
// header (id uint64, flags uint16, count uint16, overflow uint32) then, on a branch page,
// count elements of 16 bytes (pos uint32, ksize uint32, pgid uint64), in the machine's byte
// order.
const (
	pageHeaderSize     = 16
	branchElementSize  = 16
	branchPageFlag     = 0x01
	leafPageFlag       = 0x02
	maxCountedBranches = 1 << 20 // bounds the walk on a damaged file
)

// leafCounter prepares the count of documents during WriteTo: it finds the leaf pages of the
// collections' B+trees by reading only their branch pages, with pread (no memory map, so no
// resident pages), and returns a writer that reads the document count from those pages'
// headers as the copy streams past them. nil when the walk fails: Documents then walks the
// trees itself.
func (c *FileCopy) leafCounter(w io.Writer) *countingWriter {
	root := c.tx.Bucket(bucketCollections)
	if root == nil {
		return &countingWriter{w: w, pageSize: int64(c.tx.DB().Info().PageSize)}
	}
	f, err := os.Open(c.tx.DB().Path())
	if err != nil {
		return nil
	}
	defer func() { _ = f.Close() }()
	pageSize := int64(c.tx.DB().Info().PageSize)
	pages := uint64(c.tx.Size() / pageSize)
	cw := &countingWriter{w: w, pageSize: pageSize, leaves: make([]uint64, (pages+63)/64)}
	walker := branchWalker{f: f, pageSize: pageSize, pages: pages, leaves: cw}
	err = root.ForEachBucket(func(name []byte) error {
		b := root.Bucket(name)
		if b.Root() == 0 { // an inline bucket: its few documents sit in the parent's page
			cw.docs += int64(b.Stats().KeyN)
			return nil
		}
		return walker.walk(uint64(b.Root()), 0)
	})
	if err != nil {
		return nil
	}
	return cw
}

// branchWalker reads the branch pages of B+trees and marks their leaves.
type branchWalker struct {
	f        *os.File
	pageSize int64
	pages    uint64
	leaves   *countingWriter
	buf      []byte
	visited  int
}

// walk marks the leaves under page id. A tree is balanced (every leaf at the same depth), so
// the type of the first child tells that of its siblings; the counting writer checks every
// marked page's type as it passes, and a page that is not a leaf voids the count.
func (b *branchWalker) walk(id uint64, depth int) error {
	if id < 2 || id >= b.pages || depth > 64 {
		return fmt.Errorf("store: page %d is outside the file", id)
	}
	if b.visited++; b.visited > maxCountedBranches {
		return errors.New("store: too many branch pages")
	}
	var hdr [pageHeaderSize]byte
	if _, err := b.f.ReadAt(hdr[:], int64(id)*b.pageSize); err != nil {
		return err
	}
	flags := binary.NativeEndian.Uint16(hdr[8:10])
	if flags&leafPageFlag != 0 {
		b.leaves.mark(id)
		return nil
	}
	if flags&branchPageFlag == 0 {
		return fmt.Errorf("store: page %d is neither a branch nor a leaf", id)
	}
	count := int64(binary.NativeEndian.Uint16(hdr[10:12]))
	overflow := int64(binary.NativeEndian.Uint32(hdr[12:16]))
	size := (overflow + 1) * b.pageSize
	if size < pageHeaderSize+count*branchElementSize || size > 1<<30 {
		return fmt.Errorf("store: branch page %d is malformed", id)
	}
	if int64(cap(b.buf)) < size {
		b.buf = make([]byte, size)
	}
	page := b.buf[:size]
	if _, err := b.f.ReadAt(page, int64(id)*b.pageSize); err != nil {
		return err
	}
	children := make([]uint64, count)
	for i := range children {
		off := pageHeaderSize + int64(i)*branchElementSize
		children[i] = binary.NativeEndian.Uint64(page[off+8 : off+16])
	}
	if len(children) == 0 {
		return nil
	}
	// The first child says whether this is the last branch level.
	if _, err := b.f.ReadAt(hdr[:], int64(children[0])*b.pageSize); err != nil {
		return err
	}
	if binary.NativeEndian.Uint16(hdr[8:10])&leafPageFlag != 0 {
		for _, c := range children {
			if c < 2 || c >= b.pages {
				return fmt.Errorf("store: page %d is outside the file", c)
			}
			b.leaves.mark(c)
		}
		return nil
	}
	for _, c := range children {
		if err := b.walk(c, depth+1); err != nil {
			return err
		}
	}
	return nil
}

// countingWriter passes the copy on to w and adds up the key counts of the marked leaf pages
// as their headers go by.
type countingWriter struct {
	w        io.Writer
	pageSize int64
	leaves   []uint64 // a bit per page of the file
	marked   int
	seen     int
	off      int64
	hdr      [pageHeaderSize]byte
	docs     int64
	bad      bool
}

func (c *countingWriter) mark(id uint64) {
	if c.leaves[id/64]&(1<<(id%64)) == 0 {
		c.leaves[id/64] |= 1 << (id % 64)
		c.marked++
	}
}

func (c *countingWriter) isMarked(id uint64) bool {
	return id/64 < uint64(len(c.leaves)) && c.leaves[id/64]&(1<<(id%64)) != 0
}

// complete reports whether every marked page went by as the leaf it was taken for.
func (c *countingWriter) complete() bool { return !c.bad && c.seen == c.marked }

// Write writes p to w, then reads the headers of the marked pages that begin in p (a header
// cut between two writes is put together first).
func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.scan(p[:n])
	return n, err
}

func (c *countingWriter) scan(p []byte) {
	for len(p) > 0 {
		in := c.off % c.pageSize
		id := uint64(c.off / c.pageSize)
		if in >= pageHeaderSize || !c.isMarked(id) {
			// On to the next page's start.
			skip := min(c.pageSize-in, int64(len(p)))
			c.off += skip
			p = p[skip:]
			continue
		}
		k := copy(c.hdr[in:], p)
		c.off += int64(k)
		p = p[k:]
		if in+int64(k) < pageHeaderSize {
			continue // the rest of the header comes with the next write
		}
		if binary.NativeEndian.Uint64(c.hdr[0:8]) != id || binary.NativeEndian.Uint16(c.hdr[8:10])&leafPageFlag == 0 {
			c.bad = true
		}
		c.docs += int64(binary.NativeEndian.Uint16(c.hdr[10:12]))
		c.seen++
	}
}

// CopyFile runs fn with a consistent copy of the open database file.
func (s *Store) CopyFile(fn func(*FileCopy) error) error {
	return s.db.View(func(tx *bolt.Tx) error { return fn(&FileCopy{tx: tx}) })
}

// CopyClosedFile opens the bbolt file at path read-only (waiting at most timeout for its
// lock: a running dbserver holds it exclusively) and runs fn with a consistent copy of it.
func CopyClosedFile(path string, timeout time.Duration, fn func(*FileCopy) error) error {
	db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true, Timeout: timeout})
	if errors.Is(err, bolterrors.ErrTimeout) {
		return fmt.Errorf("store: %s is in use by a running dbserver (back it up through its admin endpoint instead): %w", path, err)
	}
	if err != nil {
		return fmt.Errorf("store: opening %s read-only: %w", path, err)
	}
	defer func() { _ = db.Close() }()
	return db.View(func(tx *bolt.Tx) error { return fn(&FileCopy{tx: tx}) })
}

// CheckFile opens the bbolt file at path read-only and runs bbolt's own consistency check
// (every page reachable once, no page both used and free) over it. It returns the number of
// documents it holds.
func CheckFile(path string, timeout time.Duration) (n int64, err error) {
	// bbolt panics on some malformed pages instead of returning an error; a file that does
	// that is as inconsistent as one the check reports.
	defer func() {
		if r := recover(); r != nil {
			n, err = 0, fmt.Errorf("store: %s is inconsistent: %v", path, r)
		}
	}()
	db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true, Timeout: timeout})
	if err != nil {
		return 0, fmt.Errorf("store: opening %s read-only: %w", path, err)
	}
	defer func() { _ = db.Close() }()
	err = db.View(func(tx *bolt.Tx) error {
		var errs []error
		// The channel is drained to the end: the checker's goroutine holds the transaction.
		for e := range tx.Check() {
			if len(errs) < 10 {
				errs = append(errs, e)
			}
		}
		if len(errs) > 0 {
			return fmt.Errorf("store: %s is inconsistent: %w", path, errors.Join(errs...))
		}
		if tx.Bucket(bucketCollections) == nil {
			return fmt.Errorf("store: %s is not a RestKube database (no collections bucket)", path)
		}
		n = documents(tx)
		return nil
	})
	return n, err
}
