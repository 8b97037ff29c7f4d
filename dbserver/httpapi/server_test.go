package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/restkube/restkube/dbserver/auth"
	"github.com/restkube/restkube/dbserver/jsondoc"
	"github.com/restkube/restkube/dbserver/settings"
	"github.com/restkube/restkube/dbserver/store"
)

const (
	fullKey    = "full-key-0123456789abcdef"
	readerKey  = "web-reader-key-0123456789"
	siteKey    = "web-site-key-0123456789"
	notesKey   = "web-notes-key-0123456789"
	siteOrigin = "https://site.example"
	appOrigin  = "https://app.example"
)

// testConfig is the config every scenario runs with, unless it changes it.
func testConfig() *settings.Config {
	return &settings.Config{
		APIKey:     fullKey,
		SigningKey: "signing-key-for-tests",
		Settings: settings.Settings{
			APIKeys: settings.APIKeys{Web: []settings.WebKey{
				{Name: "reader", Key: readerKey, Paths: []string{"/tasks/**"}},
				{Name: "site", Key: siteKey, Paths: []string{"/tasks/**"}, Methods: []string{"GET", "POST", "DELETE"}, Origins: []string{siteOrigin}},
				{Name: "notes", Key: notesKey, Paths: []string{"/notes/*"}},
			}},
			CORS: settings.CORS{AllowedOrigins: []string{appOrigin}},
			Collections: []settings.Collection{
				{Name: "tasks", Private: true, Access: map[string]settings.Rights{"external": {Read: true, Write: true}}},
				{Name: "public", Access: map[string]settings.Rights{"external": {Read: true}, "viewer": {Read: true}}},
				{Name: "shared", Access: map[string]settings.Rights{"external": {Read: true, Write: true}}},
				{Name: "secret"},
			},
			Limits: settings.Limits{MaxBodyBytes: 2048},
		},
	}
}

// fakeBearer stands in for the token verifier of package auth: a token names a canned caller.
type fakeBearer struct{}

func (fakeBearer) Authenticate(_ context.Context, token string) (*auth.Principal, error) {
	user := func(name string, roles ...string) *auth.Principal {
		return &auth.Principal{Kind: auth.User, Name: name, Email: name, Roles: roles, UserID: name}
	}
	switch token {
	case "alice":
		return user("alice@example.com", "external"), nil
	case "bob":
		return user("bob@example.com", "external"), nil
	case "viewer":
		return user("vera@example.com", "viewer"), nil
	case "stranger":
		return user("sam@example.com", "nobody"), nil
	case "down":
		return nil, fmt.Errorf("%w: dial tcp: connection refused", auth.ErrUnavailable)
	case "inactive":
		return nil, fmt.Errorf("%w: user is not active", auth.ErrForbidden)
	}
	return nil, fmt.Errorf("%w: token expired", auth.ErrUnauthorized)
}

// lockedBuffer collects log output written from server goroutines.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// env is one server over a fresh bbolt file, seeded with a few documents.
type env struct {
	t     *testing.T
	url   string
	st    *store.Store
	src   *settings.Source
	reg   *prometheus.Registry
	logs  *lockedBuffer
	ids   map[string]string
	ready error
}

