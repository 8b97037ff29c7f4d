package httpapi

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/restkube/restkube/dbserver/settings"
	"github.com/restkube/restkube/dbserver/store"
)

// seedChildren gives items.0 two notes, items.1 one, and bob's task (tasks.1) one note.
func seedChildren(e *env) {
	e.t.Helper()
	add := func(parentColl, parentKey, user, text string) {
		out, err := e.st.InsertChildren("notes", []store.Doc{{"text": text}}, user, store.Parent{ID: e.ids[parentKey], Def: parentColl, Field: "notes"})
		if err != nil {
			e.t.Fatalf("seeding children: %v", err)
		}
		n := 0
		for e.ids["notes."+string(rune('0'+n))] != "" {
			n++
		}
		e.ids["notes."+string(rune('0'+n))] = out[0]["_id"].(string)
	}
	add("items", "items.0", "api", "first of apple")       // notes.0
	add("items", "items.0", "api", "second of apple")      // notes.1
	add("items", "items.1", "api", "only of banana")       // notes.2
	add("tasks", "tasks.1", "bob@example.com", "bobs")     // notes.3
	add("tasks", "tasks.0", "alice@example.com", "alices") // notes.4
}

// childConfig lets external users read and write notes, privately, and lets a web key read
// the children of items only.
func childConfig(e *env) {
	cfg := testConfig()
	cfg.Settings.Collections = append(cfg.Settings.Collections,
		settings.Collection{Name: "notes", Private: true, Access: map[string]settings.Rights{"external": {Read: true, Write: true}}},
		settings.Collection{Name: "items", Access: map[string]settings.Rights{"external": {Read: true}}})
	cfg.Settings.APIKeys.Web = append(cfg.Settings.APIKeys.Web,
		settings.WebKey{Name: "kids", Key: "web-kids-key-0123456789", Paths: []string{"/items/*/notes", "/items/*/notes/*"}},
		settings.WebKey{Name: "parents", Key: "web-parents-key-0123456789", Paths: []string{"/tasks/*"}})
	e.src.Set(cfg)
	seedChildren(e)
}

