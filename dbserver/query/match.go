package query

import (
	"bytes"
	"encoding/json"
	"math"
	"regexp"
	"slices"
	"strings"
	"time"
)

// maxDepth bounds the nesting of $and/$or/$not/$elemMatch so a hostile query cannot make
// parsing or matching recurse without limit.
const maxDepth = 64

// Matcher is a parsed q, built once and evaluated against many documents. It is immutable
// and safe for concurrent use.
type Matcher struct {
	root node
	// top holds the top-level field conditions, for Conditions.
	top []*fieldNode
}

// node is one boolean test of a whole document (or of an array element under $elemMatch).
type node interface {
	match(doc map[string]any) bool
}

// Parse parses a JSON query. An empty (or all white space) q, or null, matches every document.
// Date macros are evaluated against now, once. Errors are *Error naming the field or operator.
func Parse(q []byte, now time.Time) (*Matcher, error) {
	q = bytes.TrimSpace(q)
	if len(q) == 0 || string(q) == "null" {
		return &Matcher{root: andNode(nil)}, nil
	}
	var v any
	if err := json.Unmarshal(q, &v); err != nil {
		return nil, errorf("q", "", "malformed JSON query: %v", err)
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, errorf("q", "", "the query must be a JSON object")
	}
	p := parser{now: now}
	root, err := p.query(m, 0)
	if err != nil {
		return nil, err
	}
	mt := &Matcher{root: root}
	switch t := root.(type) {
	case *fieldNode:
		mt.top = []*fieldNode{t}
	case andNode:
		for _, n := range t {
			if f, ok := n.(*fieldNode); ok {
				mt.top = append(mt.top, f)
			}
		}
	}
	return mt, nil
}

// MatchesAll reports whether the query has no condition at all ({} or none), so that every
// document matches without being looked at.
func (m *Matcher) MatchesAll() bool {
	if m == nil || m.root == nil {
		return true
	}
	and, ok := m.root.(andNode)
	return ok && len(and) == 0
}

// Match reports whether doc satisfies the query.
func (m *Matcher) Match(doc map[string]any) bool {
	if m == nil || m.root == nil {
		return true
	}
	return m.root.match(doc)
}

type parser struct {
	now time.Time
}

// query parses a query object: fields ANDed together, plus $and, $or, $nor and $not.
func (p *parser) query(m map[string]any, depth int) (node, error) {
	if depth > maxDepth {
		return nil, errorf("q", "", "query nested deeper than %d levels", maxDepth)
	}
	var and andNode
	for _, k := range sortedKeys(m) {
		v := m[k]
		switch {
		case k == "$and" || k == "$or" || k == "$nor":
			list, ok := v.([]any)
			if !ok || len(list) == 0 {
				return nil, errorf("", k, "needs a non-empty array of queries")
			}
			subs := make([]node, 0, len(list))
			for _, e := range list {
				sm, ok := e.(map[string]any)
				if !ok {
					return nil, errorf("", k, "every element must be a query object")
				}
				n, err := p.query(sm, depth+1)
				if err != nil {
					return nil, err
				}
				subs = append(subs, n)
			}
			switch k {
			case "$and":
				and = append(and, andNode(subs))
			case "$or":
				and = append(and, orNode(subs))
			default:
				and = append(and, notNode{orNode(subs)})
			}
		case k == "$not":
			sm, ok := v.(map[string]any)
			if !ok {
				return nil, errorf("", k, "needs a query object")
			}
			n, err := p.query(sm, depth+1)
			if err != nil {
				return nil, err
			}
			and = append(and, notNode{n})
		case strings.HasPrefix(k, "$"):
			return nil, errorf("", k, "unknown operator")
		default:
			parts := splitPath(k)
			if slices.Contains(parts, "") {
				return nil, errorf(k, "", "empty field name or path segment")
			}
			pred, err := p.fieldExpr(k, v, depth)
			if err != nil {
				return nil, err
			}
			and = append(and, &fieldNode{path: k, parts: parts, pred: pred})
		}
	}
	if len(and) == 1 {
		return and[0], nil
	}
	return and, nil
}