func newEnv(t *testing.T, modify ...func(*Options)) *env {
	t.Helper()
	st, err := store.Open(filepath.Join(t.TempDir(), "restkube.db"), store.Options{})
	if err != nil {
		t.Fatalf("opening store: %v", err)
	}
	t.Cleanup(func() { st.Close() })
	e := &env{t: t, st: st, src: settings.StaticSource(testConfig()), reg: prometheus.NewRegistry(), logs: &lockedBuffer{}, ids: map[string]string{}}
	opts := Options{
		Store:    st,
		Settings: e.src,
		Logger:   slog.New(slog.NewJSONHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Registry: e.reg,
		Bearer:   fakeBearer{},
		Ready:    func() error { return e.ready },
	}
	for _, m := range modify {
		m(&opts)
	}
	srv, err := New(opts)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	hs := httptest.NewServer(srv)
	t.Cleanup(hs.Close)
	e.url = hs.URL
	e.seed("items", "api", `{"name":"apple","n":1,"tags":["red"]}`, `{"name":"banana","n":2}`, `{"name":"cherry","n":3}`)
	e.seed("tasks", "alice@example.com", `{"title":"mine"}`)
	e.seed("tasks", "bob@example.com", `{"title":"theirs"}`)
	e.seed("public", "api", `{"title":"notice"}`)
	e.seed("shared", "bob@example.com", `{"title":"common"}`)
	return e
}

// seed inserts docs, naming their ids {coll.N} in insertion order per collection.
func (e *env) seed(coll, user string, docs ...string) {
	e.t.Helper()
	for _, raw := range docs {
		var d store.Doc
		if err := json.Unmarshal([]byte(raw), &d); err != nil {
			e.t.Fatalf("seed: %v", err)
		}
		out, err := e.st.Insert(coll, []store.Doc{d}, user)
		if err != nil {
			e.t.Fatalf("seed: %v", err)
		}
		n := 0
		for e.ids[fmt.Sprintf("%s.%d", coll, n)] != "" {
			n++
		}
		e.ids[fmt.Sprintf("%s.%d", coll, n)] = out[0]["_id"].(string)
	}
}

// expand replaces {coll.N} by seeded ids.
func (e *env) expand(s string) string {
	for k, v := range e.ids {
		s = strings.ReplaceAll(s, "{"+k+"}", v)
	}
	return s
}

type response struct {
	status int
	header http.Header
	body   string
}

func (e *env) do(method, url string, headers map[string]string, body string) response {
	e.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(e.expand(body))
	}
	req, err := http.NewRequest(method, e.url+e.expand(url), rd)
	if err != nil {
		e.t.Fatalf("request: %v", err)
	}
	for k, v := range headers {
		req.Header.Set(k, e.expand(v))
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatalf("%s %s: %v", method, url, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		e.t.Fatalf("reading body: %v", err)
	}
	return response{status: res.StatusCode, header: res.Header, body: string(b)}
}

// scenario is one HTTP exchange and what its answer must (and must not) hold.
type scenario struct {
	name       string
	method     string
	url        string
	headers    map[string]string
	body       string
	status     int
	contains   []string
	absent     []string
	header     map[string]string
	noHeader   []string
	after      func(t *testing.T, e *env, r response)
	beforeEach func(e *env)
}

func key(k string) map[string]string { return map[string]string{"x-apikey": k} }
func bearer(tok string) map[string]string {
	return map[string]string{"Authorization": "Bearer " + tok}
}
func with(h map[string]string, k, v string) map[string]string {
	out := map[string]string{k: v}
	for a, b := range h {
		out[a] = b
	}
	return out
}

func runScenarios(t *testing.T, scenarios []scenario) {
	t.Helper()
	for _, sc := range scenarios {
		t.Run(sc.name, func(t *testing.T) {
			e := newEnv(t)
			if sc.beforeEach != nil {
				sc.beforeEach(e)
			}
			r := e.do(sc.method, sc.url, sc.headers, sc.body)
			if r.status != sc.status {
				t.Fatalf("status %d, want %d; body %s", r.status, sc.status, r.body)
			}
			for _, c := range sc.contains {
				if c = e.expand(c); !strings.Contains(r.body, c) {
					t.Errorf("body lacks %q: %s", c, r.body)
				}
			}
			for _, c := range sc.absent {
				if c = e.expand(c); strings.Contains(r.body, c) {
					t.Errorf("body holds %q: %s", c, r.body)
				}
			}
			for k, v := range sc.header {
				if got := r.header.Get(k); got != v {
					t.Errorf("header %s = %q, want %q", k, got, v)
				}
			}
			for _, k := range sc.noHeader {
				if got := r.header.Get(k); got != "" {
					t.Errorf("header %s = %q, want none", k, got)
				}
			}
			// Every answer outside the probes is JSON, errors included, and never a 500.
			if r.status != http.StatusNoContent {
				if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
					t.Errorf("Content-Type %q, want JSON", ct)
				}
				if !json.Valid([]byte(r.body)) {
					t.Errorf("body is not JSON: %s", r.body)
				}
			}
			if r.status >= 400 && r.status != http.StatusNoContent {
				var eb Error
				if err := json.Unmarshal([]byte(r.body), &eb); err != nil || eb.Status != r.status || eb.Name == "" || eb.Message == "" {
					t.Errorf("error body %s does not have the shape {status,name,message}", r.body)
				}
			}
			if sc.after != nil {
				sc.after(t, e, r)
			}
		})
	}
}

// count is the number of documents in coll.
func count(t *testing.T, e *env, coll string) int {
	t.Helper()
	n := 0
	if err := e.st.Scan(coll, func(store.Doc) bool { n++; return true }); err != nil {
		t.Fatalf("scan: %v", err)
	}
	return n
}

func expectStatus(method, url string, headers map[string]string, want int) func(*testing.T, *env, response) {
	return func(t *testing.T, e *env, _ response) {
		t.Helper()
		if r := e.do(method, url, headers, ""); r.status != want {
			t.Errorf("then %s %s: status %d, want %d (%s)", method, url, r.status, want, r.body)
		}
	}
}

func TestCredentials(t *testing.T) {
	runScenarios(t, []scenario{
		{name: "no credentials is 401", method: "GET", url: "/rest/items", status: 401, contains: []string{`"name":"Unauthorized"`}},
		{name: "a wrong key is 401", method: "GET", url: "/rest/items", headers: key("nope"), status: 401, contains: []string{"Unauthorized"}},
		{name: "the full key in x-apikey reads", method: "GET", url: "/rest/items", headers: key(fullKey), status: 200, contains: []string{"apple", "banana", "cherry"}},
		{name: "the full key in ?apikey= reads", method: "GET", url: "/rest/items?apikey=" + fullKey, status: 200, contains: []string{"apple"}},
		{name: "a Basic authorization is 401", method: "GET", url: "/rest/items", headers: map[string]string{"Authorization": "Basic YTpi"}, status: 401},
		{name: "an empty bearer is 401", method: "GET", url: "/rest/items", headers: map[string]string{"Authorization": "Bearer "}, status: 401},
		{name: "an expired bearer token is 401", method: "GET", url: "/rest/items", headers: bearer("expired"), status: 401, contains: []string{"token expired"}},
		{name: "an unreachable identity provider is 503", method: "GET", url: "/rest/public", headers: bearer("down"), status: 503, contains: []string{"ServiceUnavailable"}},
		{name: "an inactive user is 403", method: "GET", url: "/rest/public", headers: bearer("inactive"), status: 403, contains: []string{"Forbidden"}},
	})
}

func TestBearerWithoutAuthenticatorIs401(t *testing.T) {
	e := newEnv(t, func(o *Options) { o.Bearer = nil })
	r := e.do("GET", "/rest/items", bearer("alice"), "")
	if r.status != 401 || !strings.Contains(r.body, "Unauthorized") {
		t.Fatalf("status %d body %s, want 401 Unauthorized", r.status, r.body)
	}
}

