package httpapi

import (
	"encoding/hex"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"testing"

	bolt "go.etcd.io/bbolt"

	"github.com/restkube/restkube/dbserver/jsondoc"
	"github.com/restkube/restkube/dbserver/query"
	"github.com/restkube/restkube/dbserver/settings"
	"github.com/restkube/restkube/dbserver/store"
	"github.com/restkube/restkube/internal/testutil"
)

// fingerprint is every stored document of the collections seeded by newEnv and those the hostile
// requests write to, as JSON: equal before and after means nothing was stored.
func fingerprint(t *testing.T, e *env) string {
	t.Helper()
	var b strings.Builder
	for _, coll := range []string{"items", "tasks", "public", "shared", "deep", "kids"} {
		err := e.st.Scan(coll, func(d store.Doc) bool {
			enc, err := jsondoc.AppendJSON(nil, d, false)
			if err != nil {
				t.Fatal(err)
			}
			b.Write(enc)
			return true
		})
		if err != nil {
			t.Fatalf("scan %s: %v", coll, err)
		}
	}
	return b.String()
}

// multiplier is the body of the "request that multiplies itself": n empty arrays, each padded
// to 10,001 elements by its own path.
func multiplier(n int) string {
	arrays := strings.TrimSuffix(strings.Repeat("[],", n), ",")
	paths := make([]string, n)
	for i := range paths {
		paths[i] = fmt.Sprintf(`"g.%d.10000":1`, i)
	}
	return `{"g":[` + arrays + `],"$set":{` + strings.Join(paths, ",") + `}}`
}

// nestedJSON is levels objects, one in another.
func nestedJSON(levels int) string {
	return strings.Repeat(`{"a":`, levels) + "1" + strings.Repeat("}", levels)
}

