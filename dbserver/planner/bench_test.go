package planner

import (
	"fmt"
	"net/url"
	"testing"

	"github.com/restkube/restkube/dbserver/store"
	"github.com/restkube/restkube/internal/benchdoc"
)

func loadBench(b *testing.B, n int) *store.Store {
	b.Helper()
	s := openStore(b)
	if err := s.SetIndexes(map[string][]string{"c": {"n"}}); err != nil {
		b.Fatal(err)
	}
	for i := 0; i < n; i += 1000 {
		docs := make([]store.Doc, 0, 1000)
		for j := i; j < i+1000 && j < n; j++ {
			docs = append(docs, benchdoc.Doc(j))
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
