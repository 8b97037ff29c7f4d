package httpapi

import (
	"encoding/json"
	"slices"
	"testing"
)

// metaNames is the collection names of a /rest/_meta answer.
func metaNames(t *testing.T, body string) []string {
	t.Helper()
	var list []collectionMeta
	if err := json.Unmarshal([]byte(body), &list); err != nil {
		t.Fatalf("answer %s: %v", body, err)
	}
	var out []string
	for _, c := range list {
		out = append(out, c.Name)
	}
	return out
}

func expectMetaNames(want ...string) func(*testing.T, *env, response) {
	return func(t *testing.T, _ *env, r response) {
		t.Helper()
		if got := metaNames(t, r.body); !slices.Equal(got, want) {
			t.Errorf("collections %v, want %v", got, want)
		}
	}
}

func TestMeta(t *testing.T) {
	runScenarios(t, []scenario{
		{name: "the full key sees every collection, stored or configured, and users", method: "GET", url: "/rest/_meta", headers: key(fullKey), status: 200,
			contains: []string{`"name":"users","system":true`, `"name":"tasks","system":false,"private":true`, `"_createdby"`},
			after:    expectMetaNames("items", "public", "secret", "shared", "tasks", "users")},
		{name: "a web key sees the collections its globs name", method: "GET", url: "/rest/_meta", headers: key(readerKey), status: 200, after: expectMetaNames("tasks")},
		{name: "a web key for other paths sees none", method: "GET", url: "/rest/_meta", headers: key(notesKey), status: 200, contains: []string{"[]"}},
		{name: "a user sees the collections her roles may read", method: "GET", url: "/rest/_meta", headers: bearer("alice"), status: 200, after: expectMetaNames("public", "shared", "tasks")},
		{name: "a viewer sees fewer", method: "GET", url: "/rest/_meta", headers: bearer("viewer"), status: 200, after: expectMetaNames("public")},
		{name: "without credentials, 401", method: "GET", url: "/rest/_meta", status: 401},
		{name: "POST is 405", method: "POST", url: "/rest/_meta", headers: key(fullKey), body: `{}`, status: 405},
		{name: "one collection", method: "GET", url: "/rest/tasks/_meta", headers: key(fullKey), status: 200,
			contains: []string{`"name":"tasks"`, `"private":true`, `"indexes":[]`, `"name":"_id"`}},
		{name: "one collection through a web key", method: "GET", url: "/rest/tasks/_meta", headers: key(readerKey), status: 200, contains: []string{`"name":"tasks"`}},
		{name: "a collection a web key may not read is 403", method: "GET", url: "/rest/items/_meta", headers: key(readerKey), status: 403},
		{name: "a private collection the user may not read is 403", method: "GET", url: "/rest/secret/_meta", headers: bearer("alice"), status: 403},
		{name: "a malformed name is 400", method: "GET", url: "/rest/1x/_meta", headers: key(fullKey), status: 400},
		{name: "the system collection users", method: "GET", url: "/rest/users/_meta", headers: key(fullKey), status: 200, contains: []string{`"system":true`}},
	})
}