// TestHostileInputStoresNothing: each row is a request an attacker (or a careless client) sends,
// the status it must get, and nothing may be stored by it. Every defect of the hostile-input
// probe has a row here that failed before its fix.
func TestHostileInputStoresNothing(t *testing.T) {
	big := func(o *Options) {
		cfg := testConfig()
		cfg.Settings.Limits.MaxBodyBytes = 1 << 20
		cfg.Settings.Limits.MaxDocumentBytes = 64 << 10
		o.Settings = settings.StaticSource(cfg)
	}
	deepPath := "x" + strings.Repeat(".x", 19999) // 20,000 segments, 40 KB
	tests := []struct {
		name, method, url, body string
		headers                 map[string]string
		status                  int
		contains                []string
	}{
		// Defect 1: a write the store cannot read back.
		{name: "$set on a path of 20,000 segments", method: "PUT", url: "/rest/items/{items.0}",
			body: `{"$set":{"` + deepPath + `":1}}`, status: 400, contains: []string{"maxDepth"}},
		{name: "$set on a path of 101 segments", method: "PATCH", url: "/rest/items/{items.0}",
			body: `{"$set":{"x` + strings.Repeat(".x", 100) + `":1}}`, status: 400, contains: []string{"maxDepth"}},
		{name: "create nested 101 levels", method: "POST", url: "/rest/deep",
			body: nestedJSON(101), status: 400, contains: []string{"maxDepth", `"field":"a.a.a`}},
		{name: "bulk create, the second nested 101 levels", method: "POST", url: "/rest/deep",
			body: `[{"ok":1},` + nestedJSON(101) + `]`, status: 400, contains: []string{"[1].a.a"}},
		{name: "plain field nesting 100 levels below the document", method: "PUT", url: "/rest/items/{items.0}",
			body: `{"x":` + nestedJSON(100) + `}`, status: 400, contains: []string{"maxDepth", `"field":"x.a.a`}},
		{name: "$push of a value nested 100 levels", method: "PUT", url: "/rest/items/{items.0}",
			body: `{"$push":{"list":` + nestedJSON(100) + `}}`, status: 400, contains: []string{"maxDepth"}},
		{name: "$addToSet of a value nested 100 levels", method: "PATCH", url: "/rest/items/{items.0}",
			body: `{"$addToSet":{"set":{"$each":[1,` + nestedJSON(100) + `]}}}`, status: 400, contains: []string{"maxDepth"}},
		{name: "$inc on a path of 101 segments", method: "POST", url: "/rest/items/{items.0}",
			headers: map[string]string{"X-HTTP-Method-Override": "PUT"},
			body:    `{"$inc":{"x` + strings.Repeat(".x", 100) + `":1}}`, status: 400, contains: []string{"maxDepth"}},
		// Defect 2: a request that multiplies itself.
		{name: "$addToSet $each past the elements a request may add", method: "PUT", url: "/rest/items/{items.0}",
			body: `{"$set":{"tags.9999":0},"$addToSet":{"q":{"$each":[1,2]}}}`, status: 400, contains: []string{"maxArrayElementsAdded"}},
		{name: "one body padding 50 arrays to 10,001 elements each", method: "PUT", url: "/rest/items/{items.0}",
			body: multiplier(50), status: 400, contains: []string{"maxArrayElementsAdded"}},
		{name: "$push $each past the elements a request may add", method: "PUT", url: "/rest/items/{items.0}",
			body: `{"$set":{"tags.9999":0},"$push":{"q":{"$each":[1,2]}}}`, status: 400, contains: []string{"maxArrayElementsAdded"}},
		{name: "a document over limits.maxDocumentBytes", method: "POST", url: "/rest/deep",
			body: `{"s":"` + strings.Repeat("x", 70<<10) + `"}`, status: 400, contains: []string{"limits.maxDocumentBytes"}},
		{name: "an update growing a document past limits.maxDocumentBytes", method: "PUT", url: "/rest/items/{items.0}",
			body:   `{"$set":{"a.5000":"` + strings.Repeat("y", 40<<10) + `","b":"` + strings.Repeat("z", 30<<10) + `"}}`,
			status: 400, contains: []string{"limits.maxDocumentBytes"}},
		{name: "$inc past the largest number", method: "PUT", url: "/rest/items/{items.0}",
			body: `{"n":1e308,"$inc":{"n":1e308}}`, status: 400, contains: []string{"$inc"}},
		// The smaller deviations.
		{name: "invalid UTF-8 in a created document", method: "POST", url: "/rest/deep",
			body: "{\"s\":\"\xff\xfe\"}", status: 400, contains: []string{"UTF-8"}},
		{name: "invalid UTF-8 in an update", method: "PUT", url: "/rest/items/{items.0}",
			body: "{\"name\":\"\xc3\"}", status: 400, contains: []string{"UTF-8"}},
		{name: "a query string that does not decode", method: "GET", url: "/rest/items?q=%zz",
			status: 400, contains: []string{"query string"}},
		{name: "a child query whose query string does not decode", method: "GET", url: "/rest/items/{items.0}/kids?q=%zz",
			status: 400, contains: []string{"query string"}},
		{name: "a read by id whose query string does not decode", method: "GET", url: "/rest/items/{items.0}?metafields=%zz",
			status: 400, contains: []string{"query string"}},
		{name: "invalid UTF-8 in a form body", method: "POST", url: "/rest/deep", body: "s=%ff%fe",
			headers: map[string]string{"Content-Type": "application/x-www-form-urlencoded"}, status: 400, contains: []string{"UTF-8"}},
		{name: "invalid UTF-8 in a form field name", method: "POST", url: "/rest/deep", body: "%c3=x",
			headers: map[string]string{"Content-Type": "application/x-www-form-urlencoded"}, status: 400, contains: []string{"UTF-8"}},
		{name: "a bulk delete by a query string that does not decode", method: "DELETE", url: "/rest/items/*?q=%zz",
			status: 400, contains: []string{"query string"}},
		{name: "$max as a string", method: "GET", url: "/rest/items?h=" + url.QueryEscape(`{"$max":"1"}`),
			status: 400, contains: []string{"$max"}},
		{name: "max as a JSON string", method: "GET", url: "/rest/items?max=" + url.QueryEscape(`"1"`),
			status: 400, contains: []string{"max"}},
		{name: "$not with a plain value", method: "GET", url: "/rest/items?q=" + url.QueryEscape(`{"n":{"$not":5}}`),
			status: 400, contains: []string{"$not"}},
		{name: "headers past 64 KiB", method: "GET", url: "/rest/items",
			headers: map[string]string{"X-Padding": strings.Repeat("p", 70<<10)}, status: 431, contains: []string{"RequestHeaderFieldsTooLarge"}},
		// Controls: the same shapes within the limits are served.
		{name: "control: $max 1e0 and max 1e1 are integers", method: "GET", url: "/rest/items?max=1e1&h=" + url.QueryEscape(`{"$max":1e0}`),
			status: 200, contains: []string{"apple"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, big)
			before := fingerprint(t, e)
			r := e.do(tc.method, tc.url, with(tc.headers, "x-apikey", fullKey), tc.body)
			if r.status != tc.status {
				t.Fatalf("status %d, want %d; body %.300s", r.status, tc.status, r.body)
			}
			if !strings.HasPrefix(r.header.Get("Content-Type"), "application/json") {
				t.Errorf("Content-Type %q, want our JSON", r.header.Get("Content-Type"))
			}
			for _, c := range tc.contains {
				if !strings.Contains(r.body, c) {
					t.Errorf("body lacks %q: %.300s", c, r.body)
				}
			}
			if after := fingerprint(t, e); after != before {
				t.Errorf("the request stored something")
			}
		})
	}
}

