package planner

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/restkube/restkube/dbserver/jsondoc"
	"github.com/restkube/restkube/dbserver/query"
	"github.com/restkube/restkube/dbserver/store"
)

var testNow = time.Date(2026, 3, 28, 12, 0, 0, 0, time.UTC)

func openStore(t testing.TB) *store.Store {
	t.Helper()
	s, err := store.Open(filepath.Join(t.TempDir(), "data.db"), store.Options{})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func parse(t testing.TB, vals url.Values) *query.Request {
	t.Helper()
	req, err := query.ParseRequest(vals, query.Options{Now: testNow})
	if err != nil {
		t.Fatalf("ParseRequest(%v): %v", vals, err)
	}
	return req
}

// naive answers a request the simple way: decode every document, match, Result.
func naive(t testing.TB, s *store.Store, coll string, req *query.Request, allow func(store.Doc) bool) any {
	t.Helper()
	matched := []store.Doc{}
	if err := s.Scan(coll, func(d store.Doc) bool {
		if (allow == nil || allow(d)) && req.Matches(d) {
			matched = append(matched, d)
		}
		return true
	}); err != nil {
		t.Fatalf("Scan: %v", err)
	}
	return req.Result(matched)
}

// mustJSON renders an answer as canonical JSON: encoded as the HTTP layer would, decoded, and
// encoded again, so that a raw page and a Result compare by their JSON values.
func mustJSON(t testing.TB, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatalf("json: %v", err)
	}
	var back any
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatalf("json: %v in %s", err, b)
	}
	if b, err = json.Marshal(back); err != nil {
		t.Fatalf("json: %v", err)
	}
	return string(b)
}

// A random document of mixed types, with missing fields, arrays (multikey), nested objects
// and arrays of objects (fanning dot paths).
func randDoc(r *rand.Rand) store.Doc {
	scalar := func() any {
		switch r.IntN(9) {
		case 0:
			return nil
		case 1, 2, 3:
			return float64(r.IntN(6))
		case 4:
			return float64(r.IntN(6)) + 0.5
		case 5, 6:
			return []string{"a", "b", "c", "x", "2026-01-15"}[r.IntN(5)]
		case 7:
			return r.IntN(2) == 0
		}
		return map[string]any{"k": float64(r.IntN(2))}
	}
	value := func() any {
		if r.IntN(4) == 0 {
			a := make([]any, r.IntN(4))
			for i := range a {
				a[i] = scalar()
			}
			return a
		}
		return scalar()
	}
	d := store.Doc{}
	for _, f := range []string{"n", "s", "u", "t"} {
		if r.IntN(5) > 0 {
			d[f] = value()
		}
	}
	switch r.IntN(4) {
	case 0:
		d["a"] = map[string]any{"b": value()}
	case 1:
		d["a"] = []any{map[string]any{"b": value()}, map[string]any{"b": value()}, "loose"}
	case 2:
		d["a"] = value()
	}
	if r.IntN(3) == 0 {
		d["text"] = []any{"hello world", "Hello there", "nothing", "HÉLLO Wörld", "say \"hello\"\n", "\u212a\xff",
			map[string]any{"_deep": []any{"x", "hello"}}, []any{1.0, "WORLD"}}[r.IntN(8)]
	}
	return d
}

func randOperand(r *rand.Rand) string {
	return []string{"0", "1", "2", "3.5", "5", "-1", `"a"`, `"b"`, `"x"`, "true", "false", "null", `{"k":1}`, `[1,2]`, `{"$date":"2026-01-01"}`, `"2026-01-15"`}[r.IntN(16)]
}

func randCondition(r *rand.Rand, field string) string {
	o := randOperand
	switch r.IntN(11) {
	case 0, 1:
		return fmt.Sprintf("%q:%s", field, o(r))
	case 2:
		return fmt.Sprintf(`%q:{"$in":[%s,%s]}`, field, o(r), o(r))
	case 3:
		return fmt.Sprintf(`%q:{"$gt":%s}`, field, o(r))
	case 4:
		return fmt.Sprintf(`%q:{"$gte":%s}`, field, o(r))
	case 5:
		return fmt.Sprintf(`%q:{"$lt":%s}`, field, o(r))
	case 6:
		return fmt.Sprintf(`%q:{"$lte":%s}`, field, o(r))
	case 7:
		return fmt.Sprintf(`%q:{"$bt":[%s,%s]}`, field, o(r), o(r))
	case 8:
		return fmt.Sprintf(`%q:{"$gt":%s,"$lt":%s}`, field, o(r), o(r))
	case 9:
		return fmt.Sprintf(`%q:{"$ne":%s}`, field, o(r))
	}
	return fmt.Sprintf(`%q:{"$exists":%v}`, field, r.IntN(2) == 0)
}