func TestChildren(t *testing.T) {
	kids := key("web-kids-key-0123456789")
	runScenarios(t, []scenario{
		{name: "the children of a document, and only them", method: "GET", url: "/rest/items/{items.0}/notes", headers: key(fullKey), status: 200, beforeEach: childConfig,
			contains: []string{"first of apple", "second of apple", `"_parent_id":"{items.0}"`, `"_parent_def":"items"`, `"_parent_field":"notes"`},
			absent:   []string{"banana", "bobs", "_createdby"}},
		{name: "a query narrows the children", method: "GET", url: `/rest/items/{items.0}/notes?q={"text":{"$regex":"^second"}}`, headers: key(fullKey), status: 200, beforeEach: childConfig,
			contains: []string{"second of apple"}, absent: []string{"first of apple"}},
		{name: "a query on _parent_id cannot reach another parent's children", method: "GET", url: `/rest/items/{items.0}/notes?q={"_parent_id":"{items.1}"}`, headers: key(fullKey), status: 200, beforeEach: childConfig,
			contains: []string{"[]"}, absent: []string{"banana"}},
		{name: "no children is an empty array", method: "GET", url: "/rest/items/{items.2}/notes", headers: key(fullKey), status: 200, beforeEach: childConfig, contains: []string{"[]"}},
		{name: "the children of a missing parent are 404", method: "GET", url: "/rest/items/aaaaaaaaaaaaaaaaaaaaaaaa/notes", headers: key(fullKey), status: 404, beforeEach: childConfig},
		{name: "a malformed child collection is 400", method: "GET", url: "/rest/items/{items.0}/1x", headers: key(fullKey), status: 400, beforeEach: childConfig},
		{name: "a malformed child id is 400", method: "GET", url: "/rest/items/{items.0}/notes/zz", headers: key(fullKey), status: 400, beforeEach: childConfig},
		{name: "one child", method: "GET", url: "/rest/items/{items.0}/notes/{notes.1}", headers: key(fullKey), status: 200, beforeEach: childConfig,
			contains: []string{"second of apple", `"_parent_id":"{items.0}"`}, header: map[string]string{"ETag": `"0"`}},
		{name: "a child of another parent is 404", method: "GET", url: "/rest/items/{items.0}/notes/{notes.2}", headers: key(fullKey), status: 404, beforeEach: childConfig},
		{name: "a child under another field name is 404", method: "GET", url: "/rest/items/{items.0}/remarks/{notes.0}", headers: key(fullKey), status: 404, beforeEach: childConfig},
		{name: "a child is created with the parent fields, client ones ignored", method: "POST", url: "/rest/items/{items.1}/notes", headers: key(fullKey), beforeEach: childConfig,
			body: `{"text":"new","_parent_id":"bogus","_parent_def":"x","_parent_field":"y"}`, status: 201,
			contains: []string{`"text":"new"`, `"_parent_id":"{items.1}"`, `"_parent_def":"items"`, `"_parent_field":"notes"`}, absent: []string{"bogus"},
			after: expectChildren("/rest/items/{items.1}/notes", 2)},
		{name: "an array of children is created", method: "POST", url: "/rest/items/{items.2}/notes", headers: key(fullKey), beforeEach: childConfig,
			body: `[{"text":"a"},{"text":"b"}]`, status: 201, contains: []string{`"_parent_id":"{items.2}"`},
			after: expectChildren("/rest/items/{items.2}/notes", 2)},
		{name: "a child under a missing parent is 404 and not stored", method: "POST", url: "/rest/items/aaaaaaaaaaaaaaaaaaaaaaaa/notes", headers: key(fullKey), beforeEach: childConfig,
			body: `{"text":"orphan"}`, status: 404, after: func(t *testing.T, e *env, _ response) {
				if n := count(t, e, "notes"); n != 5 {
					t.Errorf("%d notes, want the 5 seeded", n)
				}
			}},
		{name: "a child is updated and keeps its parent", method: "PUT", url: "/rest/items/{items.0}/notes/{notes.0}", headers: key(fullKey), beforeEach: childConfig,
			body: `{"text":"edited","_parent_id":"bogus"}`, status: 200, contains: []string{`"text":"edited"`, `"_parent_id":"{items.0}"`, `"_version":1`}, absent: []string{"bogus"}},
		{name: "an empty PUT of a child changes nothing", method: "PUT", url: "/rest/items/{items.0}/notes/{notes.0}", headers: with(key(fullKey), "Content-Type", "application/json"), beforeEach: childConfig,
			status: 200, contains: []string{"first of apple", `"_version":0`}},
		{name: "updating a child through another parent is 404", method: "PUT", url: "/rest/items/{items.1}/notes/{notes.0}", headers: key(fullKey), beforeEach: childConfig,
			body: `{"text":"hijack"}`, status: 404},
		{name: "a child is deleted", method: "DELETE", url: "/rest/items/{items.0}/notes/{notes.0}", headers: key(fullKey), beforeEach: childConfig,
			status: 200, contains: []string{`"result":["{notes.0}"]`}, after: expectChildren("/rest/items/{items.0}/notes", 1)},
		{name: "deleting a child through another parent is 404 and deletes nothing", method: "DELETE", url: "/rest/items/{items.1}/notes/{notes.0}", headers: key(fullKey), beforeEach: childConfig,
			status: 404, after: expectChildren("/rest/items/{items.0}/notes", 2)},
		{name: "POST with override DELETE deletes a child", method: "POST", url: "/rest/items/{items.0}/notes/{notes.1}", headers: with(key(fullKey), "X-HTTP-Method-Override", "DELETE"), beforeEach: childConfig,
			status: 200, after: expectChildren("/rest/items/{items.0}/notes", 1)},
		{name: "POST on one child is 405", method: "POST", url: "/rest/items/{items.0}/notes/{notes.1}", headers: key(fullKey), body: `{}`, beforeEach: childConfig, status: 405},
		{name: "without credentials, 401", method: "GET", url: "/rest/items/{items.0}/notes", status: 401, beforeEach: childConfig},

		// Web keys: the globs see the whole path.
		{name: "a web key reads the children its globs name", method: "GET", url: "/rest/items/{items.0}/notes", headers: kids, status: 200, beforeEach: childConfig, contains: []string{"first of apple"}},
		{name: "a web key reads one child its globs name", method: "GET", url: "/rest/items/{items.0}/notes/{notes.0}", headers: kids, status: 200, beforeEach: childConfig, contains: []string{"first of apple"}},
		{name: "a web key may not read the parent its globs leave out", method: "GET", url: "/rest/items/{items.0}", headers: kids, status: 403, beforeEach: childConfig},
		{name: "a web key may not write children with GET only", method: "POST", url: "/rest/items/{items.0}/notes", headers: kids, body: `{"text":"x"}`, status: 403, beforeEach: childConfig},
		{name: "a web key may not read children of another collection", method: "GET", url: "/rest/tasks/{tasks.0}/notes", headers: kids, status: 403, beforeEach: childConfig},
		{name: "a tasks web key may not read the children of items", method: "GET", url: "/rest/items/{items.0}/notes", headers: key(readerKey), status: 403, beforeEach: childConfig},

		// External users: private parents stay private, private children too.
		{name: "a user reads the children of her own private task", method: "GET", url: "/rest/tasks/{tasks.0}/notes", headers: bearer("alice"), status: 200, beforeEach: childConfig,
			contains: []string{"alices"}, absent: []string{"bobs"}},
		{name: "another user's private task has no visible children: 404", method: "GET", url: "/rest/tasks/{tasks.1}/notes", headers: bearer("alice"), status: 404, beforeEach: childConfig, absent: []string{"bobs"}},
		{name: "nor one child of it", method: "GET", url: "/rest/tasks/{tasks.1}/notes/{notes.3}", headers: bearer("alice"), status: 404, beforeEach: childConfig},
		{name: "nor may she add a child to it", method: "POST", url: "/rest/tasks/{tasks.1}/notes", headers: bearer("alice"), body: `{"text":"x"}`, status: 404, beforeEach: childConfig},
		{name: "private children: a user sees only her own under a shared parent", method: "GET", url: "/rest/items/{items.0}/notes", headers: bearer("alice"), status: 200, beforeEach: childConfig,
			contains: []string{"[]"}, absent: []string{"apple"}},
		{name: "a user adds a child to a parent she may only read", method: "POST", url: "/rest/items/{items.0}/notes", headers: bearer("alice"), body: `{"text":"mine"}`, status: 201, beforeEach: childConfig,
			contains: []string{`"_createdby":"alice@example.com"`}},
		{name: "a user without rights on the child collection is 403", method: "GET", url: "/rest/items/{items.0}/secret", headers: bearer("alice"), status: 403, beforeEach: childConfig},
		{name: "a user without read rights on the parent collection is 403", method: "GET", url: "/rest/secret/{items.0}/notes", headers: bearer("alice"), status: 403, beforeEach: childConfig},
	})
}