// isOperatorObject reports whether v is an object of operators ({"$gt":1}); an object mixing
// operators and plain keys is an error, since neither reading is what the client meant.
func isOperatorObject(field string, v any) (map[string]any, bool, error) {
	m, ok := v.(map[string]any)
	if !ok || len(m) == 0 {
		return nil, false, nil
	}
	ops, plain := 0, ""
	for k := range m {
		if strings.HasPrefix(k, "$") {
			ops++
		} else {
			plain = k
		}
	}
	switch {
	case ops == 0:
		return nil, false, nil
	case ops < len(m):
		return nil, false, errorf(field, "", "operators mixed with the plain key %q", plain)
	}
	return m, true, nil
}

// fieldExpr parses what a field is tested against: a literal (equality), {"$date": …}, or an
// object of operators that must all hold.
func (p *parser) fieldExpr(field string, v any, depth int) (pred, error) {
	if depth > maxDepth {
		return nil, errorf(field, "", "query nested deeper than %d levels", maxDepth)
	}
	if _, isDate := dateOperand(v); !isDate {
		ops, isOps, err := isOperatorObject(field, v)
		if err != nil {
			return nil, err
		}
		if isOps {
			return p.operators(field, ops, depth)
		}
	}
	o, err := p.operand(field, v)
	if err != nil {
		return nil, err
	}
	return eqPred{o}, nil
}

// operand parses a value to compare with: {"$date": …} is a date, anything else is itself.
func (p *parser) operand(field string, v any) (operand, error) {
	if d, ok := dateOperand(v); ok {
		t, err := parseDate(field, d, p.now)
		if err != nil {
			return operand{}, err
		}
		return operand{isDate: true, t: t}, nil
	}
	return operand{v: v}, nil
}

func (p *parser) operators(field string, ops map[string]any, depth int) (pred, error) {
	var all andPred
	for _, op := range sortedKeys(ops) {
		v := ops[op]
		switch op {
		case "$eq", "$ne":
			o, err := p.operand(field, v)
			if err != nil {
				return nil, err
			}
			if op == "$eq" {
				all = append(all, eqPred{o})
			} else {
				all = append(all, notPred{eqPred{o}})
			}
		case "$gt", "$gte", "$lt", "$lte":
			o, err := p.operand(field, v)
			if err != nil {
				return nil, err
			}
			all = append(all, cmpPred{op: op, o: o})
		case "$bt":
			list, ok := v.([]any)
			if !ok || len(list) != 2 {
				return nil, errorf(field, op, "needs an array [low, high]")
			}
			lo, err := p.operand(field, list[0])
			if err != nil {
				return nil, err
			}
			hi, err := p.operand(field, list[1])
			if err != nil {
				return nil, err
			}
			all = append(all, btPred{lo: lo, hi: hi})
		case "$in", "$nin":
			list, ok := v.([]any)
			if !ok {
				return nil, errorf(field, op, "needs an array")
			}
			in := inPred{}
			for _, e := range list {
				o, err := p.operand(field, e)
				if err != nil {
					return nil, err
				}
				in = append(in, o)
			}
			if op == "$in" {
				all = append(all, in)
			} else {
				all = append(all, notPred{in})
			}
		case "$exists":
			want, ok := truthy(v)
			if !ok {
				return nil, errorf(field, op, "needs true or false")
			}
			if want {
				all = append(all, existsPred{})
			} else {
				all = append(all, notPred{existsPred{}})
			}
		case "$regex":
			re, err := compileRegex(field, v, ops["$options"])
			if err != nil {
				return nil, err
			}
			all = append(all, regexPred{re})
		case "$options":
			if _, ok := ops["$regex"]; !ok {
				return nil, errorf(field, op, "is only allowed beside $regex")
			}
		case "$size":
			n, ok := Number(v)
			if !ok || n < 0 || n != math.Trunc(n) {
				return nil, errorf(field, op, "needs a non-negative integer")
			}
			all = append(all, sizePred(int(n)))
		case "$not":
			// MongoDB's $not takes operators ({"$not":{"$gt":5}}); a plain value would make it
			// a silent $ne, so it is refused.
			if _, isOps, err := isOperatorObject(field, v); err != nil {
				return nil, err
			} else if !isOps {
				return nil, errorf(field, op, `needs an object of operators, such as {"$not":{"$gt":5}}; use $ne for a value`)
			}
			inner, err := p.fieldExpr(field, v, depth+1)
			if err != nil {
				return nil, err
			}
			all = append(all, notPred{inner})
		case "$elemMatch":
			em, err := p.elemMatch(field, v, depth+1)
			if err != nil {
				return nil, err
			}
			all = append(all, em)
		default:
			return nil, errorf(field, op, "unknown operator")
		}
	}
	if len(all) == 1 {
		return all[0], nil
	}
	return all, nil
}

