package jsondoc

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"reflect"
	"testing"

	"github.com/restkube/restkube/internal/testutil"
)

func TestDecodeFieldsMatchesAFullDecode(t *testing.T) {
	docs := map[string]string{
		"plain":              `{"a":1,"b":"x","c":true,"d":null}`,
		"white space":        " { \"a\" : 1 ,\n\t\"b\" : [ 1 , {\"x\":\"]}\"} ] , \"c\" : { } } ",
		"escapes in keys":    `{"a\"q":1,"\u0061":2,"b":"\u00e9\n","c":"\"}"}`,
		"nested and strings": `{"x":{"a":[1,2,{"b":"}]"}]},"a":-1.5e3,"b":"tab\there","c":[]}`,
		"unicode":            `{"a":"héllo","b":"日本","c":"\ud83d\ude00"}`,
		"empty":              `{}`,
	}
	for name, raw := range docs {
		t.Run(name, func(t *testing.T) {
			full, err := DecodeDoc([]byte(raw))
			if err != nil {
				t.Fatalf("DecodeDoc: %v", err)
			}
			fields := []string{"a", "b", "c", "a\"q", "missing"}
			got, err := DecodeFields([]byte(raw), fields)
			if err != nil {
				t.Fatalf("DecodeFields: %v", err)
			}
			want := Doc{}
			for _, f := range fields {
				if v, ok := full[f]; ok {
					want[f] = v
				}
			}
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("got %#v, want %#v", got, want)
			}
		})
	}
}

func TestDecodeFieldsOnRandomDocuments(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	for i := 0; i < 500; i++ {
		d := Doc{}
		for _, k := range []string{"a", "b", "c", "é", "x y"} {
			if r.IntN(2) == 0 {
				d[k] = testutil.RandValue(r, 0)
			}
		}
		raw, err := json.Marshal(d)
		if err != nil {
			t.Fatal(err)
		}
		full, _ := DecodeDoc(raw)
		got, err := DecodeFields(raw, []string{"b", "é", "x y"})
		if err != nil {
			t.Fatalf("DecodeFields(%s): %v", raw, err)
		}
		want := Doc{}
		for _, f := range []string{"b", "é", "x y"} {
			if v, ok := full[f]; ok {
				want[f] = v
			}
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("DecodeFields(%s) = %#v, want %#v", raw, got, want)
		}
	}
}

func TestDecodeFieldsRejectsMalformedInput(t *testing.T) {
	for _, raw := range []string{``, `[]`, `{"a"}`, `{"a":}`, `{"a":"x`, `{"a":1 "b":2}`, `{"a":[1,2}`, `{"b":1,`} {
		// "z" is absent, so the whole input is walked.
		if _, err := DecodeFields([]byte(raw), []string{"z"}); err == nil {
			t.Errorf("DecodeFields(%q) succeeded, want an error", raw)
		}
	}
}