func randRequest(r *rand.Rand) url.Values {
	fields := []string{"n", "s", "u", "t", "a.b", "a", "_id"}
	var conds []string
	for i := r.IntN(3); i > 0; i-- {
		conds = append(conds, randCondition(r, fields[r.IntN(len(fields)-1)]))
	}
	if r.IntN(8) == 0 {
		conds = append(conds, fmt.Sprintf(`"$or":[{%s},{%s}]`, randCondition(r, "n"), randCondition(r, "s")))
	}
	v := url.Values{}
	v.Set("q", "{"+strings.Join(conds, ",")+"}")
	for i := r.IntN(3); i > 0; i-- {
		v.Add("sort", fields[r.IntN(len(fields))])
		v.Add("dir", []string{"1", "-1"}[r.IntN(2)])
	}
	if r.IntN(2) == 0 {
		v.Set("max", fmt.Sprint(1+r.IntN(8)))
	}
	if r.IntN(3) == 0 {
		v.Set("skip", fmt.Sprint(r.IntN(6)))
	}
	switch r.IntN(18) {
	case 11:
		v.Set("h", `{"$fields":{"s":1,"text":1,"_id":0}}`)
	case 12:
		v.Set("metafields", "true")
		v.Set("h", `{"$fields":{"_id":1}}`)
	case 0:
		v.Set("totals", "true")
	case 7:
		v["groupby"] = []string{"s", "u"}
	case 8:
		v.Set("groupby", "a.b")
		v["aggregate"] = []string{"AVG:n", "MAX:a.b", "MIN:u", "COUNT:c"}
	case 9:
		v.Set("filter", "hello")
		v.Set("h", `{"$fields":{"n":0,"a.b":0}}`)
	case 10:
		v.Set("groupby", "s")
		v.Set("metafields", "true")
		v.Set("h", `{"$fields":{"s":1,"_version":1}}`)
	case 1:
		v.Set("groupby", "s")
	case 2:
		v.Add("aggregate", "SUM:n")
		v.Add("aggregate", "COUNT:all")
	case 3:
		v.Set("filter", []string{"hello", "HELLO wor", "héllo", "ö", "k", "o\"\n", "\ufffd"}[r.IntN(7)])
	case 4:
		v.Set("metafields", "true")
	case 5:
		v.Set("h", `{"$fields":{"n":1,"a.b":1}}`)
	case 6:
		v.Set("metafields", "true")
		v.Set("totals", "true")
	}
	return v
}

// TestExecuteAgreesWithAFullScan is the differential test: random documents of mixed types,
// random queries, sorts and pages, random writes in between; the planner's answer must equal
// the naive full scan's, byte for byte.
func TestExecuteAgreesWithAFullScan(t *testing.T) {
	s := openStore(t)
	if err := s.SetIndexes(map[string][]string{"c": {"n", "s", "t", "a.b"}}); err != nil {
		t.Fatalf("SetIndexes: %v", err)
	}
	r := rand.New(rand.NewPCG(11, 12))
	docs := make([]store.Doc, 300)
	for i := range docs {
		docs[i] = randDoc(r)
	}
	stored, err := s.Insert("c", docs, "api")
	if err != nil {
		t.Fatalf("Insert: %v", err)
	}
	kinds := map[Kind]int{}
	raws, covered, inOrder := 0, 0, 0
	for round := 0; round < 3000; round++ {
		if round%100 == 99 {
			// Writes between queries, so maintained indexes are what is tested.
			id := stored[r.IntN(len(stored))][jsondoc.FieldID].(string)
			repl := randDoc(r)
			_, _ = s.Update("c", id, store.AnyVersion, "api", func(d store.Doc) error {
				clear(d)
				for k, v := range repl {
					d[k] = v
				}
				return nil
			})
			_ = s.Delete("c", stored[r.IntN(len(stored))][jsondoc.FieldID].(string), store.AnyVersion, nil)
			more, err := s.Insert("c", []store.Doc{randDoc(r), randDoc(r)}, "api")
			if err != nil {
				t.Fatal(err)
			}
			stored = append(stored, more...)
		}
		vals := randRequest(r)
		if round%10 == 0 {
			// An _id condition, sometimes on an id that exists.
			id := stored[r.IntN(len(stored))][jsondoc.FieldID].(string)
			vals.Set("q", fmt.Sprintf(`{"_id":{"$in":[%q,"000000000000000000000000","nothex"]}}`, id))
		}
		req := parse(t, vals)
		got, plan, err := Execute(s, "c", req, Options{})
		if err != nil {
			t.Fatalf("Execute(%v): %v", vals, err)
		}
		kinds[plan.Kind]++
		if plan.Raw {
			raws++
		}
		if plan.Covered > 0 {
			covered++
		}
		if plan.InOrder {
			inOrder++
		}
		want := naive(t, s, "c", req, nil)
		if g, w := mustJSON(t, got), mustJSON(t, want); g != w {
			t.Fatalf("round %d, query %v, plan %+v:\n got %s\nwant %s", round, vals, plan, g, w)
		}
	}
	for _, k := range []Kind{IDs, IndexEq, IndexOrder, IndexRange, Scan} {
		if kinds[k] < 20 {
			t.Errorf("plan %s ran only %d times: the random queries do not exercise it", k, kinds[k])
		}
	}
	if raws < 300 || raws > 2900 {
		t.Errorf("%d of 3000 answers were written from stored JSON: the random requests do not exercise both paths", raws)
	}
	if covered < 20 {
		t.Errorf("only %d answers tested candidates on index entries alone", covered)
	}
	if inOrder < 10 {
		t.Errorf("only %d answers kept an index walk's matches in order", inOrder)
	}
	t.Logf("plans used: %v; %d raw answers, %d covered, %d in order", kinds, raws, covered, inOrder)
}

