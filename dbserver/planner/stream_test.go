package planner

import (
	"encoding/json"
	"errors"
	"io"
	"net/url"
	"strings"
	"testing"

	"github.com/restkube/restkube/dbserver/query"
	"github.com/restkube/restkube/dbserver/store"
)

// chunks records the writes of a streamed page.
type chunks struct {
	writes [][]byte
	size   int
}

func (c *chunks) Write(p []byte) (int, error) {
	c.writes = append(c.writes, append([]byte(nil), p...))
	return len(p), nil
}

func (c *chunks) join() string {
	var b strings.Builder
	for _, w := range c.writes {
		b.Write(w)
	}
	return b.String()
}

// TestEveryPageOfDocumentsIsStreamed: pages of documents that need more than a copy of the
// stored JSON (full-text filter, $fields, groupby, and all of them with totals or metafields)
// go to Options.Stream in chunks of about StreamChunk, never as one write, and are the answer
// the naive scan gives; aggregate answers, which hold no documents, are returned whole.
func TestEveryPageOfDocumentsIsStreamed(t *testing.T) {
	s := openStore(t)
	text := strings.Repeat("hello streamed words ", 30)
	docs := make([]store.Doc, 400)
	for i := range docs {
		docs[i] = store.Doc{"n": float64(i), "g": float64(i % 7), "text": text, "obj": map[string]any{"k": float64(i % 3)}}
	}
	if _, err := s.Insert("c", docs, "api"); err != nil {
		t.Fatal(err)
	}
	for name, vals := range map[string]url.Values{
		"filter":                   {"filter": {"HELLO words"}, "max": {"400"}},
		"filter sorted, totals":    {"filter": {"streamed"}, "sort": {"g"}, "totals": {"true"}, "max": {"400"}},
		"$fields include":          {"h": {`{"$fields":{"text":1,"obj.k":1}}`}, "max": {"400"}},
		"$fields exclude, filter":  {"h": {`{"$fields":{"n":0}}`}, "filter": {"hello"}, "max": {"400"}, "metafields": {"true"}},
		"groupby":                  {"groupby": {"g"}, "max": {"400"}},
		"groupby two levels":       {"groupby": {"g", "obj.k"}, "sort": {"n"}, "dir": {"-1"}, "max": {"400"}},
		"groupby with $fields":     {"groupby": {"g"}, "h": {`{"$fields":{"text":1}}`}, "q": {`{"n":{"$gte":10}}`}, "max": {"400"}},
		"groupby, filter, skipped": {"groupby": {"g"}, "filter": {"hello"}, "skip": {"30"}, "max": {"300"}},
	} {
		t.Run(name, func(t *testing.T) {
			req := parse(t, vals)
			var out chunks
			streamed := false
			res, _, err := Execute(s, "c", req, Options{Stream: func(_ Plan, size int) io.Writer {
				streamed, out.size = true, size
				return &out
			}})
			if err != nil {
				t.Fatal(err)
			}
			if _, ok := res.(Streamed); !ok || !streamed {
				t.Fatalf("answer %T, not streamed", res)
			}
			if len(out.writes) < 2 {
				t.Fatalf("%d writes: the page was not sent in chunks", len(out.writes))
			}
			for _, w := range out.writes {
				if len(w) > StreamChunk+len(text)+200 {
					t.Fatalf("a write of %d bytes: more than about a chunk held at once", len(w))
				}
			}
			var got any
			if err := json.Unmarshal([]byte(out.join()), &got); err != nil {
				t.Fatalf("the streamed page is not JSON: %v", err)
			}
			if g, w := mustJSON(t, got), mustJSON(t, naive(t, s, "c", req, nil)); g != w {
				t.Fatalf("streamed page differs from the naive answer:\n got %.400s\nwant %.400s", g, w)
			}
		})
	}
	req := parse(t, url.Values{"groupby": {"g"}, "aggregate": {"SUM:n", "COUNT:all"}})
	res, _, err := Execute(s, "c", req, Options{Stream: func(Plan, int) io.Writer {
		t.Fatal("an aggregate answer was streamed")
		return nil
	}})
	if err != nil {
		t.Fatal(err)
	}
	if g, w := mustJSON(t, res), mustJSON(t, naive(t, s, "c", req, nil)); g != w {
		t.Fatalf("aggregates:\n got %s\nwant %s", g, w)
	}
}

// TestAggregateGroupsAreBounded: an aggregate answer past Options.MaxGroups groups fails with a
// query error naming groupby (the caller's 400); at the bound it is answered.
func TestAggregateGroupsAreBounded(t *testing.T) {
	s := openStore(t)
	docs := make([]store.Doc, 50)
	for i := range docs {
		docs[i] = store.Doc{"n": float64(i), "g": float64(i % 10)}
	}
	if _, err := s.Insert("c", docs, "api"); err != nil {
		t.Fatal(err)
	}
	req := parse(t, url.Values{"groupby": {"n"}, "aggregate": {"COUNT:all"}})
	_, _, err := Execute(s, "c", req, Options{MaxGroups: 49})
	var qe *query.Error
	if !errors.As(err, &qe) || qe.Field != "groupby" {
		t.Fatalf("50 groups past a bound of 49: %v, want a query error naming groupby", err)
	}
	res, _, err := Execute(s, "c", req, Options{MaxGroups: 50})
	if err != nil {
		t.Fatalf("50 groups within a bound of 50: %v", err)
	}
	if m, ok := res.(map[string]any); !ok || len(m) != 50 {
		t.Fatalf("answer %v", res)
	}
	// Two levels count every group: 10 + 50.
	req = parse(t, url.Values{"groupby": {"g", "n"}, "aggregate": {"COUNT:all"}})
	if _, _, err := Execute(s, "c", req, Options{MaxGroups: 59}); !errors.As(err, &qe) {
		t.Fatalf("60 groups on two levels past 59: %v", err)
	}
}
