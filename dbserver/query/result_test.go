package query

import (
	"encoding/json"
	"net/url"
	"testing"
)

// resultDocs is a small collection with system fields, as the store hands it over.
func resultDocs(t *testing.T) []map[string]any {
	t.Helper()
	var docs []map[string]any
	src := `[
	 {"_id":"04","_created":"c","_changed":"c","_createdby":"api","_changedby":"api","_version":0,"name":"d","cat":"x","n":4,"sub":{"a":1,"b":2}},
	 {"_id":"01","_created":"c","_changed":"c","_createdby":"api","_changedby":"api","_version":1,"name":"a","cat":"y","n":1,"sub":{"a":3,"b":4}},
	 {"_id":"03","_created":"c","_changed":"c","_createdby":"api","_changedby":"api","_version":0,"name":"c","cat":3,"n":"text"},
	 {"_id":"02","_created":"c","_changed":"c","_createdby":"api","_changedby":"api","_version":2,"name":"b","cat":"x","n":2},
	 {"_id":"05","_created":"c","_changed":"c","_createdby":"api","_changedby":"api","_version":0,"name":"e","cat":"3"}
	]`
	if err := json.Unmarshal([]byte(src), &docs); err != nil {
		t.Fatal(err)
	}
	return docs
}

func TestResultShapes(t *testing.T) {
	tests := map[string]struct {
		params url.Values
		want   string
	}{
		"default sort by _id without system fields": {url.Values{"h": {`{"$fields":{"name":1}}`}},
			`[{"_id":"01","name":"a"},{"_id":"02","name":"b"},{"_id":"03","name":"c"},{"_id":"04","name":"d"},{"_id":"05","name":"e"}]`},
		"system fields hidden": {url.Values{"max": {"1"}},
			`[{"_id":"01","cat":"y","n":1,"name":"a","sub":{"a":3,"b":4}}]`},
		"metafields shows them": {url.Values{"max": {"1"}, "metafields": {"true"}},
			`[{"_changed":"c","_changedby":"api","_created":"c","_createdby":"api","_id":"01","_version":1,"cat":"y","n":1,"name":"a","sub":{"a":3,"b":4}}]`},
		"sort descending": {url.Values{"sort": {"name"}, "dir": {"-1"}, "h": {`{"$fields":{"name":1,"_id":0}}`}},
			`[{"name":"e"},{"name":"d"},{"name":"c"},{"name":"b"},{"name":"a"}]`},
		"sort across types: missing < numbers < strings": {url.Values{"sort": {"n"}, "h": {`{"$fields":{"n":1}}`}},
			`[{"_id":"05"},{"_id":"01","n":1},{"_id":"02","n":2},{"_id":"04","n":4},{"_id":"03","n":"text"}]`},
		"sort by two keys, _id breaks ties": {url.Values{"h": {`{"$orderby":{"cat":-1},"$fields":{"cat":1}}`}},
			`[{"_id":"01","cat":"y"},{"_id":"02","cat":"x"},{"_id":"04","cat":"x"},{"_id":"05","cat":"3"},{"_id":"03","cat":3}]`},
		"sort by dot path": {url.Values{"sort": {"sub.a"}, "dir": {"-1"}, "max": {"2"}, "h": {`{"$fields":{"_id":1}}`}},
			`[{"_id":"01"},{"_id":"04"}]`},
		"skip and max": {url.Values{"skip": {"1"}, "max": {"2"}, "h": {`{"$fields":{"name":1}}`}},
			`[{"_id":"02","name":"b"},{"_id":"03","name":"c"}]`},
		"skip past the end is empty array": {url.Values{"skip": {"50"}}, `[]`},
		"exclude projection": {url.Values{"max": {"1"}, "h": {`{"$fields":{"sub":0,"cat":0}}`}},
			`[{"_id":"01","n":1,"name":"a"}]`},
		"exclude nested path keeps the rest": {url.Values{"max": {"1"}, "h": {`{"$fields":{"sub.a":0,"cat":0,"n":0,"name":0}}`}},
			`[{"_id":"01","sub":{"b":4}}]`},
		"include nested path": {url.Values{"max": {"1"}, "h": {`{"$fields":{"sub.b":1}}`}},
			`[{"_id":"01","sub":{"b":4}}]`},
		"exclude _id only": {url.Values{"max": {"1"}, "h": {`{"$fields":{"_id":0}}`}},
			`[{"cat":"y","n":1,"name":"a","sub":{"a":3,"b":4}}]`},
		"include a system field explicitly": {url.Values{"max": {"1"}, "h": {`{"$fields":{"_version":1}}`}},
			`[{"_id":"01","_version":1}]`},
		"include projection with metafields": {url.Values{"max": {"1"}, "metafields": {"true"}, "h": {`{"$fields":{"name":1}}`}},
			`[{"_changed":"c","_changedby":"api","_created":"c","_createdby":"api","_id":"01","_version":1,"name":"a"}]`},
		"exclusion of a system field beats metafields": {url.Values{"max": {"1"}, "metafields": {"true"}, "h": {`{"$fields":{"_version":0,"sub":0,"cat":0,"n":0}}`}},
			`[{"_changed":"c","_changedby":"api","_created":"c","_createdby":"api","_id":"01","name":"a"}]`},
		"totals": {url.Values{"totals": {"true"}, "skip": {"1"}, "max": {"2"}, "h": {`{"$fields":{"name":1}}`}},
			`{"data":[{"_id":"02","name":"b"},{"_id":"03","name":"c"}],"totals":{"total":5,"count":2,"skip":1,"max":2}}`},
		"totals of nothing": {url.Values{"totals": {"true"}, "skip": {"9"}},
			`{"data":[],"totals":{"total":5,"count":0,"skip":9,"max":1000}}`},
		"groupby alone": {url.Values{"groupby": {"cat"}, "h": {`{"$fields":{"name":1}}`}},
			`{"3":[{"_id":"03","name":"c"},{"_id":"05","name":"e"}],"x":[{"_id":"02","name":"b"},{"_id":"04","name":"d"}],"y":[{"_id":"01","name":"a"}]}`},
		"groupby missing goes under null": {url.Values{"groupby": {"sub.a"}, "h": {`{"$fields":{"name":1}}`}},
			`{"1":[{"_id":"04","name":"d"}],"3":[{"_id":"01","name":"a"}],"null":[{"_id":"02","name":"b"},{"_id":"03","name":"c"},{"_id":"05","name":"e"}]}`},
		"groupby pages documents first": {url.Values{"groupby": {"cat"}, "max": {"2"}, "h": {`{"$fields":{"name":1}}`}},
			`{"x":[{"_id":"02","name":"b"}],"y":[{"_id":"01","name":"a"}]}`},
		"groupby two levels": {url.Values{"h": {`{"$groupby":["cat","name"],"$fields":{"_id":1}}`}, "max": {"2"}},
			`{"x":{"b":[{"_id":"02"}]},"y":{"a":[{"_id":"01"}]}}`},
		"aggregate without groupby ignores skip and max": {url.Values{"aggregate": {"SUM:n", "AVG:n", "MIN:n", "MAX:n", "COUNT:all"}, "skip": {"3"}, "max": {"1"}},
			`{"AVG:n":2.3333333333333335,"COUNT:all":5,"MAX:n":4,"MIN:n":1,"SUM:n":7}`},
		"aggregate over no numbers": {url.Values{"aggregate": {"SUM:name", "AVG:name", "MIN:name", "MAX:name", "COUNT:name"}},
			`{"AVG:name":null,"COUNT:name":5,"MAX:name":null,"MIN:name":null,"SUM:name":0}`},
		"aggregate with groupby": {url.Values{"groupby": {"cat"}, "aggregate": {"SUM:n", "COUNT:all", "AVG:n"}},
			`{"3":{"AVG:n":null,"COUNT:all":2,"SUM:n":0},"x":{"AVG:n":3,"COUNT:all":2,"SUM:n":6},"y":{"AVG:n":1,"COUNT:all":1,"SUM:n":1}}`},
		"aggregate hints": {url.Values{"h": {`{"$groupby":["cat"],"$aggregate":["MAX:n"]}`}},
			`{"3":{"MAX:n":null},"x":{"MAX:n":4},"y":{"MAX:n":1}}`},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			r, err := ParseRequest(tc.params, Options{})
			if err != nil {
				t.Fatal(err)
			}
			docs := resultDocs(t)
			before := toJSON(t, docs)
			if got := toJSON(t, r.Result(docs)); got != tc.want {
				t.Errorf("Result =\n %s\nwant\n %s", got, tc.want)
			}
			if toJSON(t, docs) != before {
				t.Error("Result modified the documents it was given")
			}
		})
	}
}