func TestPathsAndIDs(t *testing.T) {
	long := strings.Repeat("a", 65)
	runScenarios(t, []scenario{
		{name: "a collection name starting with a digit is 400", method: "GET", url: "/rest/1abc", headers: key(fullKey), status: 400, contains: []string{"ValidationError", "collection name"}},
		{name: "a collection name of 65 characters is 400", method: "GET", url: "/rest/" + long, headers: key(fullKey), status: 400},
		{name: "a collection name of 64 characters is fine", method: "GET", url: "/rest/" + long[:64], headers: key(fullKey), status: 200, contains: []string{"[]"}},
		{name: "a collection name with a dot is 400", method: "POST", url: "/rest/a.b", headers: key(fullKey), body: `{}`, status: 400},
		{name: "a .json suffix is ignored", method: "GET", url: "/rest/items.json", headers: key(fullKey), status: 200, contains: []string{"apple"}},
		{name: "an unknown collection is an empty array", method: "GET", url: "/rest/nothing", headers: key(fullKey), status: 200, contains: []string{"[]"}},
		{name: "a trailing slash is the collection", method: "GET", url: "/rest/items/", headers: key(fullKey), status: 200, contains: []string{"apple"}},
		{name: "one document, without system fields", method: "GET", url: "/rest/items/{items.0}", headers: key(fullKey), status: 200,
			contains: []string{`"_id":"{items.0}"`, `"name":"apple"`}, absent: []string{"_created", "_version"}, header: map[string]string{"ETag": `"0"`}},
		{name: "one document with metafields", method: "GET", url: "/rest/items/{items.0}?metafields=true", headers: key(fullKey), status: 200,
			contains: []string{`"_createdby":"api"`, `"_version":0`, `"_created":"`}},
		{name: "one document through .json", method: "GET", url: "/rest/items.json/{items.1}", headers: key(fullKey), status: 200, contains: []string{"banana"}},
		{name: "a malformed id is 400", method: "GET", url: "/rest/items/xyz", headers: key(fullKey), status: 400, contains: []string{"invalid id"}},
		{name: "an uppercase id is 400", method: "GET", url: "/rest/items/ABCDEF0123456789ABCDEF01", headers: key(fullKey), status: 400},
		{name: "an unknown id is 404", method: "GET", url: "/rest/items/aaaaaaaaaaaaaaaaaaaaaaaa", headers: key(fullKey), status: 404, contains: []string{`"name":"NotFound"`}},
		{name: "an id in another collection is 404", method: "GET", url: "/rest/public/{items.0}", headers: key(fullKey), status: 404},
		{name: "a path below a document is 404", method: "GET", url: "/rest/items/{items.0}/more", headers: key(fullKey), status: 404},
		{name: "/rest alone is 404", method: "GET", url: "/rest", headers: key(fullKey), status: 404},
		{name: "an unknown path is a JSON 404", method: "GET", url: "/nowhere", status: 404, contains: []string{"NotFound"}},
		{name: "/auth without the auth endpoints is a JSON 404", method: "POST", url: "/auth/token", body: `{}`, status: 404, contains: []string{"NotFound"}},
		{name: "PATCH on a collection is 405", method: "PATCH", url: "/rest/items", headers: key(fullKey), body: `{}`, status: 405,
			contains: []string{"MethodNotAllowed"}, header: map[string]string{"Allow": "GET, POST"}},
		{name: "POST on a document is 405", method: "POST", url: "/rest/items/{items.0}", headers: key(fullKey), body: `{}`, status: 405,
			header: map[string]string{"Allow": "GET, PUT, PATCH, DELETE"}},
		{name: "GET on /* is 405", method: "GET", url: "/rest/items/*", headers: key(fullKey), status: 405},
		{name: "405 comes before 401", method: "PATCH", url: "/rest/items", status: 405},
	})
}

func TestQuery(t *testing.T) {
	runScenarios(t, []scenario{
		{name: "q filters", method: "GET", url: `/rest/items?q={"n":{"$gte":2}}`, headers: key(fullKey), status: 200,
			contains: []string{"banana", "cherry"}, absent: []string{"apple"}},
		{name: "a malformed q is 400", method: "GET", url: `/rest/items?q={"n":`, headers: key(fullKey), status: 400, contains: []string{"ValidationError"}},
		{name: "an unknown operator is 400 naming it", method: "GET", url: `/rest/items?q={"n":{"$foo":1}}`, headers: key(fullKey), status: 400, contains: []string{"$foo"}},
		{name: "max and sort", method: "GET", url: `/rest/items?sort=n&dir=-1&max=1`, headers: key(fullKey), status: 200,
			contains: []string{"cherry"}, absent: []string{"apple", "banana"}},
		{name: "max 0 is 400", method: "GET", url: `/rest/items?max=0`, headers: key(fullKey), status: 400},
		{name: "totals", method: "GET", url: `/rest/items?totals=true&max=2`, headers: key(fullKey), status: 200,
			contains: []string{`"totals":`, `"total":3`, `"count":2`}},
		{name: "no system fields by default", method: "GET", url: `/rest/items`, headers: key(fullKey), status: 200, absent: []string{"_createdby"}},
		{name: "metafields", method: "GET", url: `/rest/items?metafields=true`, headers: key(fullKey), status: 200, contains: []string{`"_createdby":"api"`}},
		{name: "the apikey parameter is not a query parameter", method: "GET", url: `/rest/items?apikey=` + fullKey + `&filter=banana`, status: 200,
			contains: []string{"banana"}, absent: []string{"apple"}},
	})
}

