package httpapi

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/restkube/restkube/dbserver/planner"
	"github.com/restkube/restkube/dbserver/store"
)

// TestLargePagesAreStreamedAsTheSameJSON: a page past planner.StreamChunk is sent in chunks
// (no Content-Length), and is the same JSON a buffered answer would be, with and without totals.
func TestLargePagesAreStreamedAsTheSameJSON(t *testing.T) {
	e := newEnv(t)
	text := strings.Repeat("streamed text ", 40)
	docs := make([]store.Doc, 300)
	for i := range docs {
		docs[i] = store.Doc{"i": float64(i), "text": text}
	}
	if _, err := e.st.Insert("big", docs, "api"); err != nil {
		t.Fatal(err)
	}
	check := func(t *testing.T, data []map[string]any) {
		t.Helper()
		if len(data) != 300 {
			t.Fatalf("%d documents, want 300", len(data))
		}
		for i, d := range data {
			if d["i"] != float64(i) || d["text"] != text || d["_id"] == nil || d["_version"] != nil {
				t.Fatalf("document %d is %v", i, d)
			}
		}
	}
	r := e.do("GET", "/rest/big?max=300", key(fullKey), "")
	if r.status != 200 || r.header.Get("Content-Length") != "" || !strings.HasPrefix(r.header.Get(PlanHeader), "scan") {
		t.Fatalf("status %d, Content-Length %q, plan %q: not streamed", r.status, r.header.Get("Content-Length"), r.header.Get(PlanHeader))
	}
	if len(r.body) <= planner.StreamChunk {
		t.Fatalf("the page is %d bytes, not past a chunk", len(r.body))
	}
	var data []map[string]any
	if err := json.Unmarshal([]byte(r.body), &data); err != nil {
		t.Fatalf("streamed page is not JSON: %v", err)
	}
	check(t, data)

	r = e.do("GET", "/rest/big?max=300&skip=0&totals=true", key(fullKey), "")
	var page struct {
		Data   []map[string]any `json:"data"`
		Totals map[string]any   `json:"totals"`
	}
	if err := json.Unmarshal([]byte(r.body), &page); err != nil || r.header.Get("Content-Length") != "" {
		t.Fatalf("streamed totals page: %v (Content-Length %q)", err, r.header.Get("Content-Length"))
	}
	check(t, page.Data)
	if got := fmt.Sprint(page.Totals); got != "map[count:300 max:300 skip:0 total:300]" {
		t.Fatalf("totals %s", got)
	}
	// A small page is still one buffered write with its length.
	if r := e.do("GET", "/rest/big?max=2", key(fullKey), ""); r.header.Get("Content-Length") == "" {
		t.Fatalf("a small page lost its Content-Length")
	}
}
