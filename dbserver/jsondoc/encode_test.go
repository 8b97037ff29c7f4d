package jsondoc

import (
	"bytes"
	"encoding/json"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/restkube/restkube/internal/testutil"
)

// randJSONValue is randValue plus the values that exercise the encoder's escaping and number
// formatting.
func randJSONValue(r *rand.Rand, depth int) any {
	if r.IntN(3) == 0 {
		switch r.IntN(4) {
		case 0:
			return []string{"<a&b>", "tab\there\n", "ctl\x01\x1f\x7f", "bad\xff\xfeutf8", "sep\u2028\u2029", `q"uo\te`, "日本語 é", "\b\f\r"}[r.IntN(8)]
		case 1:
			return []float64{1e21, 1e20, 123456789, 1e-6, 1e-7, 5e-324, math.MaxFloat64, -0.000001, 0.1, 100, 1.5e300, -2e-9}[r.IntN(12)]
		case 2:
			return []any{r.IntN(1000) - 500, int64(-7), []map[string]any{{"a": 1.0}}}[r.IntN(3)]
		}
		return map[string]any{"<k>": 1.0, "é": "x", "\u2028": nil}
	}
	v := testutil.RandValue(r, depth)
	switch t := v.(type) {
	case []any:
		for i := range t {
			t[i] = randJSONValue(r, depth+1)
		}
	case map[string]any:
		for k := range t {
			t[k] = randJSONValue(r, depth+1)
		}
	}
	return v
}

func TestAppendJSONMatchesEncodingJSON(t *testing.T) {
	r := rand.New(rand.NewPCG(13, 14))
	for i := 0; i < 3000; i++ {
		v := any(map[string]any{"a": randJSONValue(r, 0), "b": randJSONValue(r, 0), "c<>": randJSONValue(r, 0)})
		if i%5 == 0 {
			v = []map[string]any{{"x": randJSONValue(r, 0)}, nil}
		}
		want, err := json.Marshal(v)
		if err != nil {
			t.Fatalf("json.Marshal: %v", err)
		}
		got, err := AppendJSON(nil, v, true)
		if err != nil || !bytes.Equal(got, want) {
			t.Fatalf("AppendJSON(%#v, html) = %s, %v\nwant %s", v, got, err, want)
		}
		var buf bytes.Buffer
		enc := json.NewEncoder(&buf)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(v); err != nil {
			t.Fatal(err)
		}
		got, err = AppendJSON(nil, v, false)
		if err != nil || !bytes.Equal(append(got, '\n'), buf.Bytes()) {
			t.Fatalf("AppendJSON(%#v) = %s, %v\nwant %s", v, got, err, buf.Bytes())
		}
	}
}

func TestAppendJSONRefusesWhatEncodingJSONRefuses(t *testing.T) {
	for _, v := range []any{math.Inf(1), map[string]any{"a": math.NaN()}, []any{func() {}}} {
		if _, err := AppendJSON(nil, v, true); err == nil {
			t.Errorf("AppendJSON(%#v) succeeded, want an error", v)
		}
	}
	type page struct {
		Data []map[string]any `json:"data"`
	}
	got, err := AppendJSON(nil, page{Data: []map[string]any{{"a": 1.0}}}, false)
	if err != nil || string(got) != `{"data":[{"a":1}]}` {
		t.Fatalf("a struct falls back to encoding/json: got %s, %v", got, err)
	}
}

func BenchmarkEncodeDoc(b *testing.B) {
	raw := []byte(`{"_changed":"2026-03-28T11:32:19.069Z","_changedby":"api","_created":"2026-03-28T11:32:19.069Z","_createdby":"api","_id":"6a0b1c2d3e4f5a6b7c8d9e0f","_version":0,"done":false,"due":"2026-04-01T10:00:00.000Z","meta":{"ok":true,"rev":3,"source":"import"},"n":1234,"notes":"Some notes that make the document a little larger, as real ones are.","owner":"user12@example.com","prio":4,"tags":["work","home","t2"],"title":"Task number 1234 with a moderately long title","u":34}`)
	d, _ := decodeDoc(raw)
	b.Run("encoding/json", func(b *testing.B) {
		for b.Loop() {
			if _, err := json.Marshal(d); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("fast", func(b *testing.B) {
		for b.Loop() {
			if _, err := AppendJSON(make([]byte, 0, 512), d, true); err != nil {
				b.Fatal(err)
			}
		}
	})
}