func TestCreate(t *testing.T) {
	runScenarios(t, []scenario{
		{name: "an object is created with system fields, client ones ignored", method: "POST", url: "/rest/items", headers: key(fullKey),
			body: `{"_id":"zzz","_version":7,"_createdby":"mallory","name":"kiwi"}`, status: 201,
			contains: []string{`"name":"kiwi"`, `"_createdby":"api"`, `"_changedby":"api"`, `"_version":0`, `"_created":"`, `"_changed":"`},
			absent:   []string{"zzz", "mallory"}, header: map[string]string{"ETag": `"0"`},
			after: func(t *testing.T, e *env, _ response) {
				if n := count(t, e, "items"); n != 4 {
					t.Errorf("%d items, want 4", n)
				}
			}},
		{name: "a new collection appears on first write", method: "POST", url: "/rest/fresh.json", headers: key(fullKey), body: `{"a":1}`, status: 201,
			after: expectStatus("GET", "/rest/fresh", key(fullKey), 200)},
		{name: "an array is created in input order", method: "POST", url: "/rest/items", headers: key(fullKey), body: `[{"name":"x1"},{"name":"x2"},{"name":"x3"}]`, status: 201,
			after: func(t *testing.T, e *env, r response) {
				var docs []map[string]any
				if err := json.Unmarshal([]byte(r.body), &docs); err != nil || len(docs) != 3 {
					t.Fatalf("answer %s is not 3 documents", r.body)
				}
				for i, d := range docs {
					if d["name"] != fmt.Sprintf("x%d", i+1) || d["_version"] != float64(0) {
						t.Errorf("document %d is %v", i, d)
					}
				}
				if n := count(t, e, "items"); n != 6 {
					t.Errorf("%d items, want 6", n)
				}
			}},
		{name: "an array with a non-object is 400 and writes nothing", method: "POST", url: "/rest/items", headers: key(fullKey), body: `[{"name":"ok"}, 5]`, status: 400,
			contains: []string{`"field":"[1]"`},
			after: func(t *testing.T, e *env, _ response) {
				if n := count(t, e, "items"); n != 3 {
					t.Errorf("%d items, want 3 (nothing half-written)", n)
				}
			}},
		{name: "invalid JSON is 400", method: "POST", url: "/rest/items", headers: key(fullKey), body: `{"name":`, status: 400, contains: []string{"invalid JSON"}},
		{name: "trailing data is 400", method: "POST", url: "/rest/items", headers: key(fullKey), body: `{} {}`, status: 400},
		// Bodies that only a lenient decoder would take: refused, and nothing stored.
		{name: "JSON's number grammar holds", method: "POST", url: "/rest/items", headers: key(fullKey), body: `[{"n":01},{"n":+1},{"n":1.}]`, status: 400,
			contains: []string{"invalid JSON"},
			after: func(t *testing.T, e *env, _ response) {
				if n := count(t, e, "items"); n != 3 {
					t.Errorf("%d items, want 3", n)
				}
			}},
		{name: "a bad escape is 400", method: "POST", url: "/rest/items", headers: key(fullKey), body: `{"name":"\q"}`, status: 400, contains: []string{"invalid JSON"}},
		{name: "a number is 400", method: "POST", url: "/rest/items", headers: key(fullKey), body: `42`, status: 400},
		{name: "a string is 400", method: "POST", url: "/rest/items", headers: key(fullKey), body: `"doc"`, status: 400},
		{name: "an empty body is 400", method: "POST", url: "/rest/items", headers: key(fullKey), status: 400},
		{name: "text/plain is read as JSON", method: "POST", url: "/rest/items", headers: with(key(fullKey), "Content-Type", "text/plain"), body: `{"name":"plain"}`, status: 201,
			contains: []string{"plain"}},
		{name: "a body over the limit is 413", method: "POST", url: "/rest/items", headers: key(fullKey), body: `{"name":"` + strings.Repeat("x", 4096) + `"}`, status: 413,
			contains: []string{"PayloadTooLarge"},
			after: func(t *testing.T, e *env, _ response) {
				if n := count(t, e, "items"); n != 3 {
					t.Errorf("%d items, want 3", n)
				}
			}},
		{name: "an empty array is an empty answer", method: "POST", url: "/rest/items", headers: key(fullKey), body: `[]`, status: 201, contains: []string{"[]"}},
	})
}

func TestUpdate(t *testing.T) {
	runScenarios(t, []scenario{
		{name: "PUT merges fields", method: "PUT", url: "/rest/items/{items.0}", headers: key(fullKey), body: `{"name":"apricot","color":"orange"}`, status: 200,
			contains: []string{`"name":"apricot"`, `"color":"orange"`, `"n":1`, `"_version":1`, `"_changedby":"api"`}, header: map[string]string{"ETag": `"1"`}},
		{name: "PATCH runs operators", method: "PATCH", url: "/rest/items/{items.0}", headers: key(fullKey), body: `{"$inc":{"n":5},"$push":{"tags":"ripe"}}`, status: 200,
			contains: []string{`"n":6`, `"ripe"`}},
		{name: "$inc with a string is 400", method: "PUT", url: "/rest/items/{items.0}", headers: key(fullKey), body: `{"$inc":{"n":"x"}}`, status: 400,
			after: func(t *testing.T, e *env, _ response) {
				d, _ := e.st.Get("items", e.ids["items.0"])
				if jsondoc.Version(d) != 0 {
					t.Errorf("version %d after a refused update, want 0", jsondoc.Version(d))
				}
			}},
		{name: "an unknown update operator is 400", method: "PUT", url: "/rest/items/{items.0}", headers: key(fullKey), body: `{"$frobnicate":{"n":1}}`, status: 400},
		{name: "system fields in the body are ignored", method: "PUT", url: "/rest/items/{items.0}", headers: key(fullKey), body: `{"_version":99,"_createdby":"mallory","name":"a2"}`, status: 200,
			contains: []string{`"_version":1`, `"_createdby":"api"`}, absent: []string{"mallory"}},
		{name: "an array body is 400", method: "PUT", url: "/rest/items/{items.0}", headers: key(fullKey), body: `[1]`, status: 400},
		{name: "an unknown id is 404", method: "PUT", url: "/rest/items/aaaaaaaaaaaaaaaaaaaaaaaa", headers: key(fullKey), body: `{"a":1}`, status: 404},
		{name: "If-Match with the version succeeds", method: "PUT", url: "/rest/items/{items.0}", headers: with(key(fullKey), "If-Match", `"0"`), body: `{"a":1}`, status: 200},
		{name: "If-Match weak succeeds", method: "PATCH", url: "/rest/items/{items.0}", headers: with(key(fullKey), "If-Match", `W/"0"`), body: `{"a":1}`, status: 200},
		{name: "If-Match bare number succeeds", method: "PUT", url: "/rest/items/{items.0}", headers: with(key(fullKey), "If-Match", `0`), body: `{"a":1}`, status: 200},
		{name: "If-Match star succeeds", method: "PUT", url: "/rest/items/{items.0}", headers: with(key(fullKey), "If-Match", `*`), body: `{"a":1}`, status: 200},
		{name: "If-Match star on an unknown id is 404", method: "PUT", url: "/rest/items/aaaaaaaaaaaaaaaaaaaaaaaa", headers: with(key(fullKey), "If-Match", `*`), body: `{"a":1}`, status: 404},
		{name: "If-Match with another version is 412", method: "PUT", url: "/rest/items/{items.0}", headers: with(key(fullKey), "If-Match", `"3"`), body: `{"a":1}`, status: 412,
			contains: []string{"PreconditionFailed"}},
		{name: "If-Match garbage is 412", method: "PUT", url: "/rest/items/{items.0}", headers: with(key(fullKey), "If-Match", `"abc"`), body: `{"a":1}`, status: 412},
		{name: "POST with override PUT updates", method: "POST", url: "/rest/items/{items.1}", headers: with(key(fullKey), "X-HTTP-Method-Override", "PUT"), body: `{"name":"plantain"}`, status: 200,
			contains: []string{"plantain", `"_version":1`}},
		{name: "POST with override patch (lower case) updates", method: "POST", url: "/rest/items/{items.1}", headers: with(key(fullKey), "X-HTTP-Method-Override", "patch"), body: `{"$inc":{"n":1}}`, status: 200,
			contains: []string{`"n":3`}},
		{name: "an unknown override is 400", method: "POST", url: "/rest/items/{items.1}", headers: with(key(fullKey), "X-HTTP-Method-Override", "TRACE"), body: `{}`, status: 400},
	})
}