func TestExecuteWithAllow(t *testing.T) {
	s := openStore(t)
	if err := s.SetIndexes(map[string][]string{"c": {"n"}}); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 40; i++ {
		user := []string{"ann", "bob"}[i%2]
		if _, err := s.Insert("c", []store.Doc{{"n": float64(i % 7), "text": "hello"}}, user); err != nil {
			t.Fatal(err)
		}
	}
	allow := func(d store.Doc) bool { return d[jsondoc.FieldCreatedBy] == "ann" }
	for _, q := range []string{`{}`, `{"n":3}`, `{"n":{"$gt":2}}`} {
		for _, fields := range [][]string{nil, {jsondoc.FieldCreatedBy}} {
			vals := url.Values{"q": {q}, "sort": {"n"}, "max": {"5"}}
			req := parse(t, vals)
			got, _, err := Execute(s, "c", req, Options{Allow: allow, AllowFields: fields})
			if err != nil {
				t.Fatal(err)
			}
			if g, w := mustJSON(t, got), mustJSON(t, naive(t, s, "c", req, allow)); g != w {
				t.Fatalf("q %s, fields %v:\n got %s\nwant %s", q, fields, g, w)
			}
			if strings.Contains(mustJSON(t, got), "bob") {
				t.Fatalf("q %s: a hidden document leaked", q)
			}
		}
	}
}

// TestPlansReadLittle checks the point of the planner: how much each plan reads.
func TestPlansReadLittle(t *testing.T) {
	s := openStore(t)
	if err := s.SetIndexes(map[string][]string{"c": {"n", "s"}}); err != nil {
		t.Fatal(err)
	}
	const total = 1000
	docs := make([]store.Doc, total)
	for i := range docs {
		docs[i] = store.Doc{"n": float64(i), "s": fmt.Sprintf("k%d", i%100), "u": float64(i % 10)}
	}
	if _, err := s.Insert("c", docs, "api"); err != nil {
		t.Fatal(err)
	}
	tests := map[string]struct {
		vals        url.Values
		kind        Kind
		maxExamined int
		count       int
	}{
		"range on the sort field reads a page": {
			url.Values{"q": {`{"n":{"$gt":500}}`}, "sort": {"n"}, "max": {"20"}}, IndexOrder, 20, 20},
		"descending range reads a page": {
			url.Values{"q": {`{"n":{"$lte":500}}`}, "sort": {"n"}, "dir": {"-1"}, "max": {"20"}, "skip": {"5"}}, IndexOrder, 25, 20},
		"equality reads its matches": {
			url.Values{"q": {`{"s":"k7"}`}}, IndexEq, 10, 10},
		"$in reads its matches": {
			url.Values{"q": {`{"s":{"$in":["k7","k8"]}}`}, "sort": {"u"}}, IndexEq, 20, 20},
		"two-sided range on another field": {
			url.Values{"q": {`{"n":{"$bt":[10,19]}}`}, "sort": {"u"}}, IndexRange, 10, 10},
		"sort on an indexed field stops early": {
			url.Values{"sort": {"n"}, "dir": {"-1"}, "max": {"3"}}, IndexOrder, 3, 3},
		"default listing stops early": {
			url.Values{"max": {"7"}}, Scan, 7, 7},
		"unindexed query scans": {
			url.Values{"q": {`{"u":3}`}, "totals": {"true"}}, Scan, total, 100},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			req := parse(t, tc.vals)
			got, plan, err := Execute(s, "c", req, Options{})
			if err != nil {
				t.Fatal(err)
			}
			if plan.Kind != tc.kind || plan.Examined > tc.maxExamined {
				t.Fatalf("plan %+v, want kind %s examining at most %d", plan, tc.kind, tc.maxExamined)
			}
			var n int
			var answer any
			if err := json.Unmarshal([]byte(mustJSON(t, got)), &answer); err != nil {
				t.Fatal(err)
			}
			switch v := answer.(type) {
			case []any:
				n = len(v)
			case map[string]any:
				n = int(v["totals"].(map[string]any)["total"].(float64))
			}
			if n != tc.count {
				t.Fatalf("got %d documents, want %d", n, tc.count)
			}
			if g, w := mustJSON(t, got), mustJSON(t, naive(t, s, "c", req, nil)); g != w {
				t.Fatalf("answer differs from a full scan:\n got %s\nwant %s", g, w)
			}
		})
	}
}

