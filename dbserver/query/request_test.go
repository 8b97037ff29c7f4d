package query

import (
	"errors"
	"net/url"
	"reflect"
	"strings"
	"testing"
)

func TestParseRequest(t *testing.T) {
	tests := map[string]struct {
		query string
		opts  Options
		check func(t *testing.T, r *Request)
	}{
		"defaults": {"", Options{}, func(t *testing.T, r *Request) {
			if r.Skip != 0 || r.Max != 1000 || r.Totals || r.Metafields {
				t.Errorf("skip/max/totals/metafields = %d/%d/%v/%v", r.Skip, r.Max, r.Totals, r.Metafields)
			}
			if !reflect.DeepEqual(r.Sort, []SortKey{{"_id", 1}}) {
				t.Errorf("sort = %v, want _id ascending", r.Sort)
			}
		}},
		"custom default max": {"", Options{DefaultMax: 20}, func(t *testing.T, r *Request) {
			if r.Max != 20 {
				t.Errorf("max = %d, want 20", r.Max)
			}
		}},
		"max clamped": {"max=50000", Options{}, func(t *testing.T, r *Request) {
			if r.Max != 10000 {
				t.Errorf("max = %d, want 10000", r.Max)
			}
		}},
		"max clamped to option": {"max=500", Options{MaxPageSize: 100}, func(t *testing.T, r *Request) {
			if r.Max != 100 {
				t.Errorf("max = %d, want 100", r.Max)
			}
		}},
		"skip and max": {"skip=5&max=7", Options{}, func(t *testing.T, r *Request) {
			if r.Skip != 5 || r.Max != 7 {
				t.Errorf("skip/max = %d/%d", r.Skip, r.Max)
			}
		}},
		"sort and dir pair up": {"sort=a&dir=-1&sort=b", Options{}, func(t *testing.T, r *Request) {
			if !reflect.DeepEqual(r.Sort, []SortKey{{"a", -1}, {"b", 1}}) {
				t.Errorf("sort = %v", r.Sort)
			}
		}},
		"flags": {"totals=true&metafields=true", Options{}, func(t *testing.T, r *Request) {
			if !r.Totals || !r.Metafields {
				t.Errorf("totals/metafields = %v/%v", r.Totals, r.Metafields)
			}
		}},
		"filter words lower-cased": {"filter=Hello%20%20World", Options{}, func(t *testing.T, r *Request) {
			if !reflect.DeepEqual(r.Filter, []string{"hello", "world"}) {
				t.Errorf("filter = %v", r.Filter)
			}
		}},
		"groupby and aggregates": {"groupby=cat&aggregate=sum:n&aggregate=COUNT:all", Options{}, func(t *testing.T, r *Request) {
			if !reflect.DeepEqual(r.GroupBy, []string{"cat"}) {
				t.Errorf("groupby = %v", r.GroupBy)
			}
			if !reflect.DeepEqual(r.Aggregates, []Aggregate{{"SUM", "n"}, {"COUNT", "all"}}) {
				t.Errorf("aggregates = %v", r.Aggregates)
			}
		}},
		"hints override parameters": {
			"sort=x&dir=-1&max=3&skip=4&groupby=g&aggregate=SUM:x&" + url.Values{"h": {`{"$orderby":{"b":-1,"a":1},"$max":20,"$skip":2,"$groupby":["c"],"$aggregate":["AVG:n"]}`}}.Encode(),
			Options{}, func(t *testing.T, r *Request) {
				if !reflect.DeepEqual(r.Sort, []SortKey{{"b", -1}, {"a", 1}}) {
					t.Errorf("sort = %v (key order must be kept)", r.Sort)
				}
				if r.Max != 20 || r.Skip != 2 {
					t.Errorf("max/skip = %d/%d", r.Max, r.Skip)
				}
				if !reflect.DeepEqual(r.GroupBy, []string{"c"}) || !reflect.DeepEqual(r.Aggregates, []Aggregate{{"AVG", "n"}}) {
					t.Errorf("groupby/aggregates = %v/%v", r.GroupBy, r.Aggregates)
				}
			}},
		"hint max clamped": {url.Values{"h": {`{"$max":99999}`}}.Encode(), Options{}, func(t *testing.T, r *Request) {
			if r.Max != 10000 {
				t.Errorf("max = %d", r.Max)
			}
		}},
		"q parsed": {url.Values{"q": {`{"a":{"$gt":1}}`}}.Encode(), Options{}, func(t *testing.T, r *Request) {
			if !r.Match.Match(map[string]any{"a": 2.0}) || r.Match.Match(map[string]any{"a": 1.0}) {
				t.Error("q not applied")
			}
		}},
		"q macros use Options.Now": {url.Values{"q": {`{"d":{"$gte":{"$date":"$currentDate"}}}`}}.Encode(), Options{Now: testNow}, func(t *testing.T, r *Request) {
			if !r.Match.Match(map[string]any{"d": "2026-03-13T00:00:00Z"}) || r.Match.Match(map[string]any{"d": "2026-03-12T23:59:59Z"}) {
				t.Error("$currentDate not evaluated against Options.Now")
			}
		}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			v, err := url.ParseQuery(tc.query)
			if err != nil {
				t.Fatal(err)
			}
			r, err := ParseRequest(v, tc.opts)
			if err != nil {
				t.Fatalf("ParseRequest(%s): %v", tc.query, err)
			}
			tc.check(t, r)
		})
	}
}