func TestFastDecodeMatchesEncodingJSON(t *testing.T) {
	inputs := []string{
		`{"a":1,"b":"x","c":true,"d":null,"e":[],"f":{},"g":[1,"2",[3],{"h":-0.5e-3}]}`,
		`{"esc":"q\"uote\\ \/ \b\f\n\r\t \u00e9 \ud83d\ude00 \u0000","ctl":"x"}`,
		"{\"bad utf8\":\"a\xffb\xc3\",\"ok\":\"h\xc3\xa9llo \xe6\x97\xa5\"}",
		`{"big":1e308,"small":5e-324,"neg":-0,"int":12345678901234567890}`,
		` { "a" : [ 1 , 2 ] } `,
	}
	r := rand.New(rand.NewPCG(9, 10))
	for i := 0; i < 300; i++ {
		d := Doc{}
		for _, k := range []string{"a", "b", "c\n", "é"} {
			d[k] = testutil.RandValue(r, 0)
		}
		raw, _ := json.Marshal(d)
		inputs = append(inputs, string(raw))
	}
	for _, in := range inputs {
		var want any
		if err := json.Unmarshal([]byte(in), &want); err != nil {
			t.Fatalf("json.Unmarshal(%q): %v", in, err)
		}
		got, err := fastDecode([]byte(in))
		if err != nil {
			t.Fatalf("fastDecode(%q): %v", in, err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("fastDecode(%q) = %#v, want %#v", in, got, want)
		}
	}
	for _, bad := range []string{``, `{`, `{"a":1,}`, `[1 2]`, `{"a":tru}`, `{"a":01}`, `{"a":1.}`, `{"a":"x}`, `{"a":1} x`, `{"a":1e999}`} {
		if _, err := fastDecode([]byte(bad)); err == nil {
			t.Errorf("fastDecode(%q) succeeded, want an error", bad)
		}
	}
}

func BenchmarkDecodeDoc(b *testing.B) {
	raw := []byte(`{"_changed":"2026-03-28T11:32:19.069Z","_changedby":"api","_created":"2026-03-28T11:32:19.069Z","_createdby":"api","_id":"6a0b1c2d3e4f5a6b7c8d9e0f","_version":0,"done":false,"due":"2026-04-01T10:00:00.000Z","meta":{"ok":true,"rev":3,"source":"import"},"n":1234,"notes":"Some notes that make the document a little larger, as real ones are.","owner":"user12@example.com","prio":4,"tags":["work","home","t2"],"title":"Task number 1234 with a moderately long title","u":34}`)
	b.Run("encoding/json", func(b *testing.B) {
		for b.Loop() {
			var d Doc
			if err := json.Unmarshal(raw, &d); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("fast", func(b *testing.B) {
		for b.Loop() {
			if _, err := decodeDoc(raw); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("fields", func(b *testing.B) {
		for b.Loop() {
			if _, err := DecodeFields(raw, []string{"u"}); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// TestAppendObjectWithout: AppendObjectWithout copies a document without the named fields,
// AppendObjectOnly with only them.
func TestAppendObjectWithout(t *testing.T) {
	r := rand.New(rand.NewPCG(15, 16))
	for i := 0; i < 500; i++ {
		d := Doc{}
		for _, k := range []string{"_id", "_version", "a", "b<", "é", "_created"} {
			if r.IntN(3) > 0 {
				d[k] = randJSONValue(r, 0)
			}
		}
		raw, err := AppendJSON(nil, d, true)
		if err != nil {
			t.Fatal(err)
		}
		drop := []string{"_version", "_created", "b<"}
		only := i%2 == 0
		var got []byte
		if only {
			got, err = AppendObjectOnly([]byte("x"), raw, drop)
		} else {
			got, err = AppendObjectWithout([]byte("x"), raw, drop)
		}
		if err != nil {
			t.Fatalf("AppendObjectWithout(%s): %v", raw, err)
		}
		want := Doc{}
		full, _ := decodeDoc(raw)
		for k, v := range full {
			if contains(drop, k) == only {
				want[k] = v
			}
		}
		if got[0] != 'x' {
			t.Fatalf("AppendObjectWithout(%s) = %s: dst was not kept", raw, got)
		}
		gotDoc, err := decodeDoc(got[1:])
		if err != nil {
			t.Fatalf("AppendObjectWithout(%s) = %s: %v", raw, got, err)
		}
		if !reflect.DeepEqual(gotDoc, want) {
			t.Fatalf("AppendObjectWithout(%s) = %s, want %#v", raw, got, want)
		}
	}
	// Key by key (a name to drop without '_'), malformed input is refused. (With system fields
	// only, the tail after them is copied unread: stored documents are well formed.)
	if _, err := AppendObjectWithout(nil, []byte(`{"a":1 "b":2}`), []string{"b"}); err == nil {
		t.Error("malformed input was accepted")
	}
}

// With system fields to drop, the copy of the document's tail after its '_' keys must give
// the same bytes as looking at every key, for keys beginning with every kind of character.
func TestAppendObjectWithoutSkipsTheSortedTail(t *testing.T) {
	r := rand.New(rand.NewPCG(17, 18))
	keys := []string{"", "A", "Z", "0", "<k", "&", "_", "__x", "_id", "_version", "_created", "_changedby", "_createdby",
		"_changed", "`x", "a", "n", "~", "\x7f", "é", "zz", "\u2028", "a\x00"}
	drop := []string{"_created", "_changed", "_createdby", "_changedby", "_version"}
	for i := 0; i < 2000; i++ {
		d := Doc{}
		for _, k := range keys {
			if r.IntN(2) == 0 {
				d[k] = randJSONValue(r, 0)
			}
		}
		raw, err := AppendJSON(nil, d, true)
		if err != nil {
			t.Fatal(err)
		}
		if i%2 == 1 {
			raw = append(raw, " \n"...) // trailing space: the tail copy must stop at the brace
		}
		slow, err := appendObjectWithout([]byte("x"), raw, drop, false, false)
		if err != nil {
			t.Fatalf("%s: %v", raw, err)
		}
		fast, err := AppendObjectWithout([]byte("x"), raw, drop)
		if err != nil {
			t.Fatalf("%s: %v", raw, err)
		}
		if !bytes.Equal(fast, slow) {
			t.Fatalf("document %s:\n tail copy %s\nkey by key %s", raw, fast, slow)
		}
	}
}
