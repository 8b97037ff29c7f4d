package query

import (
	"bytes"
	"encoding/json"
	"math"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/restkube/restkube/dbserver/jsondoc"
)

// Defaults of restdb.io's query parameters.
const (
	defaultMaxPageSize = 10000
	defaultMax         = 1000
)

// SortKey is one sort criterion; Dir is 1 (ascending) or -1 (descending).
type SortKey struct {
	Field string
	Dir   int
}

// Options bounds a request; zero values take the defaults above.
type Options struct {
	// Now is the instant date macros are evaluated against (zero means time.Now()).
	Now time.Time
	// MaxPageSize clamps max (0 means 10000).
	MaxPageSize int
	// DefaultMax is max when the request gives none (0 means 1000).
	DefaultMax int
}

// Aggregate is one aggregate=FN:field; Fn is SUM, AVG, MIN, MAX or COUNT.
type Aggregate struct{ Fn, Field string }

// Label is the key the aggregate's value has in the answer ("SUM:n").
func (a Aggregate) Label() string { return a.Fn + ":" + a.Field }

// Request is everything a GET /rest/<collection> asks, parsed and validated.
type Request struct {
	Match      *Matcher
	Filter     []string // lower-cased words, all of which must occur
	Sort       []SortKey
	Skip, Max  int
	Totals     bool
	Metafields bool
	GroupBy    []string
	Aggregates []Aggregate

	proj *projection
	// groupFields are GroupBy parsed, once GroupKeys needs them.
	groupFields []groupField
}

// ParseRequest parses the query-string parameters of a collection GET: q, h, filter, sort,
// dir, skip, max, totals, metafields, groupby and aggregate. Hints in h override sort, dir,
// max and skip. Errors are *Error naming the parameter or operator at fault.
func ParseRequest(v url.Values, opts Options) (*Request, error) {
	if opts.Now.IsZero() {
		opts.Now = time.Now()
	}
	if opts.MaxPageSize <= 0 {
		opts.MaxPageSize = defaultMaxPageSize
	}
	if opts.DefaultMax <= 0 {
		opts.DefaultMax = defaultMax
	}
	r := &Request{Max: min(opts.DefaultMax, opts.MaxPageSize)}
	var err error
	if r.Match, err = Parse([]byte(v.Get("q")), opts.Now); err != nil {
		return nil, err
	}
	for _, w := range strings.Fields(strings.Join(v["filter"], " ")) {
		r.Filter = append(r.Filter, strings.ToLower(w))
	}
	if r.Sort, err = parseSort(v["sort"], v["dir"]); err != nil {
		return nil, err
	}
	if s := v.Get("skip"); s != "" {
		if r.Skip, err = parseSkip(s); err != nil {
			return nil, err
		}
	}
	if s := v.Get("max"); s != "" {
		if r.Max, err = parseMax(s, opts.MaxPageSize); err != nil {
			return nil, err
		}
	}
	if r.Totals, err = parseBool("totals", v.Get("totals")); err != nil {
		return nil, err
	}
	if r.Metafields, err = parseBool("metafields", v.Get("metafields")); err != nil {
		return nil, err
	}
	for _, g := range v["groupby"] {
		if g = strings.TrimSpace(g); g != "" {
			r.GroupBy = append(r.GroupBy, g)
		}
	}
	for _, a := range v["aggregate"] {
		agg, err := parseAggregate(a)
		if err != nil {
			return nil, err
		}
		r.Aggregates = append(r.Aggregates, agg)
	}
	if h := strings.TrimSpace(v.Get("h")); h != "" {
		if err := r.applyHints([]byte(h), opts); err != nil {
			return nil, err
		}
	}
	if err := checkGroupBy(r.GroupBy); err != nil {
		return nil, err
	}
	if len(r.Sort) == 0 {
		r.Sort = []SortKey{{Field: jsondoc.FieldID, Dir: 1}}
	}
	return r, nil
}

// Matches reports whether doc satisfies q and every filter word.
func (r *Request) Matches(doc map[string]any) bool {
	return r.Match.Match(doc) && matchesFilter(doc, r.Filter)
}

func parseSort(fields, dirs []string) ([]SortKey, error) {
	var keys []SortKey
	for i, f := range fields {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		dir := 1
		if i < len(dirs) {
			switch strings.TrimSpace(dirs[i]) {
			case "", "1":
			case "-1":
				dir = -1
			default:
				return nil, errorf("dir", "", "must be 1 or -1, not %q", dirs[i])
			}
		}
		keys = append(keys, SortKey{Field: f, Dir: dir})
	}
	return keys, nil
}

func parseSkip(s string) (int, error) {
	n, ok := integral(s)
	if !ok || n < 0 {
		return 0, errorf("skip", "", "must be an integer from 0, not %q", s)
	}
	return n, nil
}

func parseMax(s string, limit int) (int, error) {
	n, ok := integral(s)
	if !ok || n < 1 {
		return 0, errorf("max", "", "must be an integer from 1, not %q", s)
	}
	return min(n, limit), nil
}