func TestDelete(t *testing.T) {
	ids := func(keys ...string) string { return `["{` + strings.Join(keys, `}","{`) + `}"]` }
	runScenarios(t, []scenario{
		{name: "one document", method: "DELETE", url: "/rest/items/{items.0}", headers: key(fullKey), status: 200, contains: []string{`{"result":["{items.0}"]}`},
			after: expectStatus("GET", "/rest/items/{items.0}", key(fullKey), 404)},
		{name: "an unknown id is 404", method: "DELETE", url: "/rest/items/aaaaaaaaaaaaaaaaaaaaaaaa", headers: key(fullKey), status: 404},
		{name: "If-Match with another version is 412 and deletes nothing", method: "DELETE", url: "/rest/items/{items.0}", headers: with(key(fullKey), "If-Match", `"5"`), status: 412,
			after: expectStatus("GET", "/rest/items/{items.0}", key(fullKey), 200)},
		{name: "If-Match with the version deletes", method: "DELETE", url: "/rest/items/{items.0}", headers: with(key(fullKey), "If-Match", `"0"`), status: 200},
		{name: "POST with override DELETE deletes", method: "POST", url: "/rest/items/{items.2}", headers: with(key(fullKey), "X-HTTP-Method-Override", "DELETE"), status: 200,
			contains: []string{"{items.2}"}, after: expectStatus("GET", "/rest/items/{items.2}", key(fullKey), 404)},
		{name: "by ids, unknown ones skipped", method: "DELETE", url: "/rest/items/*", headers: key(fullKey), body: `["{items.0}","{items.1}","aaaaaaaaaaaaaaaaaaaaaaaa"]`, status: 200,
			contains: []string{"{items.0}", "{items.1}"}, absent: []string{"aaaaaaaa", "{items.2}"},
			after: func(t *testing.T, e *env, _ response) {
				if n := count(t, e, "items"); n != 1 {
					t.Errorf("%d items left, want 1", n)
				}
			}},
		{name: "by ids through .json", method: "DELETE", url: "/rest/items.json/*", headers: key(fullKey), body: ids("items.2"), status: 200, contains: []string{"{items.2}"}},
		{name: "malformed ids are 400", method: "DELETE", url: "/rest/items/*", headers: key(fullKey), body: `["{items.0}","bad"]`, status: 400,
			contains: []string{`"field":"[1]"`}, after: expectStatus("GET", "/rest/items/{items.0}", key(fullKey), 200)},
		{name: "a body that is not an array is 400", method: "DELETE", url: "/rest/items/*", headers: key(fullKey), body: `{"a":1}`, status: 400},
		{name: "no body and no q is 400", method: "DELETE", url: "/rest/items/*", headers: key(fullKey), status: 400},
		{name: "by q with the full key", method: "DELETE", url: `/rest/items/*?q={"n":{"$gt":1}}`, headers: key(fullKey), status: 200,
			contains: []string{"{items.1}", "{items.2}"}, absent: []string{"{items.0}"}},
		{name: "by q and a body is 400", method: "DELETE", url: `/rest/items/*?q={}`, headers: key(fullKey), body: ids("items.0"), status: 400},
		{name: "by a malformed q is 400", method: "DELETE", url: `/rest/items/*?q={"n":{"$bad":1}}`, headers: key(fullKey), status: 400,
			after: func(t *testing.T, e *env, _ response) {
				if n := count(t, e, "items"); n != 3 {
					t.Errorf("%d items left, want 3", n)
				}
			}},
		{name: "by q on an unknown collection deletes nothing", method: "DELETE", url: `/rest/nothing/*?q={}`, headers: key(fullKey), status: 200, contains: []string{`{"result":[]}`}},
	})
}

