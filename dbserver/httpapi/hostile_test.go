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
	"github.com/restkube/restkube/dbserver/settings"
	"github.com/restkube/restkube/dbserver/store"
	"github.com/restkube/restkube/internal/testutil"
)

// fingerprint is every stored document of the collections seeded by newEnv and those the hostile
// requests write to, as JSON: equal before and after means nothing was stored.
func fingerprint(t *testing.T, e *env) string {
	t.Helper()
	var b strings.Builder
	for _, coll := range []string{"items", "tasks", "public", "shared", "deep"} {
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
		// Defect 2: a request that multiplies itself.
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

// TestUndecodableDocumentOverHTTP: a document the decoder cannot read (stored by an older
// version) makes a query answer 500 naming it, and DELETE by id removes it.
func TestUndecodableDocumentOverHTTP(t *testing.T) {
	path := filepath.Join(t.TempDir(), "restkube.db")
	st, err := store.Open(path, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.Insert("deep", []store.Doc{{"n": 1.0}}, "api"); err != nil {
		t.Fatal(err)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	const badID = "ffffffffffffffffffffff01"
	badKey, _ := hex.DecodeString(badID)
	raw := `{"_id":"` + badID + `","_version":0,"x":` + strings.Repeat(`{"x":`, 20000) + "1" + strings.Repeat("}", 20001)
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		return tx.Bucket([]byte("collections")).Bucket([]byte("deep")).Put(badKey, []byte(raw))
	})
	if cerr := db.Close(); err != nil || cerr != nil {
		t.Fatal(err, cerr)
	}
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

	// A plain page is copied from the stored bytes (it is valid JSON, only deeper than our
	// decoder reads); every answer that needs the document decoded names it.
	for _, u := range []string{"/rest/deep?filter=x", "/rest/deep?groupby=n", "/rest/deep?aggregate=COUNT:n",
		"/rest/deep?h=" + url.QueryEscape(`{"$fields":{"x":1}}`), "/rest/deep/" + badID + "?metafields=true"} {
		r := e.do("GET", u, h, "")
		if r.status != http.StatusInternalServerError || !strings.Contains(r.body, "deep/"+badID) {
			t.Errorf("GET %s: %d %.200s, want a 500 naming deep/%s", u, r.status, r.body, badID)
		}
	}
	if !strings.Contains(logs.String(), badID) {
		t.Errorf("the log does not name the document")
	}
	if r := e.do("DELETE", "/rest/deep/"+badID, with(h, "If-Match", `"0"`), ""); r.status != http.StatusOK {
		t.Fatalf("DELETE of the undecodable document: %d %s", r.status, r.body)
	}
	if r := e.do("GET", "/rest/deep", h, ""); r.status != http.StatusOK || !strings.Contains(r.body, `"n":1`) {
		t.Fatalf("after the delete: %d %s", r.status, r.body)
	}
}
