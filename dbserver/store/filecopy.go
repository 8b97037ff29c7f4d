package store

import (
	"errors"
	"fmt"
	"io"
	"time"

	bolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"
)

// FileCopy is the database file as one read transaction sees it: a consistent copy that
// writers do not wait for (bbolt's copy-on-write keeps the pages it reads alive until it ends).
// It is valid only inside the function given to CopyFile or CopyClosedFile.
type FileCopy struct {
	tx *bolt.Tx
}

// Size is the number of bytes WriteTo writes.
func (c *FileCopy) Size() int64 { return c.tx.Size() }

// WriteTo writes the whole file as of the transaction to w.
func (c *FileCopy) WriteTo(w io.Writer) (int64, error) {
	n, err := c.tx.WriteTo(w)
	if err != nil {
		return n, fmt.Errorf("store: copying the database file: %w", err)
	}
	return n, nil
}

// Documents counts the documents of every collection. It reads the page headers of the
// collections' B+trees, not the documents.
func (c *FileCopy) Documents() int64 {
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