func TestWebKeys(t *testing.T) {
	site := map[string]string{"x-apikey": siteKey, "Origin": siteOrigin}
	runScenarios(t, []scenario{
		{name: "a web key without methods reads its paths", method: "GET", url: "/rest/tasks", headers: key(readerKey), status: 200,
			contains: []string{"mine", "theirs"}},
		{name: "a web key reads one document", method: "GET", url: "/rest/tasks/{tasks.0}", headers: key(readerKey), status: 200, contains: []string{"mine"}},
		{name: "a web key without methods may not POST", method: "POST", url: "/rest/tasks", headers: key(readerKey), body: `{}`, status: 403, contains: []string{"Forbidden"}},
		{name: "a web key may not read other paths", method: "GET", url: "/rest/items", headers: key(readerKey), status: 403},
		{name: "a web key in ?apikey= works", method: "GET", url: "/rest/tasks?apikey=" + readerKey, status: 200},
		{name: "a web key with origins needs an Origin", method: "GET", url: "/rest/tasks", headers: key(siteKey), status: 403},
		{name: "a web key from another origin is 403", method: "GET", url: "/rest/tasks", headers: with(key(siteKey), "Origin", "https://evil.example"), status: 403},
		{name: "a web key from its origin creates", method: "POST", url: "/rest/tasks", headers: site, body: `{"title":"web"}`, status: 201,
			contains: []string{`"_createdby":"api"`}, header: map[string]string{"Access-Control-Allow-Origin": siteOrigin}},
		{name: "a web key may not PUT without the method", method: "PUT", url: "/rest/tasks/{tasks.0}", headers: site, body: `{}`, status: 403},
		{name: "a web key with DELETE deletes by ids", method: "DELETE", url: "/rest/tasks/*", headers: site, body: `["{tasks.0}"]`, status: 200, contains: []string{"{tasks.0}"}},
		{name: "a web key may not delete by q", method: "DELETE", url: "/rest/tasks/*?q={}", headers: site, status: 403,
			after: func(t *testing.T, e *env, _ response) {
				if n := count(t, e, "tasks"); n != 2 {
					t.Errorf("%d tasks left, want 2", n)
				}
			}},
		{name: "a single-star glob does not match the collection", method: "GET", url: "/rest/notes", headers: key(notesKey), status: 403},
		{name: "a single-star glob matches a document", method: "GET", url: "/rest/notes/aaaaaaaaaaaaaaaaaaaaaaaa", headers: key(notesKey), status: 404},
	})
}

func TestCORS(t *testing.T) {
	preflight := func(origin string) map[string]string {
		return map[string]string{"Origin": origin, "Access-Control-Request-Method": "PUT", "Access-Control-Request-Headers": "x-apikey, if-match"}
	}
	runScenarios(t, []scenario{
		{name: "a preflight from an allowed origin is 204", method: "OPTIONS", url: "/rest/items/{items.0}", headers: preflight(appOrigin), status: 204,
			header: map[string]string{
				"Access-Control-Allow-Origin":   appOrigin,
				"Access-Control-Allow-Headers":  corsAllowHeaders,
				"Access-Control-Allow-Methods":  corsMethods,
				"Access-Control-Expose-Headers": "ETag",
			}},
		{name: "a preflight from a web key's origin is 204", method: "OPTIONS", url: "/rest/tasks", headers: preflight(siteOrigin), status: 204,
			header: map[string]string{"Access-Control-Allow-Origin": siteOrigin}},
		{name: "a preflight from another origin is 403 without CORS headers", method: "OPTIONS", url: "/rest/items", headers: preflight("https://evil.example"), status: 403,
			noHeader: []string{"Access-Control-Allow-Origin", "Access-Control-Allow-Methods", "Access-Control-Allow-Headers"}},
		{name: "an answer to an allowed origin carries CORS headers", method: "GET", url: "/rest/items/{items.0}", headers: with(key(fullKey), "Origin", appOrigin), status: 200,
			header: map[string]string{"Access-Control-Allow-Origin": appOrigin, "Access-Control-Expose-Headers": "ETag", "ETag": `"0"`}},
		{name: "an error to an allowed origin carries CORS headers too", method: "GET", url: "/rest/items", headers: map[string]string{"Origin": appOrigin}, status: 401,
			header: map[string]string{"Access-Control-Allow-Origin": appOrigin}},
		{name: "an answer to another origin has no CORS headers", method: "GET", url: "/rest/items", headers: with(key(fullKey), "Origin", "https://evil.example"), status: 200,
			noHeader: []string{"Access-Control-Allow-Origin"}},
	})
}

