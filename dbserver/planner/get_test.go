package planner

import (
	"encoding/json"
	"errors"
	"testing"

	"github.com/restkube/restkube/dbserver/jsondoc"
	"github.com/restkube/restkube/dbserver/store"
)

func TestGetAnswersOneDocument(t *testing.T) {
	s := openStore(t)
	docs, err := s.Insert("c", []store.Doc{{"title": "a <b> & c", "n": 1.0}, {"title": "other"}}, "alice")
	if err != nil {
		t.Fatal(err)
	}
	id := docs[0][jsondoc.FieldID].(string)
	if _, err := s.Update("c", id, store.AnyVersion, "bob", func(d store.Doc) error { d["n"] = 2.0; return nil }); err != nil {
		t.Fatal(err)
	}
	full, err := s.Get("c", id)
	if err != nil {
		t.Fatal(err)
	}
	onlyAlice := Options{Allow: func(d store.Doc) bool { return d[jsondoc.FieldCreatedBy] == "alice" }, AllowFields: []string{jsondoc.FieldCreatedBy}}
	onlyBob := Options{Allow: func(d store.Doc) bool { return d[jsondoc.FieldCreatedBy] == "bob" }, AllowFields: []string{jsondoc.FieldCreatedBy}}
	wholeDocAllow := Options{Allow: func(d store.Doc) bool { return d["title"] == "a <b> & c" }}

	for name, opts := range map[string]Options{"no allow": {}, "allowed": onlyAlice, "allow reading the whole document": wholeDocAllow} {
		t.Run(name, func(t *testing.T) {
			res, version, err := Get(s, "c", id, false, opts)
			if err != nil {
				t.Fatal(err)
			}
			raw, ok := res.(json.RawMessage)
			if !ok {
				t.Fatalf("without metafields the answer is %T, want the stored JSON", res)
			}
			if want := mustJSON(t, jsondoc.WithoutSystemFields(full)); mustJSON(t, raw) != want {
				t.Errorf("answer %s, want %s", raw, want)
			}
			if version != 1 {
				t.Errorf("version %d, want 1", version)
			}
			res, version, err = Get(s, "c", id, true, opts)
			if err != nil {
				t.Fatal(err)
			}
			if d, ok := res.(store.Doc); !ok || mustJSON(t, d) != mustJSON(t, full) || version != 1 {
				t.Errorf("with metafields: %T %v version %d, want the whole document at version 1", res, res, version)
			}
		})
	}

	for name, tc := range map[string]struct {
		coll, id string
		opts     Options
	}{
		"refused by allow":   {"c", id, onlyBob},
		"missing id":         {"c", "0123456789abcdef01234567", Options{}},
		"missing collection": {"nope", id, Options{}},
		"malformed id":       {"c", "xyz", Options{}},
	} {
		for _, meta := range []bool{false, true} {
			if _, _, err := Get(s, tc.coll, tc.id, meta, tc.opts); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("%s (metafields %v): %v, want ErrNotFound", name, meta, err)
			}
		}
	}
}