func TestFetchChildren(t *testing.T) {
	runScenarios(t, []scenario{
		{name: "fetchchildren adds each child list", method: "GET", url: "/rest/items/{items.0}?fetchchildren=true", headers: key(fullKey), status: 200, beforeEach: childConfig,
			contains: []string{`"name":"apple"`, "first of apple", "second of apple"}, absent: []string{"banana", "_version"},
			after: func(t *testing.T, _ *env, r response) {
				var d struct {
					Notes []map[string]any `json:"notes"`
				}
				if err := json.Unmarshal([]byte(r.body), &d); err != nil || len(d.Notes) != 2 {
					t.Errorf("notes %v (%v), want 2", d.Notes, err)
				}
			}},
		{name: "without it, no children", method: "GET", url: "/rest/items/{items.0}", headers: key(fullKey), status: 200, beforeEach: childConfig, absent: []string{"first of apple"}},
		{name: "fetchchildren with metafields", method: "GET", url: "/rest/items/{items.1}?fetchchildren=true&metafields=true", headers: key(fullKey), status: 200, beforeEach: childConfig,
			contains: []string{`"_version":0`, "only of banana"}},
		{name: "fetchchildren shows a user only the children she may read", method: "GET", url: "/rest/tasks/{tasks.0}?fetchchildren=true", headers: bearer("alice"), status: 200, beforeEach: childConfig,
			contains: []string{"alices"}, absent: []string{"bobs"}},
		{name: "fetchchildren gives a web key the children its globs name", method: "GET", url: "/rest/tasks/{tasks.0}?fetchchildren=true", headers: key(readerKey), status: 200, beforeEach: childConfig,
			contains: []string{"alices"}},
		{name: "fetchchildren leaves out children a web key may not read", method: "GET", url: "/rest/tasks/{tasks.0}?fetchchildren=true", headers: key("web-parents-key-0123456789"), status: 200, beforeEach: childConfig,
			contains: []string{`"title":"mine"`}, absent: []string{"alices", "notes"}},
	})
}

// expectChildren checks how many children a child list holds afterwards.
func expectChildren(url string, want int) func(*testing.T, *env, response) {
	return func(t *testing.T, e *env, _ response) {
		t.Helper()
		r := e.do("GET", url, key(fullKey), "")
		var list []map[string]any
		if err := json.Unmarshal([]byte(r.body), &list); err != nil || len(list) != want {
			t.Errorf("then GET %s: %s, want %d children", url, r.body, want)
		}
	}
}

func TestChildListUsesParentIndex(t *testing.T) {
	e := newEnv(t)
	childConfig(e)
	if err := e.st.SetIndexes(map[string][]string{"notes": {"_parent_id"}}); err != nil {
		t.Fatal(err)
	}
	r := e.do("GET", "/rest/items/{items.0}/notes", key(fullKey), "")
	if r.status != 200 {
		t.Fatalf("status %d: %s", r.status, r.body)
	}
	plan := r.header.Get(PlanHeader)
	if !strings.Contains(plan, "field=_parent_id") || !strings.Contains(plan, "examined=2") {
		t.Errorf("plan %q, want the _parent_id index examining the 2 children", plan)
	}
	var list []map[string]any
	if err := json.Unmarshal([]byte(r.body), &list); err != nil || len(list) != 2 {
		t.Errorf("children %s, want 2", r.body)
	}
}