func TestParseRequestErrors(t *testing.T) {
	tests := map[string]struct {
		query     string
		field, op string
	}{
		"max zero":                {"max=0", "max", ""},
		"max negative":            {"max=-3", "max", ""},
		"max not integer":         {"max=2.5", "max", ""},
		"max text":                {"max=ten", "max", ""},
		"skip negative":           {"skip=-1", "skip", ""},
		"skip not integer":        {"skip=1.5", "skip", ""},
		"max as a JSON string":    {`max="5"`, "max", ""},
		"max in hex":              {"max=0x10", "max", ""},
		"skip as a JSON string":   {`skip="2"`, "skip", ""},
		"hint max as a string":    {url.Values{"h": {`{"$max":"1"}`}}.Encode(), "h", "$max"},
		"hint skip as a string":   {url.Values{"h": {`{"$skip":"2"}`}}.Encode(), "h", "$skip"},
		"bad dir":                 {"sort=a&dir=up", "dir", ""},
		"bad totals":              {"totals=maybe", "totals", ""},
		"bad metafields":          {"metafields=yes", "metafields", ""},
		"aggregate without colon": {"aggregate=SUM", "aggregate", ""},
		"aggregate unknown fn":    {"aggregate=MEDIAN:n", "aggregate", "MEDIAN"},
		"bad q":                   {url.Values{"q": {`{"a":{"$zz":1}}`}}.Encode(), "a", "$zz"},
		"malformed h":             {url.Values{"h": {`{`}}.Encode(), "h", ""},
		"unknown hint":            {url.Values{"h": {`{"$limit":1}`}}.Encode(), "h", "$limit"},
		"fields mixing":           {url.Values{"h": {`{"$fields":{"a":1,"b":0}}`}}.Encode(), "h", "$fields"},
		"fields bad value":        {url.Values{"h": {`{"$fields":{"a":"yes"}}`}}.Encode(), "a", "$fields"},
		"fields not an object":    {url.Values{"h": {`{"$fields":[1]}`}}.Encode(), "h", "$fields"},
		"hint max zero":           {url.Values{"h": {`{"$max":0}`}}.Encode(), "h", "$max"},
		"hint max fraction":       {url.Values{"h": {`{"$max":1.5}`}}.Encode(), "h", "$max"},
		"hint skip negative":      {url.Values{"h": {`{"$skip":-2}`}}.Encode(), "h", "$skip"},
		"hint skip object":        {url.Values{"h": {`{"$skip":{}}`}}.Encode(), "h", "$skip"},
		"orderby bad direction":   {url.Values{"h": {`{"$orderby":{"a":2}}`}}.Encode(), "a", "$orderby"},
		"orderby not an object":   {url.Values{"h": {`{"$orderby":["a"]}`}}.Encode(), "h", "$orderby"},
		"groupby not a list":      {url.Values{"h": {`{"$groupby":5}`}}.Encode(), "h", "$groupby"},
		"aggregate hint bad":      {url.Values{"h": {`{"$aggregate":["NOPE:x"]}`}}.Encode(), "aggregate", "NOPE"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			v, err := url.ParseQuery(tc.query)
			if err != nil {
				t.Fatal(err)
			}
			_, err = ParseRequest(v, Options{})
			var qe *Error
			if !errors.As(err, &qe) {
				t.Fatalf("error = %v, want *Error", err)
			}
			if qe.Field != tc.field || qe.Op != tc.op {
				t.Errorf("field/op = %q/%q, want %q/%q (%v)", qe.Field, qe.Op, tc.field, tc.op, qe)
			}
		})
	}
}