func TestIndexChangesApplyToTheNextQuery(t *testing.T) {
	s := openStore(t)
	for i := 0; i < 50; i++ {
		if _, err := s.Insert("c", []store.Doc{{"n": float64(i % 13)}}, "api"); err != nil {
			t.Fatal(err)
		}
	}
	req := parse(t, url.Values{"q": {`{"n":{"$gte":4}}`}, "sort": {"n"}, "dir": {"-1"}, "max": {"6"}})
	want := mustJSON(t, naive(t, s, "c", req, nil))
	for _, step := range []struct {
		indexes map[string][]string
		kind    Kind
	}{
		{nil, Scan},
		{map[string][]string{"c": {"n"}}, IndexOrder},
		{map[string][]string{"other": {"n"}}, Scan},
		{map[string][]string{"c": {"n"}}, IndexOrder},
	} {
		if err := s.SetIndexes(step.indexes); err != nil {
			t.Fatal(err)
		}
		got, plan, err := Execute(s, "c", req, Options{})
		if err != nil {
			t.Fatal(err)
		}
		if plan.Kind != step.kind {
			t.Errorf("with indexes %v: plan %s, want %s", step.indexes, plan.Kind, step.kind)
		}
		if g := mustJSON(t, got); g != want {
			t.Errorf("with indexes %v:\n got %s\nwant %s", step.indexes, g, want)
		}
	}
}

// A walk up the index keeps covered matches in order until a candidate breaks it: documents
// whose value is an array (met through the element entries), or whose entry does not hold the
// value. The answers must still equal the full scan's, page by page.
func TestInOrderWalkMeetsArraysAndOthers(t *testing.T) {
	s := openStore(t)
	if err := s.SetIndexes(map[string][]string{"c": {"n"}}); err != nil {
		t.Fatal(err)
	}
	var docs []store.Doc
	for i := range 40 {
		switch i % 5 {
		case 0:
			docs = append(docs, store.Doc{"n": []any{float64(i), float64(100 - i)}})
		case 1:
			docs = append(docs, store.Doc{"n": float64(i % 7)}) // ties, broken by _id
		case 2:
			docs = append(docs, store.Doc{"n": strings.Repeat("s", 600+i)}) // cut in the index
		default:
			docs = append(docs, store.Doc{"n": float64(i)})
		}
	}
	if _, err := s.Insert("c", docs, "api"); err != nil {
		t.Fatal(err)
	}
	inOrder := 0
	for _, q := range []string{`{"n":{"$gt":3}}`, `{"n":{"$gte":0}}`, `{"n":{"$lt":30}}`, `{"n":{"$gt":"r"}}`, `{}`} {
		for _, max := range []string{"1", "3", "8", "100"} {
			for _, skip := range []string{"0", "2"} {
				vals := url.Values{"q": {q}, "sort": {"n"}, "max": {max}, "skip": {skip}}
				req := parse(t, vals)
				got, plan, err := Execute(s, "c", req, Options{})
				if err != nil {
					t.Fatal(err)
				}
				if plan.InOrder {
					inOrder++
				}
				if g, w := mustJSON(t, got), mustJSON(t, naive(t, s, "c", req, nil)); g != w {
					t.Fatalf("query %v, plan %+v:\n got %s\nwant %s", vals, plan, g, w)
				}
			}
		}
	}
	if inOrder < 20 {
		t.Errorf("only %d of the answers started in order", inOrder)
	}
}
