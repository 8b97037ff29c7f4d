package query

import (
	"encoding/json"
	"slices"

	"github.com/restkube/restkube/dbserver/jsondoc"
)

// systemFields are the fields a read hides unless metafields=true (package jsondoc).
var systemFields = jsondoc.SystemFields()

// Page is the answer of totals=true.
type Page struct {
	Data   []map[string]any `json:"data"`
	Totals Totals           `json:"totals"`
}

// Totals counts a paged answer: Total matches, Count returned, and the Skip and Max in force.
type Totals struct {
	Total int `json:"total"`
	Count int `json:"count"`
	Skip  int `json:"skip"`
	Max   int `json:"max"`
}

// Result builds the answer from every matching document (system fields included; the slice is
// not modified). It sorts, applies skip and max (not to aggregates), projects with $fields,
// hides system fields unless metafields, and shapes the answer: an array, a Page, a groupby
// map of arrays, or a map of aggregate values (per group with groupby). totals applies only
// to the plain array answer; with groupby or aggregate it is ignored.
func (r *Request) Result(matched []map[string]any) any {
	if len(r.Aggregates) > 0 {
		a := r.NewAggregator(0)
		for _, d := range matched {
			_ = a.Add(d) // without a bound on the groups, Add cannot fail
		}
		return a.Result()
	}
	docs := r.sorted(matched)
	total := len(docs)
	start := min(r.Skip, total)
	end := total
	if r.Max > 0 {
		end = min(start+r.Max, total)
	}
	page := docs[start:end]
	if len(r.GroupBy) > 0 {
		return r.groupDocs(page, r.GroupBy)
	}
	out := make([]map[string]any, len(page))
	for i, d := range page {
		out[i] = r.present(d)
	}
	if r.Totals {
		return Page{Data: out, Totals: Totals{Total: total, Count: len(out), Skip: r.Skip, Max: r.Max}}
	}
	return out
}

// Sorted returns the documents in the request's order (the slice is copied, not reordered).
func (r *Request) sorted(docs []map[string]any) []map[string]any {
	keys := slices.Clone(r.Sort)
	if !slices.ContainsFunc(keys, func(k SortKey) bool { return k.Field == jsondoc.FieldID }) {
		// _id breaks ties so that paging is stable.
		keys = append(keys, SortKey{Field: jsondoc.FieldID, Dir: 1})
	}
	parts := make([][]string, len(keys))
	for i, k := range keys {
		parts[i] = splitPath(k.Field)
	}
	out := slices.Clone(docs)
	slices.SortStableFunc(out, func(a, b map[string]any) int {
		for i, k := range keys {
			if c := Compare(valueAt(a, parts[i]), valueAt(b, parts[i])); c != 0 {
				return c * k.Dir
			}
		}
		return 0
	})
	return out
}

// present projects a document and hides the system fields the caller did not ask for.
func (r *Request) present(doc map[string]any) map[string]any {
	var out map[string]any
	if r.proj != nil {
		out = r.proj.apply(doc)
	} else {
		out = make(map[string]any, len(doc))
		for k, v := range doc {
			out[k] = v
		}
	}
	for _, f := range systemFields {
		v, ok := doc[f]
		switch {
		case !ok:
		case r.Metafields:
			if r.proj == nil || r.proj.keepsSystem(f) {
				out[f] = v
			}
		case r.proj == nil || !r.proj.includes(f):
			delete(out, f)
		}
	}
	return out
}

// groupBy groups docs by their value of field (groupKey), or by a date part of it
// ("$YEAR:field", see parseGroupField; a malformed one was refused by ParseRequest).
func groupBy(docs []map[string]any, field string) map[string][]map[string]any {
	groups := map[string][]map[string]any{}
	g, err := parseGroupField(field)
	if err != nil {
		g = groupField{path: splitPath(field)}
	}
	for _, d := range docs {
		k := g.key(d)
		groups[k] = append(groups[k], d)
	}
	return groups
}

func (r *Request) groupDocs(docs []map[string]any, fields []string) map[string]any {
	groups := groupBy(docs, fields[0])
	out := make(map[string]any, len(groups))
	for k, g := range groups {
		if len(fields) > 1 {
			out[k] = r.groupDocs(g, fields[1:])
			continue
		}
		list := make([]map[string]any, len(g))
		for i, d := range g {
			list[i] = r.present(d)
		}
		out[k] = list
	}
	return out
}