func TestHintFieldsAllowsIDExclusion(t *testing.T) {
	v := url.Values{"h": {`{"$fields":{"a":1,"_id":0}}`}}
	if _, err := ParseRequest(v, Options{}); err != nil {
		t.Fatalf("{a:1,_id:0} must be allowed: %v", err)
	}
}

func TestFilter(t *testing.T) {
	doc := obj(t, `{"_id":"abc123","_createdby":"alice@example.com","title":"Buy MILK",
		"notes":{"body":"at the Corner shop"},"tags":["Urgent", 5],"n":42}`)
	tests := map[string]struct {
		filter string
		want   bool
	}{
		"no filter":                  {"", true},
		"one word":                   {"milk", true},
		"case-insensitive":           {"mIlK", true},
		"substring":                  {"ilk", true},
		"all words required":         {"milk corner", true},
		"one word missing":           {"milk bread", false},
		"nested object":              {"corner", true},
		"array element":              {"urgent", true},
		"numbers are not searched":   {"42", false},
		"keys are not searched":      {"title", false},
		"system fields not searched": {"alice", false},
		"_id not searched":           {"abc123", false},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			r, err := ParseRequest(url.Values{"filter": {tc.filter}}, Options{})
			if err != nil {
				t.Fatal(err)
			}
			if got := r.Matches(doc); got != tc.want {
				t.Errorf("Matches(filter=%q) = %v, want %v", tc.filter, got, tc.want)
			}
		})
	}
}

func TestMatchesNeedsQueryAndFilter(t *testing.T) {
	r, err := ParseRequest(url.Values{"q": {`{"n":1}`}, "filter": {"hello"}}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	tests := map[string]struct {
		doc  string
		want bool
	}{
		"both":        {`{"n":1,"s":"hello"}`, true},
		"query only":  {`{"n":1,"s":"bye"}`, false},
		"filter only": {`{"n":2,"s":"hello"}`, false},
	}
	for name, tc := range tests {
		if got := r.Matches(obj(t, tc.doc)); got != tc.want {
			t.Errorf("%s: Matches = %v, want %v", name, got, tc.want)
		}
	}
	if !strings.Contains((&Error{Field: "q"}).Error(), "q") {
		t.Error("Error must name its field")
	}
}

// TestIntegralNumbersInAnyNotation: max, skip, $max and $skip take a JSON number with an
// integral value in any notation, alike.
func TestIntegralNumbersInAnyNotation(t *testing.T) {
	for q, want := range map[string][2]int{
		"max=1e1&skip=2E0":  {10, 2},
		"max=10.0&skip=0.0": {10, 0},
		"max=5&skip=3":      {5, 3},
		url.Values{"h": {`{"$max":1e1,"$skip":3.0}`}}.Encode(): {10, 3},
		url.Values{"h": {`{"$max":2E+1,"$skip":0}`}}.Encode():  {20, 0},
	} {
		v, err := url.ParseQuery(q)
		if err != nil {
			t.Fatal(err)
		}
		r, err := ParseRequest(v, Options{})
		if err != nil {
			t.Errorf("%s: %v", q, err)
			continue
		}
		if r.Max != want[0] || r.Skip != want[1] {
			t.Errorf("%s: max %d, skip %d; want %v", q, r.Max, r.Skip, want)
		}
	}
}
