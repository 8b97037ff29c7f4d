package store

import (
	"errors"
	"strings"
	"testing"

	"github.com/restkube/restkube/dbserver/jsondoc"
)

// nested returns {"a":{"a":…{"a":1}}} with levels objects in all (the document included).
func nested(levels int) Doc {
	var v any = 1.0
	for range levels - 1 {
		v = map[string]any{"a": v}
	}
	return Doc{"a": v}
}

func TestWritesOverALimitStoreNothing(t *testing.T) {
	s := openTest(t, Options{})
	if _, err := s.Insert("c", []Doc{nested(DefaultMaxDepth)}, "api"); err != nil {
		t.Fatalf("a document of exactly %d levels: %v", DefaultMaxDepth, err)
	}
	mustInsert(t, s, "c", Doc{"n": 1.0})
	before := count(t, s, "c")

	var le *LimitError
	_, err := s.Insert("c", []Doc{nested(DefaultMaxDepth + 1)}, "api")
	if !errors.As(err, &le) || le.Limit != LimitMaxDepth || !strings.HasPrefix(le.Path, "a.a.a") {
		t.Fatalf("101 levels: got %v, want a LimitError on %s naming the path", err, LimitMaxDepth)
	}
	// A bulk create names the document by its position, and stores none of them.
	_, err = s.Insert("c", []Doc{{"ok": true}, nested(DefaultMaxDepth + 1)}, "api")
	if !errors.As(err, &le) || !strings.HasPrefix(le.Path, "[1].a") {
		t.Fatalf("bulk: got %v, want a LimitError at [1].a…", err)
	}
	// An update that nests too deep leaves the document as it was.
	docs := mustInsert(t, s, "c", Doc{"x": 1.0})
	id := docs[0][jsondoc.FieldID].(string)
	before++
	_, err = s.Update("c", id, AnyVersion, "api", func(d Doc) error {
		d["x"] = nested(DefaultMaxDepth)
		return nil
	})
	if !errors.As(err, &le) || le.Limit != LimitMaxDepth || !strings.HasPrefix(le.Path, "x.a") {
		t.Fatalf("update: got %v, want a LimitError at x.a…", err)
	}
	got, err := s.Get("c", id)
	if err != nil || got["x"] != 1.0 || jsondoc.Version(got) != 0 {
		t.Fatalf("after a refused update: %v %v", got, err)
	}

	// The size limit counts the stored bytes and follows SetLimits.
	s.SetLimits(Limits{MaxDocumentBytes: 2048})
	_, err = s.Insert("c", []Doc{{"s": strings.Repeat("x", 2048)}}, "api")
	if !errors.As(err, &le) || le.Limit != LimitMaxDocumentBytes || le.Max != 2048 || le.Got <= 2048 {
		t.Fatalf("size: got %v", err)
	}
	_, err = s.Update("c", id, AnyVersion, "api", func(d Doc) error {
		d["s"] = strings.Repeat("y", 3000)
		return nil
	})
	if !errors.Is(err, ErrLimit) {
		t.Fatalf("size on update: got %v", err)
	}
	if n := count(t, s, "c"); n != before {
		t.Fatalf("%d documents, want %d: a refused write stored something", n, before)
	}
	if l := s.Limits(); l.MaxDepth != DefaultMaxDepth {
		t.Fatalf("SetLimits left MaxDepth %d, want the default", l.MaxDepth)
	}
}

func TestCheckDocPathOfArrays(t *testing.T) {
	var v any = 1.0
	for range 5 {
		v = []any{"x", v}
	}
	err := CheckDoc(Doc{"arr": v}, []byte("{}"), Limits{MaxDepth: 4}, "")
	var le *LimitError
	if !errors.As(err, &le) || le.Path != "arr.1.1.1" {
		t.Fatalf("got %v, want the path arr.1.1.1", err)
	}
}
