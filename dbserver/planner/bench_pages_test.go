package planner

import (
	"io"
	"net/url"
	"testing"
)

// BenchmarkPages measures the answers of 1000 documents out of 10k (and an aggregate over all
// of them) streamed to a discarding writer, as the HTTP layer streams them: time and memory
// per answer for a plain page, a full-text filter, a $fields projection and groupby.
func BenchmarkPages(b *testing.B) {
	s := loadBench(b, 10_000)
	for _, c := range []struct {
		name string
		vals url.Values
	}{
		{"plain", url.Values{"max": {"1000"}}},
		{"filter", url.Values{"max": {"1000"}, "filter": {"task"}}},
		{"fields", url.Values{"max": {"1000"}, "h": {`{"$fields":{"title":1,"n":1}}`}}},
		{"groupby", url.Values{"max": {"1000"}, "groupby": {"prio"}}},
		{"aggregate", url.Values{"groupby": {"prio"}, "aggregate": {"SUM:n", "AVG:u"}}},
	} {
		b.Run(c.name, func(b *testing.B) {
			req := parse(b, c.vals)
			opts := Options{Stream: func(Plan, int) io.Writer { return io.Discard }}
			b.ReportAllocs()
			for b.Loop() {
				if _, _, err := Execute(s, "c", req, opts); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
