package query

import (
	"slices"
	"strings"

	"github.com/restkube/restkube/dbserver/jsondoc"
)

// What a planner needs to write an answer one document at a time (or fold it into aggregates)
// instead of handing Result every match: which documents the answer holds, the fields it
// reads, and how each document is presented and grouped.

// DefaultMaxGroups bounds the groups an aggregate answer may hold (Options.MaxGroups): its
// memory grows with them, not with the matches.
const DefaultMaxGroups = 10000

// Paged reports whether the answer holds documents (a page, with or without $fields, or
// groupby alone): PageOf picks them and Present shapes each, so a planner can write them from
// stored documents one at a time. Aggregate answers are not paged (see Aggregator).
func (r *Request) Paged() bool { return len(r.Aggregates) == 0 }

// Projected reports whether $fields projects the documents: Present then needs the whole
// document.
func (r *Request) Projected() bool { return r.proj != nil }

// PresentFields returns the top-level fields Present reads under an including $fields
// projection (_id and the system fields among them), so a document decoded with only these is
// presented as the whole would be; ok is false when Present needs the whole document.
func (r *Request) PresentFields() (fields []string, ok bool) {
	if r.proj == nil || !r.proj.include {
		return nil, false
	}
	fields = append([]string{jsondoc.FieldID}, systemFields...)
	for _, p := range r.proj.paths {
		if !slices.Contains(fields, p[0]) {
			fields = append(fields, p[0])
		}
	}
	return fields, true
}

// PresentKeeps returns, for an including $fields projection of top-level fields only, the
// top-level fields Present keeps of a document (_id unless excluded, the included fields, the
// system fields under metafields): the document's other fields dropped is its presentation.
// ok is false for any other projection, or none.
func (r *Request) PresentKeeps() (keep []string, ok bool) {
	if r.proj == nil || !r.proj.include {
		return nil, false
	}
	if !r.proj.excludeID {
		keep = append(keep, jsondoc.FieldID)
	}
	for _, p := range r.proj.paths {
		if len(p) != 1 {
			return nil, false
		}
		keep = append(keep, p[0])
	}
	if r.Metafields {
		keep = append(keep, systemFields...)
	}
	return keep, true
}

// Present is how the answer shows doc (a whole document, system fields included, not
// modified): projected with $fields, without the system fields metafields did not ask for.
func (r *Request) Present(doc map[string]any) map[string]any { return r.present(doc) }

// GroupKeys appends to dst the group doc falls in at each level of groupby (Result's keys).
func (r *Request) GroupKeys(dst []string, doc map[string]any) []string {
	if len(r.groupFields) != len(r.GroupBy) {
		r.groupFields = r.groupFields[:0]
		for _, f := range r.GroupBy {
			g, err := parseGroupField(f)
			if err != nil {
				g = groupField{path: splitPath(f)}
			}
			r.groupFields = append(r.groupFields, g)
		}
	}
	for _, g := range r.groupFields {
		dst = append(dst, g.key(doc))
	}
	return dst
}

// GroupFields returns the top-level fields GroupKeys reads.
func (r *Request) GroupFields() []string {
	var out []string
	for _, f := range r.GroupBy {
		if g, err := parseGroupField(f); err == nil && len(g.path) > 0 && !slices.Contains(out, g.path[0]) {
			out = append(out, g.path[0])
		}
	}
	return out
}

// AnswerFields returns the top-level fields the answer reads beyond the query's conditions:
// the sort's (_id included), groupby's and the aggregates'. A document decoded with only these
// (and the conditions') fields gives PageOf, GroupKeys and Aggregator what the whole would.
func (r *Request) AnswerFields() []string {
	out := r.SortFields()
	add := func(path []string) {
		if len(path) > 0 && !slices.Contains(out, path[0]) {
			out = append(out, path[0])
		}
	}
	for _, f := range r.GroupBy {
		if g, err := parseGroupField(f); err == nil {
			add(g.path)
		}
	}
	for _, a := range r.Aggregates {
		add(splitPath(a.Field))
	}
	return out
}

// Aggregator folds matching documents, one at a time, into the answer of an aggregate request
// (with or without groupby): it keeps one set of running values per group, never the
// documents, so its memory grows with the groups. Result gives what Request.Result would for
// the same documents in the same order.
type Aggregator struct {
	r      *Request
	fields []groupField
	parts  [][]string // the aggregates' paths
	root   *aggGroup
	groups int
	max    int
}

type aggGroup struct {
	sub   map[string]*aggGroup
	count int
	acc   []aggAcc
}

type aggAcc struct {
	sum, lo, hi float64
	n           int
}

