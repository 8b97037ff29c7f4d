package query

import (
	"errors"
	"testing"
)

// FuzzParseQuery checks that no query, however malformed, panics Parse or Match, and that
// Parse fails only with *Error. `make fuzz` runs it for a bounded time; plain `go test` runs
// only the seeds.
func FuzzParseQuery(f *testing.F) {
	seeds := []string{
		``, `{}`, `null`, `[]`, `"x"`, `{"a":1}`, `{"a":{"$gt":1,"$lt":"z"}}`,
		`{"a.b.0":{"$in":[1,null,{"$date":"2026-01-01"}]}}`,
		`{"$or":[{"a":{"$regex":"^x","$options":"i"}},{"b":{"$exists":false}}]}`,
		`{"items":{"$elemMatch":{"sku":"a","qty":{"$gte":2}}}}`,
		`{"n":{"$elemMatch":{"$gt":1}}}`, `{"a":{"$not":{"$bt":[1,5]}}}`,
		`{"d":{"$gt":{"$date":"$moment.subtract.3.days"}}}`, `{"a":{"$date":"$now"}}`,
		`{"$and":[{"$nor":[{"x":1}]},{"$not":{"y":2}}]}`, `{"a":{"$size":2}}`,
		`{"a":{"$foo":1}}`, `{"a":`, `{"a..b":1}`, `{"a":{"$regex":"("}}`,
	}
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	docs := []map[string]any{
		obj(f, `{"a":1,"b":"x","d":"2026-03-01T00:00:00Z","n":[1,2,3],"items":[{"sku":"a","qty":3}]}`),
		obj(f, `{"a":{"b":[{"0":1},5,null]},"x":[[1],[2,[3]]],"y":null}`),
		{},
	}
	f.Fuzz(func(t *testing.T, q []byte) {
		m, err := Parse(q, testNow)
		if err != nil {
			var qe *Error
			if !errors.As(err, &qe) {
				t.Fatalf("Parse(%q) returned %T, want *Error", q, err)
			}
			return
		}
		for _, d := range docs {
			m.Match(d)
		}
		m.Conditions()
	})
}
