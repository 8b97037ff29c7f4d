package jsondoc

import (
	"encoding/json"
	"reflect"
	"testing"
)

// FuzzDecodeJSON: on anything json.Valid accepts, DecodeJSON yields exactly json.Unmarshal's
// value, or fails where json.Unmarshal fails too (a number out of range, say); on any input,
// the checker readers run on stored JSON (CheckDoc) agrees with the decoder.
func FuzzDecodeJSON(f *testing.F) {
	for _, s := range []string{`{}`, `[]`, `{"a":1,"b":[true,false,null],"c":{"d":"e"}}`, `"\u00e9\ud83d\ude00"`,
		`1e400`, `-0`, `0.000001`, `{"a":"\ud800"}`, "\"\xff\"", `[1,2,3.5e-7,"x\\ny"]`, ` {"k" : "v" } `, `{"a":1,"a":2}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if _, derr := DecodeJSON(b); (derr == nil) != (checkJSON(b) == nil) {
			t.Fatalf("checkJSON(%q) = %v, DecodeJSON: %v", b, checkJSON(b), derr)
		}
		if !json.Valid(b) {
			return
		}
		var want any
		wantErr := json.Unmarshal(b, &want)
		got, err := DecodeJSON(b)
		if err != nil {
			if wantErr == nil {
				t.Fatalf("DecodeJSON(%q) failed (%v) where json.Unmarshal gave %#v", b, err, want)
			}
			return
		}
		if wantErr != nil {
			t.Fatalf("DecodeJSON(%q) = %#v where json.Unmarshal failed: %v", b, got, wantErr)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("DecodeJSON(%q) = %#v, json.Unmarshal %#v", b, got, want)
		}
	})
}
