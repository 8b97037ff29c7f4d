package store

import (
	"fmt"

	"github.com/restkube/restkube/dbserver/jsondoc"
)

// The on-disk form of a document lives here and nowhere else, so that a cheaper encoding can
// replace JSON later without touching the rest of the package.

// encodeDoc writes exactly what json.Marshal would, faster (package jsondoc).
func encodeDoc(d Doc) ([]byte, error) {
	b, err := jsondoc.AppendJSON(make([]byte, 0, 512), d, true)
	if err != nil {
		return nil, fmt.Errorf("store: encoding document: %w", err)
	}
	return b, nil
}

// decodeDoc decodes a stored document (package jsondoc).
func decodeDoc(b []byte) (Doc, error) { return jsondoc.DecodeDoc(b) }
