package planner

import (
	"encoding/json"
	"fmt"
	"slices"

	"github.com/restkube/restkube/dbserver/jsondoc"
	"github.com/restkube/restkube/dbserver/store"
)

// Get answers a read of one document by id (GET /rest/<collection>/<id>) and returns the
// answer and the document's _version (its ETag). A document that is missing, or that
// opts.Allow refuses, is store.ErrNotFound: a caller cannot tell the two apart.
//
// Without metafields, the answer is the stored JSON without the hidden system fields
// (json.RawMessage): only _version and the fields Allow reads are decoded. With metafields it
// is the whole document, decoded (store.Doc). opts.Buffer is not used.
func Get(st *store.Store, coll, id string, metafields bool, opts Options) (any, int64, error) {
	oid, err := store.ParseObjectID(id)
	if err != nil {
		return nil, 0, fmt.Errorf("planner: reading %s/%s: %w", coll, id, store.ErrNotFound)
	}
	var (
		out     any
		version int64
	)
	err = st.View(func(sn *store.Snapshot) error {
		raw := sn.Raw(coll, oid[:])
		if raw == nil {
			return store.ErrNotFound
		}
		if metafields {
			d, err := jsondoc.DecodeDoc(raw)
			if err != nil {
				return store.Corrupt(coll, raw, err)
			}
			if opts.Allow != nil && !opts.Allow(d) {
				return store.ErrNotFound
			}
			out, version = d, jsondoc.Version(d)
			return nil
		}
		// The common read answers from the stored bytes: only _version (the ETag) and the
		// fields Allow reads are decoded, the rest is copied without the hidden system fields.
		meta, err := decodeMeta(raw, opts)
		if err != nil {
			return store.Corrupt(coll, raw, err)
		}
		if opts.Allow != nil && !opts.Allow(meta) {
			return store.ErrNotFound
		}
		version = jsondoc.Version(meta)
		// Copied, not decoded: checked first, so that what is sent is what a decoding
		// read would accept, and one that does not decode is refused as the other reads refuse it.
		if err := jsondoc.CheckDoc(raw); err != nil {
			return store.Corrupt(coll, raw, err)
		}
		b, err := jsondoc.AppendObjectWithout(make([]byte, 0, len(raw)), raw, jsondoc.SystemFields())
		out = json.RawMessage(b)
		return store.Corrupt(coll, raw, err)
	})
	if err != nil {
		return nil, 0, fmt.Errorf("planner: reading %s/%s: %w", coll, id, err)
	}
	return out, version, nil
}

// decodeMeta decodes what a by-id read needs: _version and the fields Allow reads (the whole
// document when Allow names none).
func decodeMeta(raw []byte, opts Options) (store.Doc, error) {
	switch {
	case opts.Allow == nil:
		return jsondoc.DecodeFields(raw, []string{jsondoc.FieldVersion})
	case opts.AllowFields == nil:
		return jsondoc.DecodeDoc(raw)
	}
	return jsondoc.DecodeFields(raw, append(slices.Clone(opts.AllowFields), jsondoc.FieldVersion))
}