func TestExternalUsers(t *testing.T) {
	runScenarios(t, []scenario{
		{name: "a private collection lists only the user's documents", method: "GET", url: "/rest/tasks", headers: bearer("alice"), status: 200,
			contains: []string{"mine"}, absent: []string{"theirs"}},
		{name: "totals count only the user's documents", method: "GET", url: "/rest/tasks?totals=true", headers: bearer("alice"), status: 200,
			contains: []string{`"total":1`}},
		{name: "the user reads its own document", method: "GET", url: "/rest/tasks/{tasks.0}", headers: bearer("alice"), status: 200, contains: []string{"mine"}},
		{name: "another user's private document is 404", method: "GET", url: "/rest/tasks/{tasks.1}", headers: bearer("alice"), status: 404, absent: []string{"theirs"}},
		{name: "updating another user's private document is 404", method: "PUT", url: "/rest/tasks/{tasks.1}", headers: bearer("alice"), body: `{"title":"hacked"}`, status: 404,
			after: func(t *testing.T, e *env, _ response) {
				d, _ := e.st.Get("tasks", e.ids["tasks.1"])
				if d["title"] != "theirs" {
					t.Errorf("title %v, want unchanged", d["title"])
				}
			}},
		{name: "If-Match on another user's private document is 404, not 412", method: "PATCH", url: "/rest/tasks/{tasks.1}", headers: with(bearer("alice"), "If-Match", `"7"`), body: `{}`, status: 404},
		{name: "deleting another user's private document is 404", method: "DELETE", url: "/rest/tasks/{tasks.1}", headers: bearer("alice"), status: 404,
			after: expectStatus("GET", "/rest/tasks/{tasks.1}", key(fullKey), 200)},
		{name: "a bulk delete skips another user's private documents", method: "DELETE", url: "/rest/tasks/*", headers: bearer("alice"), body: `["{tasks.0}","{tasks.1}"]`, status: 200,
			contains: []string{"{tasks.0}"}, absent: []string{"{tasks.1}"}, after: expectStatus("GET", "/rest/tasks/{tasks.1}", key(fullKey), 200)},
		{name: "a user may not delete by q", method: "DELETE", url: "/rest/tasks/*?q={}", headers: bearer("alice"), status: 403},
		{name: "a user's create records its name", method: "POST", url: "/rest/tasks", headers: bearer("alice"), body: `{"title":"new"}`, status: 201,
			contains: []string{`"_createdby":"alice@example.com"`, `"_changedby":"alice@example.com"`}},
		{name: "a user updates its own document", method: "PUT", url: "/rest/tasks/{tasks.0}", headers: bearer("alice"), body: `{"done":true}`, status: 200,
			contains: []string{`"_changedby":"alice@example.com"`, `"_version":1`}},
		{name: "a user sees every document of a shared collection", method: "GET", url: "/rest/shared", headers: bearer("alice"), status: 200, contains: []string{"common"}},
		{name: "a user updates others' documents in a shared collection", method: "PUT", url: "/rest/shared/{shared.0}", headers: bearer("alice"), body: `{"x":1}`, status: 200},
		{name: "read-only rights read", method: "GET", url: "/rest/public", headers: bearer("viewer"), status: 200, contains: []string{"notice"}},
		{name: "read-only rights may not write", method: "POST", url: "/rest/public", headers: bearer("viewer"), body: `{}`, status: 403},
		{name: "read-only rights may not delete", method: "DELETE", url: "/rest/public/{public.0}", headers: bearer("alice"), status: 403},
		{name: "a collection without rules is 403", method: "GET", url: "/rest/secret", headers: bearer("alice"), status: 403},
		{name: "an undeclared collection is 403", method: "GET", url: "/rest/items", headers: bearer("alice"), status: 403},
		{name: "a role with no rule anywhere is 403", method: "GET", url: "/rest/public", headers: bearer("stranger"), status: 403},
	})
}

