package query

// Condition is what the top-level AND of a query requires of one top-level field, for an
// index planner. Every document the Matcher accepts satisfies each Condition, so a planner may
// fetch candidates through an index and must still run Match on them.
//
// A field's value satisfies the condition if it, or (for an array) one of its elements, is
// one of Eq (when Eq is non-nil) or lies within the bounds that are set. A Condition carries
// either Eq or bounds, taken from one operator, so one value meets it as a whole. Values are non-null
// scalars (float64, string, bool) or time.Time for {"$date": …} operands; a time bound matches
// ISO-8601 strings by time, which a string-ordered index cannot serve, so planners should
// skip such bounds.
type Condition struct {
	Field string
	// Eq holds the allowed values of an equality or $in; nil means no equality condition.
	Eq []any
	// Low and High bound a range; nil means unbounded. LowIncl and HighIncl say whether the
	// bound itself matches.
	Low, High         any
	LowIncl, HighIncl bool
}

// Conditions returns the index-usable conditions on top-level (undotted) fields from the
// query's top-level AND: equality, $eq, $in, $gt, $gte, $lt, $lte and $bt with non-null scalar
// or date operands. Anything else (negations, $or, objects, arrays, null) yields nothing for
// that operator; the result can be empty.
func (m *Matcher) Conditions() []Condition {
	if m == nil {
		return nil
	}
	var out []Condition
	for _, f := range m.top {
		if len(f.parts) != 1 {
			continue
		}
		c := Condition{Field: f.path}
		if !addCondition(&c, f.pred) {
			continue
		}
		out = append(out, c)
	}
	return out
}

// indexable returns the operand as an index key value, or false for null, objects and arrays,
// whose matching rules an index of scalars cannot reproduce.
func indexable(o operand) (any, bool) {
	if o.isDate {
		return o.t, true
	}
	switch o.v.(type) {
	case float64, string, bool:
		return o.v, true
	}
	return nil, false
}

// addCondition narrows c by p and reports whether anything usable was found.
func addCondition(c *Condition, p pred) bool {
	switch t := p.(type) {
	case andPred:
		// One operator only: on an array field, {"$gt":1,"$lt":5} may be met by two different
		// elements, so combining their bounds would let an index scan miss documents.
		for _, want := range []func(pred) bool{isEq, isBt, isCmp} {
			for _, sub := range t {
				if want(sub) && addCondition(c, sub) {
					return true
				}
			}
		}
		return false
	case eqPred:
		v, ok := indexable(t.o)
		if !ok || c.Eq != nil {
			return false
		}
		c.Eq = []any{v}
		return true
	case inPred:
		if c.Eq != nil || len(t) == 0 {
			return false
		}
		vals := make([]any, 0, len(t))
		for _, o := range t {
			v, ok := indexable(o)
			if !ok {
				return false
			}
			vals = append(vals, v)
		}
		c.Eq = vals
		return true
	case cmpPred:
		v, ok := indexable(t.o)
		if !ok {
			return false
		}
		switch t.op {
		case "$gt", "$gte":
			if c.Low != nil {
				return false
			}
			c.Low, c.LowIncl = v, t.op == "$gte"
		default:
			if c.High != nil {
				return false
			}
			c.High, c.HighIncl = v, t.op == "$lte"
		}
		return true
	case btPred:
		lo, ok1 := indexable(t.lo)
		hi, ok2 := indexable(t.hi)
		if !ok1 || !ok2 || c.Low != nil || c.High != nil {
			return false
		}
		c.Low, c.LowIncl, c.High, c.HighIncl = lo, true, hi, true
		return true
	}
	return false
}

func isEq(p pred) bool {
	switch p.(type) {
	case eqPred, inPred:
		return true
	}
	return false
}

func isBt(p pred) bool  { _, ok := p.(btPred); return ok }
func isCmp(p pred) bool { _, ok := p.(cmpPred); return ok }
