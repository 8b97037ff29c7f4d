package query_test

import (
	"bytes"
	"testing"
	"time"

	"github.com/restkube/restkube/dbserver/jsondoc"
	"github.com/restkube/restkube/dbserver/query"
	"github.com/restkube/restkube/dbserver/store"
)

// FuzzApplyUpdate: every update that ApplyUpdate accepts and the store's limits let through
// yields a document that encodes, decodes, and encodes again to the same bytes: the store never
// writes what it cannot read back. `make fuzz` runs it for a bounded time; plain `go test` runs
// only the seeds.
func FuzzApplyUpdate(f *testing.F) {
	seeds := [][2]string{
		{`{"n":1,"a":[1,2],"o":{"x":"y"}}`, `{"$inc":{"n":2},"$push":{"a":3},"$set":{"o.z.0":true}}`},
		{`{}`, `{"$set":{"a.b.c.d.e":1}}`},
		{`{"g":[[],[]]}`, `{"$set":{"g.0.100":1,"g.1.50":2}}`},
		{`{"n":1e308}`, `{"$inc":{"n":1e308}}`},
		{`{"a":[1,1,2]}`, `{"$pull":{"a":1},"$addToSet":{"a":{"$each":[2,3]}},"$unset":{"b":1}}`},
		{`{"s":"x"}`, `{"s":"\ud800","t":"\u2028<>&","$set":{"d":{"$date":"2026-01-01"}}}`},
		{`{"x":{"y":[{"z":1}]}}`, `{"$set":{"x.y.0.z.w":1}}`},
	}
	for _, s := range seeds {
		f.Add([]byte(s[0]), []byte(s[1]))
	}
	now := time.Date(2026, 3, 28, 12, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, docJSON, bodyJSON []byte) {
		dv, err := jsondoc.DecodeJSON(docJSON)
		if err != nil {
			return
		}
		bv, err := jsondoc.DecodeJSON(bodyJSON)
		if err != nil {
			return
		}
		doc, ok1 := dv.(map[string]any)
		body, ok2 := bv.(map[string]any)
		if !ok1 || !ok2 {
			return
		}
		if err := query.ApplyUpdate(doc, body, now); err != nil {
			return
		}
		enc, err := jsondoc.AppendJSON(nil, doc, true)
		if err != nil {
			t.Fatalf("an accepted update made a document that does not encode: %v\ndoc %s\nbody %s", err, docJSON, bodyJSON)
		}
		if store.CheckDoc(doc, enc, store.Limits{}, "") != nil {
			return // the store refuses it: nothing is stored
		}
		back, err := jsondoc.DecodeDoc(enc)
		if err != nil {
			t.Fatalf("a document the store would write does not decode: %v\n%s", err, enc)
		}
		again, err := jsondoc.AppendJSON(nil, back, true)
		if err != nil || !bytes.Equal(again, enc) {
			t.Fatalf("decoding and encoding again changed the document:\n%s\n%s (%v)", enc, again, err)
		}
	})
}
