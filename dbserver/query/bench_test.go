package query

import (
	"fmt"
	"net/url"
	"testing"
)

func benchDocs(n int) []map[string]any {
	docs := make([]map[string]any, n)
	cats := []string{"books", "games", "music", "tools"}
	for i := range docs {
		docs[i] = map[string]any{
			"_id":      fmt.Sprintf("%024x", i),
			"_created": "2026-03-01T10:00:00.000Z",
			"_version": 0.0,
			"title":    fmt.Sprintf("Item number %d", i),
			"cat":      cats[i%len(cats)],
			"price":    float64(i%500) + 0.99,
			"tags":     []any{"t" + fmt.Sprint(i%7), "t" + fmt.Sprint(i%11)},
			"due":      fmt.Sprintf("2026-%02d-%02dT12:00:00.000Z", i%12+1, i%28+1),
			"stock":    map[string]any{"count": float64(i % 40), "where": "shelf"},
		}
	}
	return docs
}

// BenchmarkMatch measures one scan of a 5,000-document collection per iteration.
func BenchmarkMatch(b *testing.B) {
	docs := benchDocs(5000)
	queries := map[string]string{
		"equality": `{"cat":"games"}`,
		"range":    `{"price":{"$gte":100,"$lt":200}}`,
		"complex":  `{"$or":[{"cat":"games","stock.count":{"$gt":10}},{"tags":{"$in":["t3","t5"]}}],"title":{"$regex":"number 1","$options":"i"}}`,
		"date":     `{"due":{"$gt":{"$date":"2026-06-01"}}}`,
	}
	for name, q := range queries {
		b.Run(name, func(b *testing.B) {
			m, err := Parse([]byte(q), testNow)
			if err != nil {
				b.Fatal(err)
			}
			hits := 0
			for b.Loop() {
				hits = 0
				for _, d := range docs {
					if m.Match(d) {
						hits++
					}
				}
			}
			if hits == 0 {
				b.Fatalf("query %s matched nothing", q)
			}
		})
	}
}

// BenchmarkResult measures sorting and paging 5,000 matches.
func BenchmarkResult(b *testing.B) {
	docs := benchDocs(5000)
	r, err := ParseRequest(url.Values{"sort": {"price"}, "dir": {"-1"}, "max": {"100"}}, Options{})
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if out := r.Result(docs).([]map[string]any); len(out) != 100 {
			b.Fatalf("got %d documents", len(out))
		}
	}
}
