package httpapi

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/restkube/restkube/dbserver/jsondoc"
)

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
		{name: "a path two levels below a document is 404", method: "GET", url: "/rest/items/{items.0}/more/{items.1}/deeper", headers: key(fullKey), status: 404},
		{name: "/rest alone is 404", method: "GET", url: "/rest", headers: key(fullKey), status: 404},
		{name: "an unknown path is a JSON 404", method: "GET", url: "/nowhere", status: 404, contains: []string{"NotFound"}},
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

func TestWhatClientsSend(t *testing.T) {
	form := map[string]string{"x-apikey": fullKey, "Content-Type": "application/x-www-form-urlencoded; charset=UTF-8"}
	jsonCT := map[string]string{"x-apikey": fullKey, "Content-Type": "application/json"}
	runScenarios(t, []scenario{
		{name: "an empty JSON PUT changes nothing and answers the document", method: "PUT", url: "/rest/items/{items.0}", headers: jsonCT, status: 200,
			contains: []string{`"name":"apple"`, `"_version":0`}, header: map[string]string{"ETag": `"0"`},
			after: func(t *testing.T, e *env, _ response) {
				d, err := e.st.Get("items", e.ids["items.0"])
				if err != nil || jsondoc.Version(d) != 0 || d["name"] != "apple" {
					t.Errorf("stored %v (%v), want version 0 unchanged", d, err)
				}
			}},
		{name: "a blank JSON PUT is the same", method: "PUT", url: "/rest/items/{items.0}", headers: jsonCT, body: " \n", status: 200, contains: []string{`"name":"apple"`}},
		{name: "an empty PUT of a missing document is 404", method: "PUT", url: "/rest/items/aaaaaaaaaaaaaaaaaaaaaaaa", headers: jsonCT, status: 404},
		{name: "an empty PUT of another user's private document is 404", method: "PUT", url: "/rest/tasks/{tasks.1}", headers: bearer("alice"), status: 404},
		{name: "an empty POST is still 400", method: "POST", url: "/rest/items", headers: jsonCT, status: 400, contains: []string{"empty"}},
		{name: "a form POST makes a document of strings", method: "POST", url: "/rest/chat", headers: form, body: "user=ann&text=hello+world&n=3&_id=x&tags%5B%5D=a&tags%5B%5D=b", status: 201,
			contains: []string{`"user":"ann"`, `"text":"hello world"`, `"n":"3"`, `"tags":["a","b"]`}, absent: []string{`"_id":"x"`},
			after: func(t *testing.T, e *env, _ response) {
				if n := count(t, e, "chat"); n != 1 {
					t.Errorf("%d chat documents, want 1", n)
				}
			}},
		{name: "a form PUT updates string fields", method: "PUT", url: "/rest/items/{items.0}", headers: form, body: "name=apricot", status: 200,
			contains: []string{`"name":"apricot"`, `"n":1`}},
		{name: "a malformed form is 400", method: "POST", url: "/rest/chat", headers: form, body: "a=%zz", status: 400, contains: []string{"form"}},
		{name: "a form over the size limit is 413", method: "POST", url: "/rest/chat", headers: form, body: "a=" + strings.Repeat("x", 3000), status: 413},
		{name: "a form with too many fields is 400", method: "POST", url: "/rest/chat", headers: form, body: strings.Repeat("a&", 1001), status: 400, contains: []string{"1000 fields"}},
	})
}
