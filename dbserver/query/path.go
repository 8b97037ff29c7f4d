package query

import (
	"strconv"
	"strings"
)

func splitPath(p string) []string { return strings.Split(p, ".") }

// arrayIndex reports whether a path segment addresses an array position ("tags.0").
func arrayIndex(seg string) (int, bool) {
	if seg == "" || len(seg) > 9 {
		return 0, false
	}
	for _, c := range seg {
		if c < '0' || c > '9' {
			return 0, false
		}
	}
	n, err := strconv.Atoi(seg)
	return n, err == nil
}

// lookup returns every value a dot path reaches in v, MongoDB style: a numeric segment indexes
// an array, any other segment fans out over the array's object elements. A branch that ends
// early yields missing, so callers can apply "missing counts as null".
func lookup(v any, parts []string, out []any) []any {
	if len(parts) == 0 {
		return append(out, v)
	}
	switch t := v.(type) {
	case map[string]any:
		child, ok := t[parts[0]]
		if !ok {
			return append(out, missing)
		}
		return lookup(child, parts[1:], out)
	case []any:
		if i, ok := arrayIndex(parts[0]); ok {
			if i < len(t) {
				return lookup(t[i], parts[1:], out)
			}
			return append(out, missing)
		}
		found := false
		for _, e := range t {
			if m, ok := e.(map[string]any); ok {
				found = true
				out = lookup(m, parts, out)
			}
		}
		if !found {
			out = append(out, missing)
		}
		return out
	}
	return append(out, missing)
}

// valueAt resolves a path to one value for sorting and grouping: the single value reached,
// an array of them when the path fans out over an array, or nil when nothing is there.
func valueAt(doc map[string]any, parts []string) any {
	if len(parts) == 1 {
		return doc[parts[0]]
	}
	vals := lookup(doc, parts, nil)
	present := vals[:0:0]
	for _, v := range vals {
		if v != missing {
			present = append(present, v)
		}
	}
	switch len(present) {
	case 0:
		return nil
	case 1:
		return present[0]
	}
	return present
}
