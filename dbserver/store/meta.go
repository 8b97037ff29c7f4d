package store

import (
	"fmt"

	bolt "go.etcd.io/bbolt"
)

// The meta area is a small key/value store for other packages (token revocations, settings
// state). Its buckets live under their own top-level bucket, apart from the collections.

func metaBucket(tx *bolt.Tx, bucket string) *bolt.Bucket {
	if !validName(bucket) {
		return nil
	}
	return tx.Bucket(bucketMeta).Bucket([]byte(bucket))
}

// PutMeta stores value under key in a meta bucket, creating the bucket if needed.
func (s *Store) PutMeta(bucket, key string, value []byte) error {
	if !validName(bucket) {
		return fmt.Errorf("store: invalid meta bucket name %q", bucket)
	}
	if key == "" || len(key) > bolt.MaxKeySize {
		return fmt.Errorf("store: invalid meta key in bucket %q", bucket)
	}
	// Own copy: the caller may reuse value once we return, and a retried batch writes it again.
	v := append([]byte{}, value...)
	return s.writer.write(func(tx *bolt.Tx, _ *changes) error {
		b, err := tx.Bucket(bucketMeta).CreateBucketIfNotExists([]byte(bucket))
		if err != nil {
			return fmt.Errorf("store: creating meta bucket %q: %w", bucket, err)
		}
		if err := b.Put([]byte(key), v); err != nil {
			return fmt.Errorf("store: writing meta %s/%s: %w", bucket, key, err)
		}
		return nil
	})
}

// PutMetas stores several keys in a meta bucket in one transaction: all of them or none.
// keys and values pair up by index.
func (s *Store) PutMetas(bucket string, keys []string, values [][]byte) error {
	if !validName(bucket) {
		return fmt.Errorf("store: invalid meta bucket name %q", bucket)
	}
	if len(keys) != len(values) {
		return fmt.Errorf("store: PutMetas got %d keys and %d values", len(keys), len(values))
	}
	vs := make([][]byte, len(values))
	for i, k := range keys {
		if k == "" || len(k) > bolt.MaxKeySize {
			return fmt.Errorf("store: invalid meta key in bucket %q", bucket)
		}
		// Own copies: the caller may reuse values once we return, and a retried batch writes them again.
		vs[i] = append([]byte{}, values[i]...)
	}
	return s.writer.write(func(tx *bolt.Tx, _ *changes) error {
		b, err := tx.Bucket(bucketMeta).CreateBucketIfNotExists([]byte(bucket))
		if err != nil {
			return fmt.Errorf("store: creating meta bucket %q: %w", bucket, err)
		}
		for i, k := range keys {
			if err := b.Put([]byte(k), vs[i]); err != nil {
				return fmt.Errorf("store: writing meta %s/%s: %w", bucket, k, err)
			}
		}
		return nil
	})
}

// GetMeta returns a copy of the value under key, or nil, nil when it is absent.
func (s *Store) GetMeta(bucket, key string) ([]byte, error) {
	var out []byte
	err := s.db.View(func(tx *bolt.Tx) error {
		b := metaBucket(tx, bucket)
		if b == nil {
			return nil
		}
		if v := b.Get([]byte(key)); v != nil {
			out = append([]byte{}, v...)
		}
		return nil
	})
	return out, err
}

// DeleteMeta removes keys from a meta bucket in one transaction; absent keys are ignored.
func (s *Store) DeleteMeta(bucket string, keys ...string) error {
	if len(keys) == 0 {
		return nil
	}
	return s.writer.write(func(tx *bolt.Tx, _ *changes) error {
		b := metaBucket(tx, bucket)
		if b == nil {
			return nil
		}
		for _, k := range keys {
			if k == "" {
				continue
			}
			if err := b.Delete([]byte(k)); err != nil {
				return fmt.Errorf("store: deleting meta %s/%s: %w", bucket, k, err)
			}
		}
		return nil
	})
}

// ScanMeta calls fn for each key of a meta bucket in byte order, inside one read transaction,
// until fn returns false. value is a copy the caller may keep.
func (s *Store) ScanMeta(bucket string, fn func(key string, value []byte) bool) error {
	return s.db.View(func(tx *bolt.Tx) error {
		b := metaBucket(tx, bucket)
		if b == nil {
			return nil
		}
		c := b.Cursor()
		for k, v := c.First(); k != nil; k, v = c.Next() {
			if v == nil {
				continue
			}
			if !fn(string(k), append([]byte{}, v...)) {
				return nil
			}
		}
		return nil
	})
}