// integral reads the integers max, skip, $max and $skip take: a JSON number with an integral
// value in any notation (10, 10.0, 1e1). A string ("10" with its quotes) is not a number.
func integral(s string) (int, bool) {
	s = strings.TrimSpace(s)
	if !validNumber(s) {
		return 0, false
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || f != math.Trunc(f) || math.Abs(f) >= 1e15 {
		return 0, false
	}
	return int(f), true
}

// validNumber checks JSON's number grammar (ParseFloat also takes "0x10", "Inf", "+1").
func validNumber(s string) bool {
	var v any
	return s != "" && (s[0] == '-' || s[0] >= '0' && s[0] <= '9') && json.Unmarshal([]byte(s), &v) == nil && isFloat(v)
}

func isFloat(v any) bool { _, ok := v.(float64); return ok }

func parseBool(name, s string) (bool, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "", "false", "0":
		return false, nil
	case "true", "1":
		return true, nil
	}
	return false, errorf(name, "", "must be true or false, not %q", s)
}

func parseAggregate(s string) (Aggregate, error) {
	fn, field, ok := strings.Cut(strings.TrimSpace(s), ":")
	fn = strings.ToUpper(fn)
	if !ok || field == "" {
		return Aggregate{}, errorf("aggregate", "", "want FN:field, not %q", s)
	}
	switch fn {
	case "SUM", "AVG", "MIN", "MAX", "COUNT":
	default:
		return Aggregate{}, errorf("aggregate", fn, "unknown aggregate function (use SUM, AVG, MIN, MAX or COUNT)")
	}
	return Aggregate{Fn: fn, Field: field}, nil
}

// applyHints reads h. Its values override the plain parameters.
func (r *Request) applyHints(h []byte, opts Options) error {
	var hints map[string]json.RawMessage
	if err := json.Unmarshal(h, &hints); err != nil {
		return errorf("h", "", "malformed JSON hints: %v", err)
	}
	for _, k := range sortedRawKeys(hints) {
		raw := hints[k]
		switch k {
		case "$fields":
			p, err := parseProjection(raw)
			if err != nil {
				return err
			}
			r.proj = p
		case "$orderby":
			keys, err := parseOrderBy(raw)
			if err != nil {
				return err
			}
			r.Sort = keys
		case "$max":
			n, err := hintInt(k, raw)
			if err != nil {
				return err
			}
			if n < 1 {
				return errorf("h", k, "must be an integer from 1")
			}
			r.Max = min(n, opts.MaxPageSize)
		case "$skip":
			n, err := hintInt(k, raw)
			if err != nil {
				return err
			}
			if n < 0 {
				return errorf("h", k, "must be an integer from 0")
			}
			r.Skip = n
		case "$groupby":
			var g []string
			if err := json.Unmarshal(raw, &g); err != nil {
				var one string
				if json.Unmarshal(raw, &one) != nil {
					return errorf("h", k, "must be an array of field names")
				}
				g = []string{one}
			}
			r.GroupBy = nil
			for _, f := range g {
				if f = strings.TrimSpace(f); f != "" {
					r.GroupBy = append(r.GroupBy, f)
				}
			}
		case "$aggregate":
			var list []string
			if err := json.Unmarshal(raw, &list); err != nil {
				return errorf("h", k, "must be an array of \"FN:field\" strings")
			}
			r.Aggregates = nil
			for _, a := range list {
				agg, err := parseAggregate(a)
				if err != nil {
					return err
				}
				r.Aggregates = append(r.Aggregates, agg)
			}
		default:
			return errorf("h", k, "unknown hint")
		}
	}
	return nil
}

func sortedRawKeys(m map[string]json.RawMessage) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// hintInt reads an integer hint: a JSON number with an integral value, in any notation.
func hintInt(name string, raw json.RawMessage) (int, error) {
	n, ok := integral(string(raw))
	if !ok {
		return 0, errorf("h", name, "must be an integer (a JSON number, not a string)")
	}
	return n, nil
}

// parseOrderBy reads {"a":1,"b":-1} keeping the key order, which a Go map would lose.
func parseOrderBy(raw json.RawMessage) ([]SortKey, error) {
	bad := errorf("h", "$orderby", "must be an object of field: 1 or -1")
	dec := json.NewDecoder(bytes.NewReader(raw))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return nil, bad
	}
	var keys []SortKey
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return nil, bad
		}
		field, _ := t.(string)
		var dir any
		if err := dec.Decode(&dir); err != nil {
			return nil, bad
		}
		d := 0
		switch x := dir.(type) {
		case float64:
			if x == 1 || x == -1 {
				d = int(x)
			}
		case string:
			switch strings.ToLower(x) {
			case "1", "asc":
				d = 1
			case "-1", "desc":
				d = -1
			}
		}
		if field == "" || d == 0 {
			return nil, errorf(field, "$orderby", "direction must be 1 or -1")
		}
		keys = append(keys, SortKey{Field: field, Dir: d})
	}
	return keys, nil
}

// matchesFilter reports whether every word occurs in some string value of the document's own
// fields. Top-level keys starting with "_" are system fields and are not searched.
func matchesFilter(doc map[string]any, words []string) bool {
	if len(words) == 0 {
		return true
	}
	found := make([]bool, len(words))
	left := len(words)
	var walk func(v any) bool
	walk = func(v any) bool {
		switch t := v.(type) {
		case string:
			s := strings.ToLower(t)
			for i, w := range words {
				if !found[i] && strings.Contains(s, w) {
					found[i] = true
					left--
				}
			}
			return left == 0
		case map[string]any:
			for _, e := range t {
				if walk(e) {
					return true
				}
			}
		case []any:
			for _, e := range t {
				if walk(e) {
					return true
				}
			}
		}
		return false
	}
	for k, v := range doc {
		if strings.HasPrefix(k, "_") {
			continue
		}
		if walk(v) {
			return true
		}
	}
	return false
}
