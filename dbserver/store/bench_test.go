package store

import (
	"encoding/binary"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"

	bolt "go.etcd.io/bbolt"
)

const benchWriters = 16

// runWriters runs b.N calls of op spread over benchWriters goroutines and reports ops/s.
func runWriters(b *testing.B, op func(i int64) error) {
	b.Helper()
	var next atomic.Int64
	var wg sync.WaitGroup
	b.ResetTimer()
	for range benchWriters {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := next.Add(1)
				if i > int64(b.N) {
					return
				}
				if err := op(i); err != nil {
					b.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "ops/s")
}

// BenchmarkInsertParallel inserts one small document per call from 16 goroutines, each call
// waiting for its fsync'd commit.
func BenchmarkInsertParallel(b *testing.B) {
	s := openTest(b, Options{})
	runWriters(b, func(i int64) error {
		_, err := s.Insert("bench", []Doc{{"n": float64(i), "title": "a task to do", "done": false}}, "api")
		return err
	})
	st := s.Stats()
	b.ReportMetric(float64(st.Writes)/float64(max(st.Commits, 1)), "writes/commit")
}

// BenchmarkRawBoltUpdateParallel is the engine's floor for the same load: one bbolt Update per
// put from 16 goroutines, no grouping.
func BenchmarkRawBoltUpdateParallel(b *testing.B) {
	db, err := bolt.Open(filepath.Join(b.TempDir(), "raw.db"), 0o600, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	val := []byte(`{"n":1,"title":"a task to do","done":false}`)
	runWriters(b, func(i int64) error {
		return db.Update(func(tx *bolt.Tx) error {
			bk, err := tx.CreateBucketIfNotExists([]byte("bench"))
			if err != nil {
				return err
			}
			return bk.Put(binary.BigEndian.AppendUint64(nil, uint64(i)), val)
		})
	})
}

// BenchmarkGet reads documents by id from a collection of 10,000.
func BenchmarkGet(b *testing.B) {
	s := openTest(b, Options{})
	docs := make([]Doc, 10_000)
	for i := range docs {
		docs[i] = Doc{"n": float64(i), "title": "a task to do", "done": false, "tags": []any{"a", "b"}}
	}
	out, err := s.Insert("bench", docs, "api")
	if err != nil {
		b.Fatal(err)
	}
	ids := make([]string, len(out))
	for i, d := range out {
		ids[i] = d["_id"].(string)
	}
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		if _, err := s.Get("bench", ids[(i*7919)%len(ids)]); err != nil {
			b.Fatal(err)
		}
	}
}
