package jsondoc

import (
	"encoding/json"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/restkube/restkube/internal/testutil"
)

// TestCheckDocAgreesWithTheDecoder: CheckDoc accepts exactly what DecodeDoc decodes, on edge
// cases of every token kind, on nesting around MaxDecodeDepth, and on random documents and
// their truncations.
func TestCheckDocAgreesWithTheDecoder(t *testing.T) {
	deep := func(levels int, inner string) string {
		return `{"x":` + strings.Repeat(`[`, levels-1) + inner + strings.Repeat(`]`, levels-1) + `}`
	}
	inputs := []string{
		`{}`, ` { } `, `{"a":1}`, `[]`, `1`, `"s"`, `null`, ``, `{`, `{"a":1,}`, `{"a":1} x`, `{"a" 1}`, `{a:1}`,
		`{"a":[1 2]}`, `{"a":tru}`, `{"a":nul}`, `{"a":01}`, `{"a":1.}`, `{"a":.5}`, `{"a":-}`, `{"a":+1}`, `{"a":1+2}`,
		`{"a":1e999}`, `{"a":-1e999}`, `{"a":1e-999}`, `{"a":1e308}`, `{"a":2e308}`, `{"a":1E+2}`, `{"a":1e}`,
		`{"a":"` + strings.Repeat("9", 400) + `"}`, `{"a":` + strings.Repeat("9", 400) + `}`,
		`{"a":"x}`, `{"a":"\u00e9\ud800"}`, `{"a":"\u00g9"}`, `{"a":"\u12"}`, `{"a":"\x"}`, `{"a":"\/\b\f\n\r\t\"\\"}`,
		"{\"a\":\"tab\there\"}", "{\"a\":\"\xff\xfe\"}", "{\"\xc3\":1}", `{"a":"\`, `{"a\u0041":1}`,
		deep(MaxDecodeDepth-1, "1"), deep(MaxDecodeDepth, "1"), deep(MaxDecodeDepth, ""), deep(MaxDecodeDepth+1, ""),
		deep(MaxDecodeDepth+1, "1"), deep(20000, "1"),
	}
	// A byte that needs a look at every offset of a long string (strings are scanned eight
	// bytes at a time).
	for off := range 20 {
		for _, b := range []string{"\x01", "\x1f", "\"", `\\`, `\n`, `\u00e9`, `\q`, "\xc3\xa9", "\x7f", " "} {
			inputs = append(inputs, `{"s":"`+strings.Repeat("a", off)+b+strings.Repeat("b", 20-off)+`"}`)
		}
	}
	r := rand.New(rand.NewPCG(21, 22))
	for range 300 {
		d := Doc{"a": randJSONValue(r, 0), "b": testutil.RandValue(r, 0)}
		raw, err := AppendJSON(nil, d, false)
		if err != nil {
			t.Fatal(err)
		}
		inputs = append(inputs, string(raw), string(raw[:r.IntN(len(raw))]))
	}
	for _, in := range inputs {
		_, derr := DecodeDoc([]byte(in))
		cerr := CheckDoc([]byte(in))
		if (derr == nil) != (cerr == nil) {
			t.Errorf("CheckDoc(%.80q) = %v, DecodeDoc: %v", in, cerr, derr)
		}
	}
}

func BenchmarkCheckDoc(b *testing.B) {
	raw := []byte(`{"_changed":"2026-03-28T11:32:19.069Z","_changedby":"api","_created":"2026-03-28T11:32:19.069Z","_createdby":"api","_id":"6a0b1c2d3e4f5a6b7c8d9e0f","_version":0,"done":false,"due":"2026-04-01T10:00:00.000Z","meta":{"ok":true,"rev":3,"source":"import"},"n":1234,"notes":"Some notes that make the document a little larger, as real ones are.","owner":"user12@example.com","prio":4,"tags":["work","home","t2"],"title":"Task number 1234 with a moderately long title","u":34}`)
	b.SetBytes(int64(len(raw)))
	b.Run("json.Valid", func(b *testing.B) {
		b.SetBytes(int64(len(raw)))
		for b.Loop() {
			if !json.Valid(raw) {
				b.Fatal("invalid")
			}
		}
	})
	b.Run("CheckDoc", func(b *testing.B) {
		b.SetBytes(int64(len(raw)))
		for b.Loop() {
			if CheckDoc(raw) != nil {
				b.Fatal("invalid")
			}
		}
	})
	b.Run("AppendObjectWithout", func(b *testing.B) {
		b.SetBytes(int64(len(raw)))
		buf := make([]byte, 0, 1024)
		drop := SystemFields()
		for b.Loop() {
			buf, _ = AppendObjectWithout(buf[:0], raw, drop)
		}
	})
}

// TestEachStringVisitsTheDecodedStrings: EachString yields exactly the string values a decode
// holds (escapes decoded, invalid UTF-8 replaced), except under top-level '_' fields, and fails
// on what does not decode as a document.
func TestEachStringVisitsTheDecodedStrings(t *testing.T) {
	var walk func(v any, out *[]string)
	walk = func(v any, out *[]string) {
		switch x := v.(type) {
		case string:
			*out = append(*out, x)
		case []any:
			for _, e := range x {
				walk(e, out)
			}
		case map[string]any:
			for _, e := range x {
				walk(e, out)
			}
		}
	}
	r := rand.New(rand.NewPCG(23, 24))
	for range 500 {
		d := Doc{"a": randJSONValue(r, 0), "_hidden": "secret", "_id": "x", "b": map[string]any{"_nested": "seen"}, "c": randJSONValue(r, 0)}
		raw, err := AppendJSON(nil, d, false)
		if err != nil {
			t.Fatal(err)
		}
		dec, err := DecodeDoc(raw)
		if err != nil {
			t.Fatal(err)
		}
		var want, got []string
		for k, v := range dec {
			if !strings.HasPrefix(k, "_") {
				walk(v, &want)
			}
		}
		if err := EachString(raw, func(s []byte) bool { got = append(got, string(s)); return true }); err != nil {
			t.Fatal(err)
		}
		slices.Sort(want)
		slices.Sort(got)
		if !slices.Equal(got, want) {
			t.Fatalf("EachString(%s) = %q, want %q", raw, got, want)
		}
	}
	for _, bad := range []string{`[]`, `{"a":"x}`, `{"a":[1,}`, `{"a":"x"} y`, `{"a":"\q"}`} {
		if err := EachString([]byte(bad), func([]byte) bool { return true }); err == nil {
			t.Errorf("EachString(%q) succeeded", bad)
		}
	}
}
