package query

import (
	"math"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/restkube/restkube/dbserver/jsondoc"
)

// Limits of one update request, so that a small body cannot make a huge document (the store
// then refuses whatever is still over its own limits: depth and size).
const (
	// MaxArrayElementsAdded bounds the array elements one request may add, summed over all its
	// paths: the nulls that pad an array written past its end ("arr.N") and the values of
	// $push and $addToSet. Without a sum, N paths each padding to the limit multiply it by N.
	MaxArrayElementsAdded = 10000
	// MaxPathDepth bounds the segments of a dot path: the store's default nesting limit.
	MaxPathDepth = 100
)

// Names of the limits as errors and the README call them.
const (
	LimitArrayElementsAdded = "maxArrayElementsAdded"
	LimitPathDepth          = "maxDepth"
)

// budget counts what a request has added so far.
type budget struct{ added int }

func (b *budget) add(op, path string, n int) error {
	if b.added+n > MaxArrayElementsAdded {
		return errorf(path, op, "the request adds more than %s (%d) array elements", LimitArrayElementsAdded, MaxArrayElementsAdded)
	}
	b.added += n
	return nil
}

// ApplyUpdate applies a PUT/PATCH body to doc: plain top-level fields are merged in (names
// starting with "_" are ignored, since clients cannot set system fields), and the operators
// $inc, $push, $pull, $addToSet, $set and $unset take dot paths. Values of the form
// {"$date": …} are stored as ISO-8601 strings, evaluated against now. On error (an *Error)
// doc is left unchanged.
func ApplyUpdate(doc map[string]any, body map[string]any, now time.Time) error {
	work := deepCopy(doc).(map[string]any)
	keys := make([]string, 0, len(body))
	for k := range body {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	// Operators run after the plain fields so that {"n":1,"$inc":{"n":1}} is deterministic.
	for _, k := range keys {
		if strings.HasPrefix(k, "$") || jsondoc.IsSystemField(k) {
			continue
		}
		v, err := resolveDates(k, body[k], now)
		if err != nil {
			return err
		}
		work[k] = v
	}
	b := &budget{}
	for _, op := range keys {
		if !strings.HasPrefix(op, "$") {
			continue
		}
		if err := applyOperator(work, op, body[op], now, b); err != nil {
			return err
		}
	}
	clear(doc)
	for k, v := range work {
		doc[k] = v
	}
	return nil
}

func applyOperator(doc map[string]any, op string, arg any, now time.Time, b *budget) error {
	switch op {
	case "$inc", "$push", "$pull", "$addToSet", "$set", "$unset":
	default:
		return errorf("", op, "unknown update operator")
	}
	fields, ok := arg.(map[string]any)
	if !ok {
		return errorf("", op, "needs an object of field paths")
	}
	paths := make([]string, 0, len(fields))
	for p := range fields {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	for _, path := range paths {
		if n := strings.Count(path, ".") + 1; n > MaxPathDepth {
			return errorf(truncatePath(path), op, "the path has %d segments, more than %s (%d)", n, LimitPathDepth, MaxPathDepth)
		}
		parts := splitPath(path)
		if slices.Contains(parts, "") {
			return errorf(path, op, "empty field name or path segment")
		}
		if jsondoc.IsSystemField(parts[0]) {
			continue // system fields are the server's
		}
		v, err := resolveDates(path, fields[path], now)
		if err != nil {
			return err
		}
		if err := applyOne(doc, op, path, parts, v, b); err != nil {
			return err
		}
	}
	return nil
}

func applyOne(doc map[string]any, op, path string, parts []string, v any, b *budget) error {
	if op == "$unset" {
		unsetPath(doc, parts)
		return nil
	}
	parent, last, err := parentOf(doc, op, path, parts, b)
	if err != nil {
		return err
	}
	cur, exists := parent.get(last)
	switch op {
	case "$set":
		return parent.set(op, path, last, v)
	case "$inc":
		n, ok := Number(v)
		if !ok {
			return errorf(path, op, "needs a number")
		}
		if !exists {
			return parent.set(op, path, last, n)
		}
		c, ok := Number(cur)
		if !ok {
			return errorf(path, op, "the field holds a non-number")
		}
		if math.IsInf(c+n, 0) {
			return errorf(path, op, "the sum is out of the range of a JSON number")
		}
		return parent.set(op, path, last, c+n)
	case "$push", "$addToSet":
		vals := []any{v}
		if m, ok := v.(map[string]any); ok {
			if each, ok := m["$each"]; ok {
				list, ok := each.([]any)
				if !ok || len(m) != 1 {
					return errorf(path, op, "$each needs an array and no other modifier")
				}
				vals = list
			}
		}
		arr, ok := cur.([]any)
		if exists && !ok {
			return errorf(path, op, "the field holds a non-array")
		}
		if err := b.add(op, path, len(vals)); err != nil {
			return err
		}
		arr = slices.Clone(arr)
		for _, e := range vals {
			if op == "$addToSet" && slices.ContainsFunc(arr, func(x any) bool { return equal(x, e) }) {
				continue
			}
			arr = append(arr, e)
		}
		if arr == nil {
			arr = []any{}
		}
		return parent.set(op, path, last, arr)
	case "$pull":
		if !exists {
			return nil
		}
		arr, ok := cur.([]any)
		if !ok {
			return errorf(path, op, "the field holds a non-array")
		}
		kept := make([]any, 0, len(arr))
		for _, e := range arr {
			if !equal(e, v) {
				kept = append(kept, e)
			}
		}
		return parent.set(op, path, last, kept)
	}
	return nil
}

// container is an object or an array slot that a path's last segment addresses.
type container struct {
	m     map[string]any
	arr   []any
	owner func([]any) // stores a grown array back where it came from
	b     *budget     // what the request has added so far
}

func (c container) get(key string) (any, bool) {
	if c.m != nil {
		v, ok := c.m[key]
		return v, ok
	}
	i, _ := arrayIndex(key)
	if i < len(c.arr) {
		return c.arr[i], true
	}
	return nil, false
}

func (c container) set(op, path, key string, v any) error {
	if c.m != nil {
		c.m[key] = v
		return nil
	}
	i, _ := arrayIndex(key)
	if i >= len(c.arr) {
		if i-len(c.arr) > MaxArrayElementsAdded {
			return errorf(path, op, "array index %d is too far past the end (%s is %d)", i, LimitArrayElementsAdded, MaxArrayElementsAdded)
		}
		if err := c.b.add(op, path, i+1-len(c.arr)); err != nil {
			return err
		}
		grown := make([]any, i+1)
		copy(grown, c.arr)
		c.arr = grown
		c.owner(grown)
	}
	c.arr[i] = v
	return nil
}

// parentOf walks (creating objects as needed) to the container of the path's last segment.
func parentOf(doc map[string]any, op, path string, parts []string, b *budget) (container, string, error) {
	cur := container{m: doc, b: b}
	for i, seg := range parts[:len(parts)-1] {
		next, exists := cur.get(seg)
		if cur.m == nil {
			if _, ok := arrayIndex(seg); !ok {
				return container{}, "", errorf(path, op, "%q is not an index into the array", seg)
			}
		}
		switch t := next.(type) {
		case map[string]any:
			cur = container{m: t, b: b}
		case []any:
			parent, key := cur, seg
			cur = container{arr: t, owner: func(a []any) { _ = parent.set(op, path, key, a) }, b: b}
		default:
			if exists && next != nil {
				return container{}, "", errorf(path, op, "%q holds a non-object", strings.Join(parts[:i+1], "."))
			}
			m := map[string]any{}
			if err := cur.set(op, path, seg, m); err != nil {
				return container{}, "", err
			}
			cur = container{m: m, b: b}
		}
	}
	last := parts[len(parts)-1]
	if cur.m == nil {
		if _, ok := arrayIndex(last); !ok {
			return container{}, "", errorf(path, op, "%q is not an index into the array", last)
		}
	}
	return cur, last, nil
}

// truncatePath keeps a (possibly enormous) path short in an error.
func truncatePath(p string) string {
	if len(p) > 80 {
		return p[:80] + "…"
	}
	return p
}

// unsetPath removes the field at path, if there is one. An array slot becomes null, as in
// MongoDB, so positions of the other elements do not shift.
func unsetPath(v any, parts []string) {
	for i, seg := range parts {
		lastSeg := i == len(parts)-1
		switch t := v.(type) {
		case map[string]any:
			if lastSeg {
				delete(t, seg)
				return
			}
			v = t[seg]
		case []any:
			idx, ok := arrayIndex(seg)
			if !ok || idx >= len(t) {
				return
			}
			if lastSeg {
				t[idx] = nil
				return
			}
			v = t[idx]
		default:
			return
		}
	}
}

// resolveDates turns every {"$date": …} inside v into the ISO-8601 string documents store.
func resolveDates(field string, v any, now time.Time) (any, error) {
	if d, ok := dateOperand(v); ok {
		t, err := parseDate(field, d, now)
		if err != nil {
			return nil, err
		}
		return FormatTime(t), nil
	}
	switch t := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(t))
		for k, e := range t {
			r, err := resolveDates(field, e, now)
			if err != nil {
				return nil, err
			}
			out[k] = r
		}
		return out, nil
	case []any:
		out := make([]any, len(t))
		for i, e := range t {
			r, err := resolveDates(field, e, now)
			if err != nil {
				return nil, err
			}
			out[i] = r
		}
		return out, nil
	}
	return v, nil
}

// deepCopy copies JSON containers so a failed update leaves the caller's document untouched.
func deepCopy(v any) any {
	switch t := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(t))
		for k, e := range t {
			out[k] = deepCopy(e)
		}
		return out
	case []any:
		out := make([]any, len(t))
		for i, e := range t {
			out[i] = deepCopy(e)
		}
		return out
	}
	return v
}
