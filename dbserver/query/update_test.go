package query

import (
	"errors"
	"strings"
	"testing"
)

func TestApplyUpdate(t *testing.T) {
	base := `{"_id":"01","_version":3,"_createdby":"api","n":1,"f":1.5,"s":"x","tags":["a","b","a"],
		"objs":[{"k":1},{"k":2}],"stats":{"views":10},"arr":[{"v":1}]}`
	tests := map[string]struct {
		body string
		want string
	}{
		"plain fields merge": {`{"s":"y","new":true}`,
			`{"_createdby":"api","_id":"01","_version":3,"arr":[{"v":1}],"f":1.5,"n":1,"new":true,"objs":[{"k":1},{"k":2}],"s":"y","stats":{"views":10},"tags":["a","b","a"]}`},
		"system fields ignored": {`{"_id":"zz","_version":99,"_createdby":"evil","_other":1,"s":"y"}`,
			`{"_createdby":"api","_id":"01","_version":3,"arr":[{"v":1}],"f":1.5,"n":1,"objs":[{"k":1},{"k":2}],"s":"y","stats":{"views":10},"tags":["a","b","a"]}`},
		"$set cannot touch system fields": {`{"$set":{"_version":7,"s":"z"},"$unset":{"_id":1},"$inc":{"_version":1}}`,
			`{"_createdby":"api","_id":"01","_version":3,"arr":[{"v":1}],"f":1.5,"n":1,"objs":[{"k":1},{"k":2}],"s":"z","stats":{"views":10},"tags":["a","b","a"]}`},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			doc := obj(t, base)
			if err := ApplyUpdate(doc, obj(t, tc.body), testNow); err != nil {
				t.Fatal(err)
			}
			if got := toJSON(t, doc); got != tc.want {
				t.Errorf("doc =\n %s\nwant\n %s", got, tc.want)
			}
		})
	}
}