// groupKey names a group: strings as they are, null and missing as "null", anything else as
// its JSON text, so 3 and "3" share a group.
func groupKey(v any) string {
	switch t := v.(type) {
	case nil:
		return "null"
	case string:
		return t
	}
	b, err := jsondoc.AppendJSON(nil, v, true)
	if err != nil {
		return "null"
	}
	return string(b)
}

// projection is a parsed $fields hint.
type projection struct {
	include   bool
	paths     [][]string // never _id
	excludeID bool
}

func parseProjection(raw json.RawMessage) (*projection, error) {
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, errorf("h", "$fields", "must be an object of field: 1 or 0")
	}
	p := &projection{}
	includes, excludes := 0, 0
	idOn := false
	for _, k := range sortedKeys(m) {
		on, ok := truthy(m[k])
		if !ok {
			return nil, errorf(k, "$fields", "must be 1 or 0")
		}
		parts := splitPath(k)
		if slices.Contains(parts, "") {
			return nil, errorf(k, "$fields", "empty field name or path segment")
		}
		if k == jsondoc.FieldID {
			p.excludeID, idOn = !on, on
			continue
		}
		if on {
			includes++
		} else {
			excludes++
		}
		p.paths = append(p.paths, parts)
	}
	if includes > 0 && excludes > 0 {
		return nil, errorf("h", "$fields", "cannot mix included and excluded fields (only _id:0 may be mixed)")
	}
	// {jsondoc.FieldID:1} alone asks for nothing but the id.
	p.include = includes > 0 || idOn && excludes == 0
	if !p.include && len(p.paths) == 0 && !p.excludeID {
		return nil, nil
	}
	return p, nil
}

// includes reports whether an include projection names the top-level field f.
func (p *projection) includes(f string) bool {
	if !p.include {
		return false
	}
	for _, path := range p.paths {
		if path[0] == f {
			return true
		}
	}
	return false
}

// keepsSystem reports whether metafields may show f under this projection: an exclusion
// of f wins.
func (p *projection) keepsSystem(f string) bool {
	if p.include {
		return true
	}
	for _, path := range p.paths {
		if len(path) == 1 && path[0] == f {
			return false
		}
	}
	return true
}

func (p *projection) apply(doc map[string]any) map[string]any {
	var out map[string]any
	if p.include {
		out = map[string]any{}
		if id, ok := doc[jsondoc.FieldID]; ok {
			out[jsondoc.FieldID] = id
		}
		for _, path := range p.paths {
			includePath(doc, out, path)
		}
	} else {
		out = make(map[string]any, len(doc))
		for k, v := range doc {
			out[k] = v
		}
		for _, path := range p.paths {
			excludePath(out, path)
		}
	}
	if p.excludeID {
		delete(out, jsondoc.FieldID)
	}
	return out
}

// includePath copies the value at path from src into dst, building only the containers on the
// way. Through an array it projects each object element (other elements are dropped), so
// several paths into the same array line up by position.
func includePath(src, dst map[string]any, path []string) {
	v, ok := src[path[0]]
	if !ok {
		return
	}
	if len(path) == 1 {
		dst[path[0]] = v
		return
	}
	switch t := v.(type) {
	case map[string]any:
		sub, ok := dst[path[0]].(map[string]any)
		if !ok {
			sub = map[string]any{}
			dst[path[0]] = sub
		}
		includePath(t, sub, path[1:])
	case []any:
		var objs []map[string]any
		for _, e := range t {
			if m, ok := e.(map[string]any); ok {
				objs = append(objs, m)
			}
		}
		arr, ok := dst[path[0]].([]any)
		if !ok || len(arr) != len(objs) {
			arr = make([]any, len(objs))
			for i := range arr {
				arr[i] = map[string]any{}
			}
			dst[path[0]] = arr
		}
		for i, m := range objs {
			includePath(m, arr[i].(map[string]any), path[1:])
		}
	}
}

// excludePath removes path from m, copying each nested container it changes so the stored
// document is never modified.
func excludePath(m map[string]any, path []string) {
	if len(path) == 1 {
		delete(m, path[0])
		return
	}
	switch t := m[path[0]].(type) {
	case map[string]any:
		c := make(map[string]any, len(t))
		for k, v := range t {
			c[k] = v
		}
		excludePath(c, path[1:])
		m[path[0]] = c
	case []any:
		c := make([]any, len(t))
		for i, e := range t {
			if em, ok := e.(map[string]any); ok {
				ec := make(map[string]any, len(em))
				for k, v := range em {
					ec[k] = v
				}
				excludePath(ec, path[1:])
				c[i] = ec
			} else {
				c[i] = e
			}
		}
		m[path[0]] = c
	}
}