func TestProbesAndMetrics(t *testing.T) {
	e := newEnv(t)
	for _, p := range []string{"/healthz", "/readyz"} {
		if r := e.do("GET", p, nil, ""); r.status != 200 {
			t.Errorf("%s: %d, want 200", p, r.status)
		}
	}
	e.ready = fmt.Errorf("shutting down")
	if r := e.do("GET", "/readyz", nil, ""); r.status != 503 {
		t.Errorf("/readyz while not ready: %d, want 503", r.status)
	}
	if r := e.do("GET", "/healthz", nil, ""); r.status != 200 {
		t.Errorf("/healthz while not ready: %d, want 200", r.status)
	}
	e.do("GET", "/rest/items/{items.0}", key(fullKey), "")
	e.do("GET", "/rest/items/{items.1}", key(fullKey), "")
	e.do("GET", "/rest/items", nil, "")
	r := e.do("GET", "/metrics", nil, "")
	if r.status != 200 {
		t.Fatalf("/metrics: %d", r.status)
	}
	for _, want := range []string{
		`restkube_http_requests_total{method="GET",route="/rest/{coll}/{id}",status="200"} 2`,
		`restkube_http_requests_total{method="GET",route="/rest/{coll}",status="401"} 1`,
		`restkube_http_request_duration_seconds_bucket{method="GET",route="/rest/{coll}/{id}",status="200"`,
	} {
		if !strings.Contains(r.body, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
	if strings.Contains(r.body, e.ids["items.0"]) {
		t.Errorf("metrics hold a raw document id")
	}
}

func TestLogsHoldNoSecrets(t *testing.T) {
	e := newEnv(t)
	e.do("GET", "/rest/items?apikey="+fullKey, map[string]string{"Authorization": "Bearer alice"}, "")
	e.do("GET", "/rest/items", key(fullKey), "")
	e.do("GET", "/rest/public", bearer("alice"), "")
	logs := e.logs.String()
	if !strings.Contains(logs, `"route":"/rest/{coll}"`) || !strings.Contains(logs, `"status":200`) {
		t.Fatalf("request logs missing: %s", logs)
	}
	// Successes log at debug (cheap when off), client errors at info.
	for _, line := range strings.Split(strings.TrimSpace(logs), "\n") {
		switch {
		case strings.Contains(line, `"status":200`) && !strings.Contains(line, `"level":"DEBUG"`):
			t.Errorf("a 200 not logged at debug: %s", line)
		case strings.Contains(line, `"status":401`) && !strings.Contains(line, `"level":"INFO"`):
			t.Errorf("a 401 not logged at info: %s", line)
		}
	}
	for _, secret := range []string{fullKey, "Bearer", "apikey"} {
		if strings.Contains(logs, secret) {
			t.Errorf("logs hold %q: %s", secret, logs)
		}
	}
}

func TestSettingsReloadApplies(t *testing.T) {
	e := newEnv(t)
	if r := e.do("GET", "/rest/items", key(fullKey), ""); r.status != 200 {
		t.Fatalf("old key: %d", r.status)
	}
	cfg := testConfig()
	cfg.APIKey = "a-brand-new-key-0123456789"
	cfg.Settings.CORS.AllowedOrigins = []string{"https://new.example"}
	e.src.Set(cfg)
	if r := e.do("GET", "/rest/items", key(fullKey), ""); r.status != 401 {
		t.Errorf("old key after reload: %d, want 401", r.status)
	}
	if r := e.do("GET", "/rest/items", key(cfg.APIKey), ""); r.status != 200 {
		t.Errorf("new key after reload: %d, want 200", r.status)
	}
	pre := map[string]string{"Origin": "https://new.example", "Access-Control-Request-Method": "GET"}
	if r := e.do("OPTIONS", "/rest/items", pre, ""); r.status != 204 {
		t.Errorf("preflight from the new origin: %d, want 204", r.status)
	}
	pre["Origin"] = appOrigin
	if r := e.do("OPTIONS", "/rest/items", pre, ""); r.status != 403 {
		t.Errorf("preflight from the dropped origin: %d, want 403", r.status)
	}
}

// recordingRouter proves the /auth seam: routes registered by AuthRoutes get credentials and
// the JSON error mapping.
func TestAuthRoutesSeam(t *testing.T) {
	e := newEnv(t, func(o *Options) {
		o.AuthRoutes = func(r Router) {
			r.Handle("/auth/token", func(w http.ResponseWriter, req *http.Request) error {
				if req.Method != http.MethodPost {
					return MethodNotAllowed(req.Method, http.MethodPost)
				}
				WriteJSON(w, 200, map[string]string{"token": "t"})
				return nil
			})
			r.HandleAuthenticated("/auth/userinfo", func(w http.ResponseWriter, req *http.Request, p *auth.Principal) error {
				if p.Kind != auth.User {
					return fmt.Errorf("%w: /auth/userinfo needs a user token, not an API key", auth.ErrBadRequest)
				}
				WriteJSON(w, 200, map[string]string{"email": p.Email})
				return nil
			})
		}
	})
	cases := map[string]struct {
		method, url string
		headers     map[string]string
		status      int
		contains    string
	}{
		"a public auth route answers":              {"POST", "/auth/token", nil, 200, `"token"`},
		"a wrong method is a JSON 405":             {"GET", "/auth/token", nil, 405, "MethodNotAllowed"},
		"an authenticated route needs credentials": {"GET", "/auth/userinfo", nil, 401, "Unauthorized"},
		"an authenticated route sees the user":     {"GET", "/auth/userinfo", bearer("alice"), 200, "alice@example.com"},
		"an API key can be refused with 400":       {"GET", "/auth/userinfo", key(fullKey), 400, "ValidationError"},
		"other auth paths stay a JSON 404":         {"GET", "/auth/nothing", nil, 404, "NotFound"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			r := e.do(c.method, c.url, c.headers, "")
			if r.status != c.status || !strings.Contains(r.body, c.contains) {
				t.Errorf("%d %s, want %d with %q", r.status, r.body, c.status, c.contains)
			}
		})
	}
}

func TestConcurrentConditionalUpdatesLoseNothing(t *testing.T) {
	e := newEnv(t)
	const writers = 8
	var wg sync.WaitGroup
	statuses := make(chan int, writers)
	for range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req, _ := http.NewRequest("PUT", e.url+"/rest/items/"+e.ids["items.0"], strings.NewReader(`{"$inc":{"n":1}}`))
			req.Header.Set("x-apikey", fullKey)
			req.Header.Set("If-Match", `"0"`)
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Error(err)
				return
			}
			res.Body.Close()
			statuses <- res.StatusCode
		}()
	}
	wg.Wait()
	close(statuses)
	ok := 0
	for s := range statuses {
		switch s {
		case 200:
			ok++
		case 412:
		default:
			t.Errorf("status %d, want 200 or 412", s)
		}
	}
	if ok != 1 {
		t.Errorf("%d conditional updates on version 0 succeeded, want exactly 1", ok)
	}
}

// Every JSON answer carries its exact length (no chunked encoding) and a body that is JSON on
// its own, also when a large answer's recycled buffer is reused by a small one next.
func TestAnswersCarryTheirLength(t *testing.T) {
	e := newEnv(t)
	var big []string
	for i := range 60 {
		big = append(big, fmt.Sprintf(`{"name":"item %d","note":"%s"}`, i, strings.Repeat("x", 200)))
	}
	e.seed("many", "api", big...)
	for _, c := range []struct {
		method, url, body string
		status            int
	}{
		{"GET", "/rest/many?max=60", "", 200},
		{"GET", "/rest/items/{items.0}", "", 200},
		{"GET", "/rest/many?max=60&totals=true", "", 200},
		{"GET", "/rest/items?q={\"n\":2}", "", 200},
		{"POST", "/rest/items", `{"name":"date","n":4}`, 201},
		{"GET", "/rest/many?max=60&metafields=true", "", 200},
		{"GET", "/rest/items/000000000000000000000000", "", 404},
		{"PUT", "/rest/items/{items.1}", `{"n":20}`, 200},
		{"GET", "/rest/nope/zzz", "", 400},
	} {
		r := e.do(c.method, c.url, key(fullKey), c.body)
		if r.status != c.status {
			t.Fatalf("%s %s: status %d, want %d: %s", c.method, c.url, r.status, c.status, r.body)
		}
		if got := r.header.Get("Content-Length"); got != fmt.Sprint(len(r.body)) {
			t.Errorf("%s %s: Content-Length %q for a body of %d bytes", c.method, c.url, got, len(r.body))
		}
		if ct := r.header.Get("Content-Type"); ct != "application/json; charset=utf-8" {
			t.Errorf("%s %s: Content-Type %q", c.method, c.url, ct)
		}
		if !strings.HasSuffix(r.body, "\n") || !json.Valid([]byte(r.body)) {
			t.Errorf("%s %s: body is not one JSON value and a newline: %.300q", c.method, c.url, r.body)
		}
	}
}