// TestUpdateOperators checks one field of the result per case.
func TestUpdateOperators(t *testing.T) {
	base := `{"n":1,"f":1.5,"s":"x","tags":["a","b","a"],"objs":[{"k":1},{"k":2},{"k":1}],
		"stats":{"views":10},"arr":[{"v":1}],"nul":null}`
	tests := map[string]struct {
		body, field, want string
	}{
		"$inc adds":                  {`{"$inc":{"n":2}}`, "n", `3`},
		"$inc negative and fraction": {`{"$inc":{"f":-0.5}}`, "f", `1`},
		"$inc creates missing":       {`{"$inc":{"m":5}}`, "m", `5`},
		"$inc dot path":              {`{"$inc":{"stats.views":1}}`, "stats", `{"views":11}`},
		"$inc creates nested":        {`{"$inc":{"stats.likes":1}}`, "stats", `{"likes":1,"views":10}`},
		"$inc creates parents":       {`{"$inc":{"a.b.c":1}}`, "a", `{"b":{"c":1}}`},
		"$inc into array element":    {`{"$inc":{"arr.0.v":4}}`, "arr", `[{"v":5}]`},
		"$set replaces":              {`{"$set":{"s":{"deep":[1]}}}`, "s", `{"deep":[1]}`},
		"$set dot path":              {`{"$set":{"stats.views":0}}`, "stats", `{"views":0}`},
		"$set array index":           {`{"$set":{"tags.1":"z"}}`, "tags", `["a","z","a"]`},
		"$set array index pads":      {`{"$set":{"tags.4":"z"}}`, "tags", `["a","b","a",null,"z"]`},
		"$set into null replaces it": {`{"$set":{"nul.x":1}}`, "nul", `{"x":1}`},
		"$set $date stored as ISO":   {`{"$set":{"d":{"$date":"$currentDate"}}}`, "d", `"2026-03-13T00:00:00.000Z"`},
		"plain $date stored as ISO":  {`{"d":{"$date":"2026-01-02T03:04:05+02:00"}}`, "d", `"2026-01-02T01:04:05.000Z"`},
		"$unset":                     {`{"$unset":{"s":""}}`, "s", `null`},
		"$unset nested":              {`{"$unset":{"stats.views":1}}`, "stats", `{}`},
		"$unset missing is fine":     {`{"$unset":{"zz.yy":1}}`, "zz", `null`},
		"$unset array slot nulls it": {`{"$unset":{"tags.0":1}}`, "tags", `[null,"b","a"]`},
		"$push":                      {`{"$push":{"tags":"c"}}`, "tags", `["a","b","a","c"]`},
		"$push array as one value":   {`{"$push":{"tags":["x","y"]}}`, "tags", `["a","b","a",["x","y"]]`},
		"$push $each":                {`{"$push":{"tags":{"$each":["x","y"]}}}`, "tags", `["a","b","a","x","y"]`},
		"$push creates array":        {`{"$push":{"list":1}}`, "list", `[1]`},
		"$push dot path":             {`{"$push":{"stats.hist":1}}`, "stats", `{"hist":[1],"views":10}`},
		"$pull removes every equal":  {`{"$pull":{"tags":"a"}}`, "tags", `["b"]`},
		"$pull by type":              {`{"$pull":{"tags":1}}`, "tags", `["a","b","a"]`},
		"$pull objects by equality":  {`{"$pull":{"objs":{"k":1}}}`, "objs", `[{"k":2}]`},
		"$pull missing field":        {`{"$pull":{"none":1}}`, "none", `null`},
		"$addToSet absent":           {`{"$addToSet":{"tags":"c"}}`, "tags", `["a","b","a","c"]`},
		"$addToSet present":          {`{"$addToSet":{"tags":"b"}}`, "tags", `["a","b","a"]`},
		"$addToSet object present":   {`{"$addToSet":{"objs":{"k":2}}}`, "objs", `[{"k":1},{"k":2},{"k":1}]`},
		"$addToSet $each":            {`{"$addToSet":{"tags":{"$each":["b","c","c"]}}}`, "tags", `["a","b","a","c"]`},
		"$addToSet creates array":    {`{"$addToSet":{"set":"v"}}`, "set", `["v"]`},
		"plain fields and operators": {`{"n":10,"$inc":{"n":1}}`, "n", `11`},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			doc := obj(t, base)
			if err := ApplyUpdate(doc, obj(t, tc.body), testNow); err != nil {
				t.Fatal(err)
			}
			if got := toJSON(t, doc[tc.field]); got != tc.want {
				t.Errorf("%s = %s, want %s", tc.field, got, tc.want)
			}
		})
	}
}

func TestApplyUpdateErrors(t *testing.T) {
	base := `{"n":1,"s":"x","tags":["a"],"stats":{"views":10},"nul":null}`
	tests := map[string]struct {
		body      string
		field, op string
	}{
		"unknown operator":         {`{"$rename":{"a":"b"}}`, "", "$rename"},
		"operator needs an object": {`{"$set":5}`, "", "$set"},
		"$inc with a string":       {`{"$inc":{"n":"1"}}`, "n", "$inc"},
		"$inc on a string":         {`{"$inc":{"s":1}}`, "s", "$inc"},
		"$inc on null":             {`{"$inc":{"nul":1}}`, "nul", "$inc"},
		"$push on a non-array":     {`{"$push":{"s":1}}`, "s", "$push"},
		"$addToSet on a non-array": {`{"$addToSet":{"n":1}}`, "n", "$addToSet"},
		"$pull on a non-array":     {`{"$pull":{"stats":1}}`, "stats", "$pull"},
		"$each not an array":       {`{"$push":{"tags":{"$each":1}}}`, "tags", "$push"},
		"path through a scalar":    {`{"$set":{"s.x":1}}`, "s.x", "$set"},
		"path into array by name":  {`{"$set":{"tags.x":1}}`, "tags.x", "$set"},
		"empty path segment":       {`{"$set":{"a..b":1}}`, "a..b", "$set"},
		"index too far":            {`{"$set":{"tags.99999":1}}`, "tags.99999", "$set"},
		"bad $date":                {`{"$set":{"d":{"$date":"soon"}}}`, "d", "$date"},
		"bad $date in plain field": {`{"d":{"$date":"soon"}}`, "d", "$date"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			doc := obj(t, base)
			err := ApplyUpdate(doc, obj(t, tc.body), testNow)
			var qe *Error
			if !errors.As(err, &qe) {
				t.Fatalf("error = %v, want *Error", err)
			}
			if qe.Field != tc.field || qe.Op != tc.op {
				t.Errorf("field/op = %q/%q, want %q/%q (%v)", qe.Field, qe.Op, tc.field, tc.op, qe)
			}
			if got := toJSON(t, doc); got != toJSON(t, obj(t, base)) {
				t.Errorf("failed update changed the document: %s", got)
			}
		})
	}
}

