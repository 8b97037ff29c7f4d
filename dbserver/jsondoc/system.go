package jsondoc

import (
	"slices"
	"strings"
	"time"
)

// System field names: the server keeps them on every document. Every name that starts with
// "_" is reserved, so clients can set none of them (IsSystemField).
const (
	FieldID        = "_id"
	FieldCreated   = "_created"
	FieldChanged   = "_changed"
	FieldCreatedBy = "_createdby"
	FieldChangedBy = "_changedby"
	FieldVersion   = "_version"

	// A child document (restdb.io's parent-child relations) also carries its parent's id,
	// the parent's collection and the parent's child-list field (the child route's <sub>).
	// Unlike the fields above, reads show them always: they are how a client finds the parent.
	FieldParentID    = "_parent_id"
	FieldParentDef   = "_parent_def"
	FieldParentField = "_parent_field"
)

// ParentFields lists the fields that tie a child document to its parent, in a fresh slice.
func ParentFields() []string { return []string{FieldParentID, FieldParentDef, FieldParentField} }

// systemFields are the system fields besides _id; reads hide them unless metafields=true.
var systemFields = []string{FieldCreated, FieldChanged, FieldCreatedBy, FieldChangedBy, FieldVersion}

// SystemFields lists the system fields other than _id, in a fresh slice: the fields a read
// hides unless it asks for metafields.
func SystemFields() []string { return slices.Clone(systemFields) }

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

// UserFields returns a shallow copy of d without its reserved (underscore) fields: what a
// client may set. The copy has room for the system fields the store adds.
func UserFields(d Doc) Doc {
	out := make(Doc, len(d)+len(systemFields)+1)
	for k, v := range d {
		if !IsSystemField(k) {
			out[k] = v
		}
	}
	return out
}

// WithoutSystemFields returns a shallow copy of doc without the system fields other than _id:
// what a read without metafields=true shows.
func WithoutSystemFields(doc Doc) Doc {
	out := make(Doc, len(doc))
	for k, v := range doc {
		out[k] = v
	}
	for _, f := range systemFields {
		delete(out, f)
	}
	return out
}
