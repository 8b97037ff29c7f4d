package query

import (
	"slices"

	"github.com/restkube/restkube/dbserver/jsondoc"
)

// What an index planner and an index maintainer need from the query language: the conditions
// an index may serve (dot paths included), the fields a match reads, and the values a path
// reaches in a document under exactly the rules Match and Result use.

// IndexConditions is Conditions extended to dot paths ("address.city", "tags.0"): the same
// one-operator conditions from the query's top-level AND, for every field path. A dotted
// condition holds for a document when one of PathValues(doc, path), or one element of such a
// value that is an array, satisfies it, which is how an index built from PathValues finds it.
func (m *Matcher) IndexConditions() []Condition {
	if m == nil {
		return nil
	}
	var out []Condition
	for _, f := range m.top {
		c := Condition{Field: f.path}
		if addCondition(&c, f.pred) {
			out = append(out, c)
		}
	}
	return out
}

// Fields returns the top-level field names whose values decide Match, so a scan can decode
// only those fields of each document before matching. ok is false when the query reads
// something it cannot name, and the whole document is needed. An empty query needs no field.
func (m *Matcher) Fields() (fields []string, ok bool) {
	if m == nil || m.root == nil {
		return nil, true
	}
	seen := map[string]bool{}
	if !collectFields(m.root, seen) {
		return nil, false
	}
	for f := range seen {
		fields = append(fields, f)
	}
	return fields, true
}

func collectFields(n node, seen map[string]bool) bool {
	switch t := n.(type) {
	case andNode:
		for _, s := range t {
			if !collectFields(s, seen) {
				return false
			}
		}
		return true
	case orNode:
		for _, s := range t {
			if !collectFields(s, seen) {
				return false
			}
		}
		return true
	case notNode:
		return collectFields(t.n, seen)
	case *fieldNode:
		// $elemMatch queries below a field read only inside that field's value.
		seen[t.parts[0]] = true
		return true
	}
	return false
}

// PathValues returns the present values a dot path reaches in doc, as the matcher sees them
// (fanning out over arrays of objects, indexing arrays by numeric segments); missing branches
// are left out.
func PathValues(doc map[string]any, path string) []any {
	vals := lookup(doc, splitPath(path), nil)
	out := vals[:0]
	for _, v := range vals {
		if v != missing {
			out = append(out, v)
		}
	}
	return out
}

// SortValue returns the value Result sorts doc by for path: the one value reached, an array of
// them when the path fans out, or nil when nothing is there.
func SortValue(doc map[string]any, path string) any {
	return valueAt(doc, splitPath(path))
}

// SortFields returns the top-level fields the request's order reads, _id included.
func (r *Request) SortFields() []string {
	out := []string{jsondoc.FieldID}
	for _, k := range r.Sort {
		f := splitPath(k.Field)[0]
		if !slices.Contains(out, f) {
			out = append(out, f)
		}
	}
	return out
}

// PageOf orders the matching documents as Result does and returns those of the page (after
// skip and max), with the number of matches. The documents need only hold SortFields.
func (r *Request) PageOf(matched []map[string]any) (page []map[string]any, total int) {
	docs := r.sorted(matched)
	total = len(docs)
	start := min(r.Skip, total)
	end := total
	if r.Max > 0 {
		end = min(start+r.Max, total)
	}
	return docs[start:end], total
}
