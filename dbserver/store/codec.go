package store

import (
	"fmt"
	"strings"
	"time"

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

// System field names.
const (
	FieldID        = "_id"
	FieldCreated   = "_created"
	FieldChanged   = "_changed"
	FieldCreatedBy = "_createdby"
	FieldChangedBy = "_changedby"
	FieldVersion   = "_version"
)

// TimeFormat is the layout of _created and _changed: ISO-8601 UTC with milliseconds.
const TimeFormat = "2006-01-02T15:04:05.000Z"

// FormatTime renders t as _created and _changed hold it.
func FormatTime(t time.Time) string { return t.UTC().Format(TimeFormat) }

// IsSystemField reports whether a top-level field name is reserved: clients cannot set it.
func IsSystemField(name string) bool { return strings.HasPrefix(name, "_") }

// Version returns a document's _version, or -1 when it has none.
func Version(d Doc) int64 {
	switch v := d[FieldVersion].(type) {
	case float64:
		return int64(v)
	case int64:
		return v
	case int:
		return int64(v)
	}
	return -1
}

// userFields returns a shallow copy of d without its system (underscore) fields.
func userFields(d Doc) Doc {
	out := make(Doc, len(d)+6)
	for k, v := range d {
		if !IsSystemField(k) {
			out[k] = v
		}
	}
	return out
}
