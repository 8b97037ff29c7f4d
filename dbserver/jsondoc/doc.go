// Package jsondoc is the dbserver's document codec and the names of its system fields. It is a
// leaf: store, query, planner, auth and httpapi import it, it imports none of them.
//
// # Codec
//
// Decoding documents is the main cost of a read, so the package has its own decoder
// (decode.go: DecodeJSON for any value, DecodeDoc for an object), which yields exactly what
// json.Unmarshal into an interface{} would (map[string]any, []any, string, float64, bool, nil;
// its tests and FuzzDecodeJSON compare the two), and its own encoder (encode.go: AppendJSON),
// which writes exactly what json.Marshal (or an Encoder without HTML escaping) would; both
// avoid reflection. fields.go works on stored documents without decoding them in full:
// DecodeFields walks a document once and decodes only the named top-level fields, and
// AppendObjectWithout copies a document minus some fields (AppendObjectOnly: only some),
// EachString yields its string values for a full-text search. check.go's CheckDoc tells, without
// building anything, whether the decoder would read a stored document: readers that copy stored
// JSON run it, so they refuse a damaged document as decoding readers do. make bench and the package's
// benchmarks (BenchmarkDecodeDoc, BenchmarkEncodeDoc) measure them against encoding/json; the
// figures are in the README's performance section.
//
// Request bodies are first checked by json.Valid: the decoder is fast on valid input and
// leaves the verdict and the error message on anything else to encoding/json.
//
// # System fields
//
// system.go names the fields the server keeps on every document (_id, _created, _changed,
// _createdby, _changedby, _version), the time layout of _created and _changed, and which of them
// a read hides unless it asks for metafields. Every top-level name that starts with "_" is
// reserved: UserFields drops them from what a client sends.
package jsondoc

import "fmt"

// Doc is a decoded JSON object: a document.
type Doc = map[string]any

// decodeDoc decodes a JSON object (decode.go).
func decodeDoc(b []byte) (Doc, error) {
	v, err := fastDecode(b)
	if err != nil {
		return nil, err
	}
	d, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("jsondoc: decoding document: not a JSON object")
	}
	return d, nil
}