func TestApplyUpdateLeavesDocumentOnPartialFailure(t *testing.T) {
	doc := obj(t, `{"n":1,"s":"x"}`)
	// $inc sorts before $set: both are checked before anything is written back.
	err := ApplyUpdate(doc, obj(t, `{"s":"changed","$set":{"n":5},"$inc":{"s":1}}`), testNow)
	if err == nil {
		t.Fatal("want an error")
	}
	if got := toJSON(t, doc); got != `{"n":1,"s":"x"}` {
		t.Errorf("doc = %s, want it unchanged", got)
	}
}

func TestApplyUpdateDoesNotAliasBody(t *testing.T) {
	doc := obj(t, `{}`)
	body := obj(t, `{"$push":{"l":{"$each":[{"k":1}]}},"o":{"a":1}}`)
	if err := ApplyUpdate(doc, body, testNow); err != nil {
		t.Fatal(err)
	}
	doc["o"].(map[string]any)["a"] = 2.0
	if toJSON(t, body["o"]) != `{"a":1}` {
		t.Error("the document shares containers with the body")
	}
}

// TestUpdateLimitsAreSummedOverTheRequest: the padding of N paths is not N times the limit,
// and a path longer than the nesting limit is refused before anything is built.
func TestUpdateLimitsAreSummedOverTheRequest(t *testing.T) {
	pad := func(n int) string {
		body := `{"$set":{`
		for i := range n {
			if i > 0 {
				body += ","
			}
			body += `"g` + string(rune('a'+i)) + `.6000":1`
		}
		return body + `}}`
	}
	deep := `{"$set":{"x` + strings.Repeat(".x", MaxPathDepth) + `":1}}`
	tests := map[string]struct {
		body    string
		wantErr string // "" = accepted
	}{
		"one path padding 6000":             {pad(1), ""},
		"two paths padding 6000 each":       {pad(2), LimitArrayElementsAdded},
		"padding past the end at once":      {`{"$set":{"ga.10002":1}}`, LimitArrayElementsAdded},
		"$push $each over the sum":          {`{"$set":{"ga.9000":1},"$push":{"p":{"$each":[` + strings.Repeat("1,", 1500) + `1]}}}`, LimitArrayElementsAdded},
		"a path of exactly the limit":       {`{"$set":{"x` + strings.Repeat(".x", MaxPathDepth-1) + `":1}}`, ""},
		"a path one segment over the limit": {deep, LimitPathDepth},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			doc := obj(t, `{"ga":[],"gb":[]}`)
			err := ApplyUpdate(doc, obj(t, tc.body), testNow)
			switch {
			case tc.wantErr == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Fatalf("got %v, want an error naming %s", err, tc.wantErr)
			case tc.wantErr != "" && toJSON(t, doc) != `{"ga":[],"gb":[]}`:
				t.Fatalf("a refused update changed the document")
			}
		})
	}
}