// elemMatch parses $elemMatch: an object of operators tests each element as a value
// ({"$gte":80}); anything else is a query run against each object element.
func (p *parser) elemMatch(field string, v any, depth int) (pred, error) {
	m, ok := v.(map[string]any)
	if !ok {
		return nil, errorf(field, "$elemMatch", "needs an object")
	}
	valueMode := len(m) > 0
	for k := range m {
		if !strings.HasPrefix(k, "$") || k == "$and" || k == "$or" || k == "$nor" {
			valueMode = false
		}
	}
	if valueMode {
		inner, err := p.operators(field, m, depth)
		if err != nil {
			return nil, err
		}
		return elemMatchPred{value: inner}, nil
	}
	q, err := p.query(m, depth)
	if err != nil {
		return nil, err
	}
	return elemMatchPred{doc: q}, nil
}

func compileRegex(field string, pattern, options any) (*regexp.Regexp, error) {
	s, ok := pattern.(string)
	if !ok {
		return nil, errorf(field, "$regex", "needs a string pattern")
	}
	flags := ""
	if options != nil {
		o, ok := options.(string)
		if !ok {
			return nil, errorf(field, "$options", "needs a string such as \"i\"")
		}
		for _, c := range o {
			switch c {
			case 'i', 'm', 's':
				if !strings.ContainsRune(flags, c) {
					flags += string(c)
				}
			default:
				return nil, errorf(field, "$options", "unsupported option %q (use i, m or s)", c)
			}
		}
	}
	if flags != "" {
		s = "(?" + flags + ")" + s
	}
	re, err := regexp.Compile(s)
	if err != nil {
		return nil, errorf(field, "$regex", "invalid pattern: %v", err)
	}
	return re, nil
}

func truthy(v any) (bool, bool) {
	switch t := v.(type) {
	case bool:
		return t, true
	case float64:
		return t != 0, true
	}
	return false, false
}

// Document-level nodes.

type andNode []node

func (a andNode) match(doc map[string]any) bool {
	for _, n := range a {
		if !n.match(doc) {
			return false
		}
	}
	return true
}

type orNode []node

func (o orNode) match(doc map[string]any) bool {
	for _, n := range o {
		if n.match(doc) {
			return true
		}
	}
	return false
}

type notNode struct{ n node }

func (n notNode) match(doc map[string]any) bool { return !n.n.match(doc) }

// fieldNode tests the values a path reaches in the document.
type fieldNode struct {
	path  string
	parts []string
	pred  pred
}

func (f *fieldNode) match(doc map[string]any) bool {
	var buf [1]any
	if len(f.parts) == 1 {
		v, ok := doc[f.path]
		if !ok {
			v = missing
		}
		buf[0] = v
		return f.pred.test(buf[:])
	}
	return f.pred.test(lookup(doc, f.parts, buf[:0]))
}

