package planner

import (
	"fmt"
	"net/url"
	"testing"

	"github.com/restkube/restkube/dbserver/store"
)

// benchDoc is a document of a typical size: a dozen fields of mixed types (plus the six
// system fields the store adds), about 400 bytes of JSON.
func benchDoc(i int) store.Doc {
	return store.Doc{
		"n":     float64(i),
		"u":     float64(i % 100),
		"title": fmt.Sprintf("Task number %d with a moderately long title", i),
		"done":  i%3 == 0,
		"owner": fmt.Sprintf("user%d@example.com", i%50),
		"tags":  []any{"work", "home", fmt.Sprintf("t%d", i%7)},
		"due":   "2026-04-01T10:00:00.000Z",
		"prio":  float64(i % 5),
		"notes": "Some notes that make the document a little larger, as real ones are.",
		"meta":  map[string]any{"source": "import", "rev": float64(i % 11), "ok": true},
	}
}

func loadBench(b *testing.B, n int) *store.Store {
	b.Helper()
	s := openStore(b)
	if err := s.SetIndexes(map[string][]string{"c": {"n"}}); err != nil {
		b.Fatal(err)
	}
	for i := 0; i < n; i += 1000 {
		docs := make([]store.Doc, 0, 1000)
		for j := i; j < i+1000 && j < n; j++ {
			docs = append(docs, benchDoc(j))
		}
		if _, err := s.Insert("c", docs, "api"); err != nil {
			b.Fatal(err)
		}
	}
	return s
}

// The unindexed query of the target, over 10k documents: {"u":42} matches 1% of them,
// totals=true makes both paths read everything. Naive decodes every document into a map;
// Execute decodes only "u", then the matches in full.
func BenchmarkUnindexedQuery10k(b *testing.B) {
	s := loadBench(b, 10_000)
	req := parse(b, url.Values{"q": {`{"u":42}`}, "totals": {"true"}})
	b.Run("naive", func(b *testing.B) {
		for b.Loop() {
			matched := []store.Doc{}
			if err := s.Scan("c", func(d store.Doc) bool {
				if req.Matches(d) {
					matched = append(matched, d)
				}
				return true
			}); err != nil {
				b.Fatal(err)
			}
			req.Result(matched)
		}
	})
	b.Run("planner", func(b *testing.B) {
		for b.Loop() {
			if _, _, err := Execute(s, "c", req, Options{}); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func BenchmarkIndexedRangeQuery(b *testing.B) {
	for _, n := range []int{10_000, 100_000} {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			s := loadBench(b, n)
			req := parse(b, url.Values{"q": {fmt.Sprintf(`{"n":{"$gt":%d}}`, n/2)}, "sort": {"n"}, "max": {"20"}})
			for b.Loop() {
				if _, _, err := Execute(s, "c", req, Options{}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