func TestResultOfNothing(t *testing.T) {
	tests := map[string]struct {
		params url.Values
		want   string
	}{
		"plain":             {url.Values{}, `[]`},
		"groupby":           {url.Values{"groupby": {"a"}}, `{}`},
		"aggregate":         {url.Values{"aggregate": {"SUM:n", "AVG:n", "COUNT:c"}}, `{"AVG:n":null,"COUNT:c":0,"SUM:n":0}`},
		"groupby aggregate": {url.Values{"groupby": {"a"}, "aggregate": {"SUM:n"}}, `{}`},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			r, err := ParseRequest(tc.params, Options{})
			if err != nil {
				t.Fatal(err)
			}
			if got := toJSON(t, r.Result(nil)); got != tc.want {
				t.Errorf("Result(nil) = %s, want %s", got, tc.want)
			}
		})
	}
}

func TestGroupKey(t *testing.T) {
	tests := map[string]struct {
		v    any
		want string
	}{
		"string":  {"abc", "abc"},
		"number":  {3.0, "3"},
		"decimal": {2.5, "2.5"},
		"bool":    {true, "true"},
		"null":    {nil, "null"},
		"array":   {[]any{"a", 1.0}, `["a",1]`},
		"object":  {map[string]any{"k": "v"}, `{"k":"v"}`},
	}
	for name, tc := range tests {
		if got := groupKey(tc.v); got != tc.want {
			t.Errorf("%s: groupKey = %q, want %q", name, got, tc.want)
		}
	}
}
