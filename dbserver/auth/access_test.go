package auth

import (
	"errors"
	"testing"

	"github.com/restkube/restkube/dbserver/settings"
)

func TestAuthorize(t *testing.T) {
	cfg := &settings.Config{Settings: settings.Settings{Collections: []settings.Collection{
		{Name: "tasks", Private: true, Access: map[string]settings.Rights{"external": {Read: true, Write: true}}},
		{Name: "public", Access: map[string]settings.Rights{"external": {Read: true}, "editor": {Write: true}}},
		{Name: "secret"},
	}}}
	user := func(name string, roles ...string) *Principal {
		return &Principal{Kind: User, Name: name, Roles: roles}
	}
	reader := &Principal{Kind: WebKey, Name: "api", WebKey: &settings.WebKey{Paths: []string{"/public/**"}}}
	cases := []struct {
		name         string
		p            *Principal
		method, coll string
		path         string
		want         error
		private      bool
	}{
		{"the full key may do anything", &Principal{Kind: FullKey, Name: "api"}, "DELETE", "secret", "/secret/x", nil, false},
		{"a web key within its globs", reader, "GET", "public", "/public/x", nil, false},
		{"a web key outside its globs", reader, "GET", "tasks", "/tasks", ErrForbidden, false},
		{"a web key beyond its methods", reader, "POST", "public", "/public", ErrForbidden, false},
		{"a user in a private collection", user("alice", "external"), "PUT", "tasks", "/tasks/x", nil, true},
		{"a user reading with read rights", user("alice", "external"), "GET", "public", "/public", nil, false},
		{"a user writing without write rights", user("alice", "external"), "POST", "public", "/public", ErrForbidden, false},
		{"rights of several roles add up", user("alice", "external", "editor"), "POST", "public", "/public", nil, false},
		{"a user with no rule on the collection", user("alice", "external"), "GET", "secret", "/secret", ErrForbidden, false},
		{"a user on an undeclared collection", user("alice", "external"), "GET", "nope", "/nope", ErrForbidden, false},
		{"unknown credentials", &Principal{}, "GET", "public", "/public", ErrUnauthorized, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			g, err := Authorize(cfg, c.p, c.method, c.coll, c.path)
			if (c.want == nil) != (err == nil) || (c.want != nil && !errors.Is(err, c.want)) {
				t.Fatalf("err = %v, want %v", err, c.want)
			}
			if g.Private != c.private {
				t.Errorf("Private = %v, want %v", g.Private, c.private)
			}
			if c.private && g.Owner != c.p.Name {
				t.Errorf("Owner = %q, want %q", g.Owner, c.p.Name)
			}
		})
	}
}

func TestGrantSees(t *testing.T) {
	mine := map[string]any{"_createdby": "alice"}
	theirs := map[string]any{"_createdby": "bob"}
	if g := (Grant{}); !g.Sees(mine) || !g.Sees(theirs) {
		t.Error("a grant that is not private sees every document")
	}
	g := Grant{Private: true, Owner: "alice"}
	if !g.Sees(mine) || g.Sees(theirs) || g.Sees(map[string]any{}) {
		t.Error("a private grant sees exactly its owner's documents")
	}
	if (Grant{Private: true}).Sees(map[string]any{"_createdby": ""}) {
		t.Error("a private grant without an owner sees nothing")
	}
}

func TestAuthorizeChild(t *testing.T) {
	cfg := &settings.Config{Settings: settings.Settings{Collections: []settings.Collection{
		{Name: "tasks", Private: true, Access: map[string]settings.Rights{"external": {Read: true, Write: true}}},
		{Name: "notes", Access: map[string]settings.Rights{"external": {Read: true}, "editor": {Read: true, Write: true}}},
		{Name: "secret"},
	}}}
	user := func(roles ...string) *Principal { return &Principal{Kind: User, Name: "alice", Roles: roles} }
	kids := &Principal{Kind: WebKey, Name: "api", WebKey: &settings.WebKey{Paths: []string{"/tasks/*/notes"}, Methods: []string{"GET", "POST"}}}
	cases := []struct {
		name                 string
		p                    *Principal
		method, parent, coll string
		want                 error
		parentPrivate        bool
	}{
		{"the full key", &Principal{Kind: FullKey}, "POST", "secret", "secret", nil, false},
		{"a web key within its globs", kids, "POST", "tasks", "notes", nil, false},
		{"a web key beyond its methods", kids, "DELETE", "tasks", "notes", ErrForbidden, false},
		{"a user reading children of a private parent", user("external"), "GET", "tasks", "notes", nil, true},
		{"a user writing children without write rights on them", user("external"), "POST", "tasks", "notes", ErrForbidden, false},
		{"a user writing children with write rights on them", user("external", "editor"), "POST", "tasks", "notes", nil, true},
		{"a user without read rights on the parent", user("editor"), "GET", "tasks", "notes", ErrForbidden, false},
		{"a user without rights on the child collection", user("external"), "GET", "tasks", "secret", ErrForbidden, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			pg, _, err := AuthorizeChild(cfg, c.p, c.method, c.parent, c.coll, "/"+c.parent+"/x/notes")
			if !errors.Is(err, c.want) || (c.want == nil) != (err == nil) {
				t.Fatalf("error %v, want %v", err, c.want)
			}
			if pg.Private != c.parentPrivate {
				t.Errorf("parent grant private %v, want %v", pg.Private, c.parentPrivate)
			}
		})
	}
}

func TestGrantMatch(t *testing.T) {
	g := Grant{Match: map[string]string{"_parent_id": "p1", "_parent_field": "notes"}}
	if !g.Sees(map[string]any{"_parent_id": "p1", "_parent_field": "notes"}) {
		t.Error("a child of p1 is hidden")
	}
	for _, d := range []map[string]any{{"_parent_id": "p2", "_parent_field": "notes"}, {"_parent_id": "p1"}, {}} {
		if g.Sees(d) {
			t.Errorf("%v is seen", d)
		}
	}
	g.Private, g.Owner = true, "alice"
	if g.Sees(map[string]any{"_parent_id": "p1", "_parent_field": "notes", "_createdby": "bob"}) {
		t.Error("a private child of another user is seen")
	}
}