// plant writes raw documents straight into the bbolt file at path (as an older version, or a
// damaged copy, could have left them), under the collection and key of each.
func plant(t *testing.T, path string, docs map[string]map[string]string) {
	t.Helper()
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		for coll, byID := range docs {
			b, err := tx.Bucket([]byte("collections")).CreateBucketIfNotExists([]byte(coll))
			if err != nil {
				return err
			}
			for id, raw := range byID {
				k, _ := hex.DecodeString(id)
				if err := b.Put(k, []byte(raw)); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if cerr := db.Close(); err != nil || cerr != nil {
		t.Fatal(err, cerr)
	}
}

// TestUndecodableDocumentOverHTTP: a document the decoder cannot read (nested past its limit,
// as an older version could store one; or cut short, as a damaged copy could hold) makes every
// read that meets it answer 500 with our JSON error naming it, and logs it: plain pages small
// and streamed (checked before the first byte), sorted, filtered, projected, grouped and
// aggregated pages, reads by id with and without metafields, child collections and
// fetchchildren, an update. DELETE by id still removes it.
func TestUndecodableDocumentOverHTTP(t *testing.T) {
	path := filepath.Join(t.TempDir(), "restkube.db")
	st, err := store.Open(path, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	good, err := st.Insert("deep", []store.Doc{{"n": 1.0}}, "api")
	if err != nil {
		t.Fatal(err)
	}
	// Enough documents before the broken one in "big" to take a page past a stream chunk.
	text := strings.Repeat("filler text ", 100)
	filler := make([]store.Doc, 100)
	for i := range filler {
		filler[i] = store.Doc{"n": float64(i), "text": text}
	}
	if _, err := st.Insert("big", filler, "api"); err != nil {
		t.Fatal(err)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	goodID := good[0]["_id"].(string)
	const badID, cutID, childID = "ffffffffffffffffffffff01", "ffffffffffffffffffffff02", "ffffffffffffffffffffff03"
	tooDeep := strings.Repeat(`{"x":`, 20000) + "1" + strings.Repeat("}", 20000)
	plant(t, path, map[string]map[string]string{
		"deep": {badID: `{"_id":"` + badID + `","_version":0,"n":2,"x":` + tooDeep + `}`},
		"big":  {cutID: `{"_id":"` + cutID + `","_version":0,"n":500,"text":"cut sh`},
		"kids": {childID: `{"_id":"` + childID + `","_parent_def":"deep","_parent_field":"kids","_parent_id":"` + goodID + `","_version":0,"x":` + tooDeep + `}`},
	})
	st, err = store.Open(path, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	logs := &testutil.LockedBuffer{}
	srv, err := New(Options{Store: st, Settings: settings.StaticSource(testConfig()), Logger: slog.New(slog.NewJSONHandler(logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv)
	t.Cleanup(hs.Close)
	e := &env{t: t, url: hs.URL, st: st, ids: map[string]string{}}
	h := key(fullKey)

	fields := url.QueryEscape(`{"$fields":{"x":1}}`)
	for u, id := range map[string]string{
		"/rest/deep":                                 "deep/" + badID,
		"/rest/deep?max=1&sort=_id&dir=-1":           "deep/" + badID,
		"/rest/deep?sort=n&dir=-1&totals=true":       "deep/" + badID,
		"/rest/deep?q=" + url.QueryEscape(`{"n":2}`): "deep/" + badID,
		"/rest/deep?filter=x":                        "deep/" + badID,
		"/rest/deep?groupby=n":                       "deep/" + badID,
		"/rest/deep?aggregate=COUNT:n":               "deep/" + badID,
		"/rest/deep?groupby=n&aggregate=SUM:n":       "deep/" + badID,
		"/rest/deep?h=" + fields:                     "deep/" + badID,
		"/rest/deep/" + badID:                        "deep/" + badID,
		"/rest/deep/" + badID + "?metafields=true":   "deep/" + badID,
		"/rest/deep/" + goodID + "/kids":             "kids/" + childID,
		// Children are looked up in every collection: the scan of big meets its broken one first.
		"/rest/deep/" + goodID + "?fetchchildren=true":   "big/" + cutID,
		"/rest/big?max=1000":                             "big/" + cutID,
		"/rest/big?max=1000&totals=true&metafields=true": "big/" + cutID,
		"/rest/big?max=1000&filter=filler":               "big/" + cutID,
		"/rest/big?max=1000&sort=n&groupby=n":            "big/" + cutID,
		"/rest/big/" + cutID:                             "big/" + cutID,
	} {
		r := e.do("GET", u, h, "")
		if r.status != http.StatusInternalServerError || !strings.Contains(r.body, id) ||
			!strings.HasPrefix(r.header.Get("Content-Type"), "application/json") || !strings.Contains(r.body, `"name":"InternalError"`) {
			t.Errorf("GET %s: %d %q %.200s, want our JSON 500 naming %s", u, r.status, r.header.Get("Content-Type"), r.body, id)
		}
	}
	if r := e.do("PUT", "/rest/deep/"+badID, h, `{"n":3}`); r.status != http.StatusInternalServerError || !strings.Contains(r.body, badID) {
		t.Errorf("PUT of the undecodable document: %d %.200s", r.status, r.body)
	}
	for _, id := range []string{badID, cutID, childID} {
		if !strings.Contains(logs.String(), id) {
			t.Errorf("the log does not name %s", id)
		}
	}
	// Pages that do not hold it are served: it was skipped by a partial decode, or paged past.
	if r := e.do("GET", "/rest/big?max=100", h, ""); r.status != http.StatusOK || r.header.Get("Content-Length") != "" {
		t.Errorf("a streamed page without the broken document: %d, Content-Length %q", r.status, r.header.Get("Content-Length"))
	}
	// A document cut short has no readable _version: If-Match cannot be checked (500 naming
	// it), and without If-Match it is deleted.
	if r := e.do("DELETE", "/rest/big/"+cutID, with(h, "If-Match", `"0"`), ""); r.status != http.StatusInternalServerError || !strings.Contains(r.body, cutID) {
		t.Fatalf("DELETE with If-Match of a document cut short: %d %s", r.status, r.body)
	}
	for del, ifMatch := range map[string]string{"/rest/deep/" + badID: `"0"`, "/rest/big/" + cutID: "", "/rest/deep/" + goodID + "/kids/" + childID: `"0"`} {
		if r := e.do("DELETE", del, with(h, "If-Match", ifMatch), ""); r.status != http.StatusOK {
			t.Fatalf("DELETE %s: %d %s", del, r.status, r.body)
		}
	}
	if r := e.do("GET", "/rest/deep", h, ""); r.status != http.StatusOK || !strings.Contains(r.body, `"n":1`) {
		t.Fatalf("after the delete: %d %s", r.status, r.body)
	}
	if r := e.do("GET", "/rest/big?max=1000&filter=filler", h, ""); r.status != http.StatusOK || strings.Count(r.body, `"_id"`) != 100 {
		t.Fatalf("after the delete: %d %.200s", r.status, r.body)
	}
}

// TestAggregateGroupsAreBoundedOverHTTP: an aggregate answer of more groups than
// query.DefaultMaxGroups is our JSON 400 naming groupby; the same query narrowed is answered.
func TestAggregateGroupsAreBoundedOverHTTP(t *testing.T) {
	e := newEnv(t)
	docs := make([]store.Doc, query.DefaultMaxGroups+1)
	for i := range docs {
		docs[i] = store.Doc{"n": float64(i)}
	}
	if _, err := e.st.Insert("many", docs, "api"); err != nil {
		t.Fatal(err)
	}
	r := e.do("GET", "/rest/many?groupby=n&aggregate=COUNT:all", key(fullKey), "")
	if r.status != http.StatusBadRequest || !strings.Contains(r.body, `"field":"groupby"`) || !strings.Contains(r.body, "groups") {
		t.Fatalf("%d groups: %d %.300s, want a 400 naming groupby", len(docs), r.status, r.body)
	}
	q := url.QueryEscape(`{"n":{"$lt":100}}`)
	if r := e.do("GET", "/rest/many?groupby=n&aggregate=COUNT:all&q="+q, key(fullKey), ""); r.status != http.StatusOK || !strings.Contains(r.body, `"99":{"COUNT:all":1}`) {
		t.Fatalf("narrowed: %d %.300s", r.status, r.body)
	}
}