// Value-level predicates. test gets every value the path reached (missing included).

type pred interface {
	test(vals []any) bool
}

// anyValue applies MongoDB's array rule: a value matches if it, or one of its elements, does.
func anyValue(vals []any, f func(any) bool) bool {
	for _, v := range vals {
		if f(v) {
			return true
		}
		if arr, ok := v.([]any); ok {
			for _, e := range arr {
				if f(e) {
					return true
				}
			}
		}
	}
	return false
}

// operand is a value from the query: a JSON value, or a date from {"$date": …}.
type operand struct {
	v      any
	isDate bool
	t      time.Time
}

func (o operand) equal(v any) bool {
	if o.isDate {
		t, ok := docTime(v)
		return ok && t.Equal(o.t)
	}
	return equal(v, o.v)
}

// compare orders v against the operand, reporting false when type bracketing rules the pair
// out (a number is never greater than a string).
func (o operand) compare(v any) (int, bool) {
	if o.isDate {
		t, ok := docTime(v)
		if !ok {
			return 0, false
		}
		return t.Compare(o.t), true
	}
	if rank(v) != rank(o.v) {
		return 0, false
	}
	return Compare(v, o.v), true
}

// docTime reads a document value as a date: only ISO-8601 strings are dates.
func docTime(v any) (time.Time, bool) {
	s, ok := v.(string)
	if !ok {
		return time.Time{}, false
	}
	return parseISO(s)
}

type eqPred struct{ o operand }

func (p eqPred) test(vals []any) bool { return anyValue(vals, p.o.equal) }

type cmpPred struct {
	op string
	o  operand
}

func (p cmpPred) test(vals []any) bool {
	return anyValue(vals, func(v any) bool {
		c, ok := p.o.compare(v)
		if !ok {
			return false
		}
		switch p.op {
		case "$gt":
			return c > 0
		case "$gte":
			return c >= 0
		case "$lt":
			return c < 0
		}
		return c <= 0
	})
}

type btPred struct{ lo, hi operand }

func (p btPred) test(vals []any) bool {
	return anyValue(vals, func(v any) bool {
		c, ok := p.lo.compare(v)
		if !ok || c < 0 {
			return false
		}
		c, ok = p.hi.compare(v)
		return ok && c <= 0
	})
}

type inPred []operand

func (p inPred) test(vals []any) bool {
	return anyValue(vals, func(v any) bool {
		for _, o := range p {
			if o.equal(v) {
				return true
			}
		}
		return false
	})
}

type existsPred struct{}

func (existsPred) test(vals []any) bool {
	for _, v := range vals {
		if v != missing {
			return true
		}
	}
	return false
}

type regexPred struct{ re *regexp.Regexp }

func (p regexPred) test(vals []any) bool {
	return anyValue(vals, func(v any) bool {
		s, ok := v.(string)
		return ok && p.re.MatchString(s)
	})
}

type sizePred int

func (p sizePred) test(vals []any) bool {
	for _, v := range vals {
		if arr, ok := v.([]any); ok && len(arr) == int(p) {
			return true
		}
	}
	return false
}

type elemMatchPred struct {
	value pred // operator form: each element is tested as a value
	doc   node // query form: each object element is tested as a document
}

func (p elemMatchPred) test(vals []any) bool {
	for _, v := range vals {
		arr, ok := v.([]any)
		if !ok {
			continue
		}
		for _, e := range arr {
			if p.value != nil {
				if p.value.test([]any{e}) {
					return true
				}
				continue
			}
			if m, ok := e.(map[string]any); ok && p.doc.match(m) {
				return true
			}
		}
	}
	return false
}

type notPred struct{ p pred }

func (n notPred) test(vals []any) bool { return !n.p.test(vals) }

type andPred []pred

func (a andPred) test(vals []any) bool {
	for _, p := range a {
		if !p.test(vals) {
			return false
		}
	}
	return true
}
