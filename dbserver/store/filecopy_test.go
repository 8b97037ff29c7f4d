package store

import (
	"bytes"
	"fmt"
	"io"
	"strings"
	"testing"
)

// TestWriteToCountsDocuments checks the count WriteTo takes from the leaf pages going by
// against bbolt's own walk of every tree, over collections of every shape: a three-level tree,
// a tree after deletes, a root that is a leaf, an inline bucket, leaves with overflow pages,
// and the count is the same whatever size the writes come in.
func TestWriteToCountsDocuments(t *testing.T) {
	s := openTest(t, Options{})
	for i := 0; i < 6000; i += 500 { // three levels: ~6 documents a leaf, ~140 leaves a branch
		docs := make([]Doc, 500)
		for j := range docs {
			docs[j] = Doc{"n": float64(i + j), "text": strings.Repeat("x", 500)}
		}
		mustInsert(t, s, "big", docs...)
	}
	var ids []string
	for _, d := range mustInsert(t, s, "thinned", make([]Doc, 3000)...) {
		ids = append(ids, d["_id"].(string))
	}
	if _, err := s.DeleteMany("thinned", ids[:2000], nil); err != nil {
		t.Fatal(err)
	}
	mustInsert(t, s, "leafroot", Doc{"a": strings.Repeat("y", 300)}, Doc{"b": strings.Repeat("y", 300)}, Doc{"c": strings.Repeat("y", 300)})
	mustInsert(t, s, "inline", Doc{"a": 1.0})
	mustInsert(t, s, "huge", Doc{"blob": strings.Repeat("z", 20000)}, Doc{"blob": strings.Repeat("z", 9000)}, Doc{"x": 1.0})
	const want = 6000 + 1000 + 3 + 1 + 3

	for _, chunk := range []int{1, 7, 4096, 1 << 20} {
		t.Run(fmt.Sprintf("writes of %d bytes", chunk), func(t *testing.T) {
			err := s.CopyFile(func(c *FileCopy) error {
				if slow := documents(c.tx); slow != want {
					t.Fatalf("bbolt's walk counts %d, want %d", slow, want)
				}
				var out bytes.Buffer
				n, err := c.WriteTo(&chunked{w: &out, max: chunk})
				if err != nil || n != c.Size() || int64(out.Len()) != n {
					t.Fatalf("WriteTo = %d, %v; wrote %d of %d", n, err, out.Len(), c.Size())
				}
				if !c.counted {
					t.Fatal("WriteTo did not count the documents on the way")
				}
				if got := c.Documents(); got != want {
					t.Fatalf("Documents after WriteTo = %d, want %d", got, want)
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestWriteToCountVoidedByAWrongPage marks a page that is not a leaf: the count taken on the
// way is refused, and Documents falls back to bbolt's walk.
func TestWriteToCountVoidedByAWrongPage(t *testing.T) {
	s := openTest(t, Options{})
	for i := 0; i < 2000; i += 500 {
		mustInsert(t, s, "c", make([]Doc, 500)...)
	}
	err := s.CopyFile(func(c *FileCopy) error {
		lc := c.leafCounter(io.Discard)
		if lc == nil || lc.marked == 0 {
			t.Fatalf("no leaves marked: %+v", lc)
		}
		lc.mark(0) // a meta page goes by first: neither its id nor its type fits
		lc.marked++
		if _, err := c.tx.WriteTo(lc); err != nil {
			t.Fatal(err)
		}
		if lc.complete() {
			t.Fatal("a count over a page that is not a leaf was accepted")
		}
		if got := c.Documents(); got != 2000 {
			t.Fatalf("Documents = %d, want 2000 from the fallback", got)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// chunked writes at most max bytes per Write to w.
type chunked struct {
	w   io.Writer
	max int
}

func (c *chunked) Write(p []byte) (int, error) {
	n := 0
	for len(p) > 0 {
		k := min(len(p), c.max)
		m, err := c.w.Write(p[:k])
		n += m
		if err != nil {
			return n, err
		}
		p = p[k:]
	}
	return n, nil
}