// NewAggregator starts the aggregates of r; past maxGroups groups (0: no bound) Add fails with
// an *Error naming groupby.
func (r *Request) NewAggregator(maxGroups int) *Aggregator {
	a := &Aggregator{r: r, max: maxGroups, root: &aggGroup{}}
	for _, f := range r.GroupBy {
		g, err := parseGroupField(f)
		if err != nil {
			g = groupField{path: splitPath(f)}
		}
		a.fields = append(a.fields, g)
	}
	for _, ag := range r.Aggregates {
		a.parts = append(a.parts, splitPath(ag.Field))
	}
	return a
}

// Add folds one matching document in.
func (a *Aggregator) Add(doc map[string]any) error {
	g := a.root
	for _, f := range a.fields {
		k := f.key(doc)
		next, ok := g.sub[k]
		if !ok {
			if a.max > 0 && a.groups >= a.max {
				return errorf("groupby", "", "the answer would have more than %d groups; narrow the query (q) or group by a coarser field", a.max)
			}
			if g.sub == nil {
				g.sub = map[string]*aggGroup{}
			}
			next = &aggGroup{}
			g.sub[k] = next
			a.groups++
		}
		g = next
	}
	g.count++
	if g.acc == nil {
		g.acc = make([]aggAcc, len(a.parts))
	}
	for i, ag := range a.r.Aggregates {
		if ag.Fn == "COUNT" {
			continue
		}
		x, ok := Number(valueAt(doc, a.parts[i]))
		if !ok {
			continue
		}
		c := &g.acc[i]
		if c.n == 0 || x < c.lo {
			c.lo = x
		}
		if c.n == 0 || x > c.hi {
			c.hi = x
		}
		c.sum += x
		c.n++
	}
	return nil
}

// Result is the answer: the aggregate values, per group (nested per groupby level) with groupby.
func (a *Aggregator) Result() map[string]any { return a.result(a.root, 0) }

func (a *Aggregator) result(g *aggGroup, level int) map[string]any {
	if level < len(a.fields) {
		out := make(map[string]any, len(g.sub))
		for k, s := range g.sub {
			out[k] = a.result(s, level+1)
		}
		return out
	}
	out := make(map[string]any, len(a.r.Aggregates))
	for i, ag := range a.r.Aggregates {
		if ag.Fn == "COUNT" {
			out[ag.Label()] = g.count
			continue
		}
		var c aggAcc
		if g.acc != nil {
			c = g.acc[i]
		}
		var v any
		switch ag.Fn {
		case "SUM":
			v = c.sum
		case "AVG":
			if c.n > 0 {
				v = c.sum / float64(c.n)
			}
		case "MIN":
			if c.n > 0 {
				v = c.lo
			}
		case "MAX":
			if c.n > 0 {
				v = c.hi
			}
		}
		out[ag.Label()] = v
	}
	return out
}

// MatchesFilterRaw is the filter of Matches tested on a document's stored JSON without decoding
// it (jsondoc.EachString): every word occurs, case-insensitively, in some string value of the
// document's own fields. ASCII strings are compared in place; others are lower-cased as
// matchesFilter lower-cases them.
func (r *Request) MatchesFilterRaw(raw []byte) (bool, error) {
	words := r.Filter
	if len(words) == 0 {
		return true, nil
	}
	var few [8]bool
	found := few[:0]
	if len(words) > len(few) {
		found = make([]bool, len(words))
	} else {
		found = few[:len(words)]
	}
	left := len(words)
	err := jsondoc.EachString(raw, func(s []byte) bool {
		ascii := isASCII(s)
		var lower string
		lowered := false
		for i, w := range words {
			if found[i] {
				continue
			}
			var hit bool
			if ascii {
				hit = containsFoldASCII(s, w)
			} else {
				if !lowered {
					lower, lowered = strings.ToLower(string(s)), true
				}
				hit = strings.Contains(lower, w)
			}
			if hit {
				found[i] = true
				left--
			}
		}
		return left > 0
	})
	if err != nil {
		return false, err
	}
	return left == 0, nil
}

func isASCII(b []byte) bool {
	for _, c := range b {
		if c >= 0x80 {
			return false
		}
	}
	return true
}

// containsFoldASCII reports whether the ASCII bytes s, lower-cased, contain w (lower-cased
// already; a w with non-ASCII bytes is never in ASCII s).
func containsFoldASCII(s []byte, w string) bool {
	m := len(w)
outer:
	for i := 0; i+m <= len(s); i++ {
		for j := 0; j < m; j++ {
			c := s[i+j]
			if 'A' <= c && c <= 'Z' {
				c += 'a' - 'A'
			}
			if c != w[j] {
				continue outer
			}
		}
		return true
	}
	return false
}
