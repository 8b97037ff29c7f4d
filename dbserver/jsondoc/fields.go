package jsondoc

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
)

// A cheap filter path for stored documents. Decoding a whole document into a map costs
// microseconds; a query usually reads one or two fields. DecodeFields walks the stored JSON
// once, skipping the values of other fields without building them, and decodes only the
// fields asked for. A scan can then match on that small map and decode in full only the
// documents that match (see the package doc for the numbers).

// DecodeDoc decodes a document's stored bytes (from a Snapshot) in full.
func DecodeDoc(raw []byte) (Doc, error) { return decodeDoc(raw) }

// DecodeJSON decodes any JSON value as json.Unmarshal into an interface{} would, about three
// times faster, for input json.Valid accepts (a request body, say). Its errors are not
// json.Unmarshal's: callers wanting those run it on input DecodeJSON refused.
func DecodeJSON(b []byte) (any, error) { return fastDecode(b) }

var errBadDoc = errors.New("jsondoc: decoding document: malformed JSON")

// DecodeFields decodes only the named top-level fields of a document's stored bytes; fields
// the document lacks are absent from the result, as they would be from DecodeDoc's.
func DecodeFields(raw []byte, fields []string) (Doc, error) {
	d := make(Doc, len(fields))
	if err := DecodeFieldsInto(d, raw, fields); err != nil {
		return nil, err
	}
	return d, nil
}

// DecodeFieldsInto is DecodeFields into d, which it clears first: a caller that needs the
// fields of one document at a time reuses one map.
func DecodeFieldsInto(d Doc, raw []byte, fields []string) error {
	clear(d)
	if len(fields) == 0 {
		return nil
	}
	i := skipSpace(raw, 0)
	if i >= len(raw) || raw[i] != '{' {
		return errBadDoc
	}
	i = skipSpace(raw, i+1)
	if i < len(raw) && raw[i] == '}' {
		return nil
	}
	left := len(fields)
	for i < len(raw) {
		if raw[i] != '"' {
			return errBadDoc
		}
		kEnd, escaped := stringEnd(raw, i)
		if kEnd < 0 {
			return errBadDoc
		}
		var key string
		want := false
		if escaped {
			k, err := unquote(raw[i:kEnd])
			if err != nil {
				return err
			}
			key, want = k, contains(fields, k)
		} else {
			name := raw[i+1 : kEnd-1]
			for _, f := range fields {
				if string(name) == f {
					want, key = true, f
					break
				}
			}
		}
		i = skipSpace(raw, kEnd)
		if i >= len(raw) || raw[i] != ':' {
			return errBadDoc
		}
		i = skipSpace(raw, i+1)
		vEnd := valueEnd(raw, i)
		if vEnd <= i {
			return errBadDoc
		}
		if want {
			v, err := decodeValue(raw[i:vEnd])
			if err != nil {
				return err
			}
			d[key] = v
			if left--; left == 0 {
				return nil
			}
		}
		i = skipSpace(raw, vEnd)
		if i >= len(raw) {
			return errBadDoc
		}
		switch raw[i] {
		case ',':
			i = skipSpace(raw, i+1)
		case '}':
			return nil
		default:
			return errBadDoc
		}
	}
	return errBadDoc
}

// unquote decodes a JSON string token with escapes (kept apart so that the common path's
// variables stay on the stack).
func unquote(tok []byte) (string, error) {
	var s string
	if err := json.Unmarshal(tok, &s); err != nil {
		return "", fmt.Errorf("jsondoc: decoding document: %w", err)
	}
	return s, nil
}

func contains(list []string, s string) bool {
	for _, e := range list {
		if e == s {
			return true
		}
	}
	return false
}

// decodeValue decodes one JSON value, with fast paths for the common scalars.
func decodeValue(b []byte) (any, error) {
	switch b[0] {
	case 't':
		if string(b) == "true" {
			return true, nil
		}
	case 'f':
		if string(b) == "false" {
			return false, nil
		}
	case 'n':
		if string(b) == "null" {
			return nil, nil
		}
	case '"':
		if end, escaped := stringEnd(b, 0); end == len(b) && !escaped {
			return string(b[1 : len(b)-1]), nil
		}
	case '{', '[':
	default:
		if f, err := strconv.ParseFloat(string(b), 64); err == nil {
			return f, nil
		}
	}
	return fastDecode(b)
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && isSpace(b[i]) {
		i++
	}
	return i
}

func isSpace(c byte) bool { return c == ' ' || c == '\n' || c == '\t' || c == '\r' }

// stringEnd returns the index just past the string starting at b[i] == '"' (or -1), and
// whether it holds escapes. It also reports escaped for any byte json.Marshal would have
// escaped or rewritten, so the fast path's string(b) never disagrees with json.Unmarshal.
func stringEnd(b []byte, i int) (int, bool) {
	escaped := false
	for j := i + 1; j < len(b); j++ {
		switch c := b[j]; {
		case c == '"':
			return j + 1, escaped
		case c == '\\':
			escaped = true
			j++
		case c < 0x20 || c >= 0x80:
			// Control bytes are invalid and non-ASCII may be invalid UTF-8, which
			// json.Unmarshal replaces: let it decide.
			escaped = true
		}
	}
	return -1, escaped
}

// valueEnd returns the index just past the JSON value starting at b[i], or -1.
func valueEnd(b []byte, i int) int {
	if i >= len(b) {
		return -1
	}
	switch b[i] {
	case '"':
		end, _ := stringEnd(b, i)
		return end
	case '{', '[':
		depth := 0
		for j := i; j < len(b); j++ {
			switch b[j] {
			case '"':
				end, _ := stringEnd(b, j)
				if end < 0 {
					return -1
				}
				j = end - 1
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return j + 1
				}
			}
		}
		return -1
	}
	j := i
	for j < len(b) {
		switch b[j] {
		case ',', '}', ']', ' ', '\n', '\t', '\r':
			return j
		}
		j++
	}
	return j
}

// AppendObjectWithout appends the stored JSON object raw to dst without its top-level fields
// named in drop, copying everything else byte for byte. It lets a reader answer with stored
// documents without decoding and encoding them again.
//
// Stored documents have their keys in sorted order (AppendJSON), so when every name in drop
// begins with '_' (the system fields), the keys to drop form one run and the rest of the
// document after the first plain key sorting above '_' is copied without being looked at.
func AppendObjectWithout(dst, raw []byte, drop []string) ([]byte, error) {
	return appendObjectWithout(dst, raw, drop, false, allUnderscored(drop))
}

// AppendObjectOnly appends the stored JSON object raw to dst with only its top-level fields
// named in keep, copied byte for byte: a projection on top-level fields without decoding.
func AppendObjectOnly(dst, raw []byte, keep []string) ([]byte, error) {
	return appendObjectWithout(dst, raw, keep, true, false)
}

func allUnderscored(names []string) bool {
	for _, n := range names {
		if !strings.HasPrefix(n, "_") {
			return false
		}
	}
	return true
}

// appendObjectWithout is AppendObjectWithout, or AppendObjectOnly when only (names lists the
// fields to keep, not to drop); sortedTail allows the copy of the rest of the document once
// past the keys that can begin with '_'.
func appendObjectWithout(dst, raw []byte, drop []string, only, sortedTail bool) ([]byte, error) {
	end := len(raw)
	for end > 0 && isSpace(raw[end-1]) {
		end--
	}
	if end == 0 || raw[end-1] != '}' {
		sortedTail = false
	}
	i := skipSpace(raw, 0)
	if i >= len(raw) || raw[i] != '{' {
		return nil, errBadDoc
	}
	dst = append(dst, '{')
	first := true
	i = skipSpace(raw, i+1)
	if i < len(raw) && raw[i] == '}' {
		return append(dst, '}'), nil
	}
	for i < len(raw) {
		if raw[i] != '"' {
			return nil, errBadDoc
		}
		kStart := i
		kEnd, escaped := stringEnd(raw, i)
		if kEnd < 0 {
			return nil, errBadDoc
		}
		// A plain key beginning above '_': every later key sorts above it, so none is dropped.
		if sortedTail && !escaped && kEnd-kStart > 2 && raw[kStart+1] > '_' {
			if !first {
				dst = append(dst, ',')
			}
			return append(dst, raw[kStart:end]...), nil
		}
		skip := false
		if escaped {
			k, err := unquote(raw[kStart:kEnd])
			if err != nil {
				return nil, err
			}
			skip = contains(drop, k)
		} else {
			name := raw[kStart+1 : kEnd-1]
			for _, f := range drop {
				if string(name) == f {
					skip = true
					break
				}
			}
		}
		i = skipSpace(raw, kEnd)
		if i >= len(raw) || raw[i] != ':' {
			return nil, errBadDoc
		}
		i = skipSpace(raw, i+1)
		vEnd := valueEnd(raw, i)
		if vEnd <= i {
			return nil, errBadDoc
		}
		if only {
			skip = !skip
		}
		if !skip {
			if !first {
				dst = append(dst, ',')
			}
			first = false
			dst = append(dst, raw[kStart:kEnd]...)
			dst = append(dst, ':')
			dst = append(dst, raw[i:vEnd]...)
		}
		i = skipSpace(raw, vEnd)
		if i >= len(raw) {
			return nil, errBadDoc
		}
		switch raw[i] {
		case ',':
			i = skipSpace(raw, i+1)
		case '}':
			return append(dst, '}'), nil
		default:
			return nil, errBadDoc
		}
	}
	return nil, errBadDoc
}

// EachString calls fn with every string value of the stored document raw (not its keys),
// nested ones included, except those under the top-level fields whose names begin with '_'
// (the system fields), until fn returns false. fn gets the decoded string as bytes: a slice of
// raw itself when the string needs no decoding (no escapes, valid UTF-8), so the walk usually
// allocates nothing; it is valid only during the call. A full-text filter runs on it without
// decoding the document.
func EachString(raw []byte, fn func(s []byte) bool) error {
	w := stringWalker{b: raw, fn: fn}
	w.skipSpace()
	if w.i >= len(w.b) || w.b[w.i] != '{' {
		return errBadDoc
	}
	w.value(0, true)
	if w.err != nil {
		return w.err
	}
	if w.stop {
		return nil
	}
	w.skipSpace()
	if w.i != len(w.b) {
		return errBadDoc
	}
	return nil
}

type stringWalker struct {
	b    []byte
	i    int
	fn   func([]byte) bool
	stop bool
	err  error
}

func (w *stringWalker) skipSpace() { w.i = skipSpace(w.b, w.i) }

// value walks the value at w.i; top is true for the document itself, whose '_' fields are
// skipped. It returns false once the walk ends (fn said stop, or an error).
func (w *stringWalker) value(depth int, top bool) bool {
	if w.i >= len(w.b) || depth > MaxDecodeDepth {
		w.err = errBadDoc
		return false
	}
	switch w.b[w.i] {
	case '"':
		s, ok := w.str()
		if !ok {
			return false
		}
		if !w.fn(s) {
			w.stop = true
			return false
		}
		return true
	case '{', '[':
		object := w.b[w.i] == '{'
		closing := byte(']')
		if object {
			closing = '}'
		}
		w.i = skipSpace(w.b, w.i+1)
		if w.i < len(w.b) && w.b[w.i] == closing {
			w.i++
			return true
		}
		for {
			w.skipSpace()
			skip := false
			if object {
				if w.i >= len(w.b) || w.b[w.i] != '"' {
					w.err = errBadDoc
					return false
				}
				key, ok := w.str()
				if !ok {
					return false
				}
				skip = top && len(key) > 0 && key[0] == '_'
				w.skipSpace()
				if w.i >= len(w.b) || w.b[w.i] != ':' {
					w.err = errBadDoc
					return false
				}
				w.i = skipSpace(w.b, w.i+1)
			}
			if skip {
				end := valueEnd(w.b, w.i)
				if end <= w.i {
					w.err = errBadDoc
					return false
				}
				w.i = end
			} else if !w.value(depth+1, false) {
				return false
			}
			w.skipSpace()
			if w.i >= len(w.b) {
				w.err = errBadDoc
				return false
			}
			switch w.b[w.i] {
			case ',':
				w.i++
			case closing:
				w.i++
				return true
			default:
				w.err = errBadDoc
				return false
			}
		}
	}
	// A number or a literal: skipped (the caller checks the document separately when it must).
	end := valueEnd(w.b, w.i)
	if end <= w.i {
		w.err = errBadDoc
		return false
	}
	w.i = end
	return true
}

// str reads the string token at w.i: the bytes between the quotes when they need no decoding,
// else the decoded string.
func (w *stringWalker) str() ([]byte, bool) {
	end, escaped := stringEnd(w.b, w.i)
	if end < 0 {
		w.err = errBadDoc
		return nil, false
	}
	tok := w.b[w.i:end]
	w.i = end
	if !escaped || !needsDecoding(tok[1:len(tok)-1]) {
		return tok[1 : len(tok)-1], true
	}
	s, err := unquote(tok)
	if err != nil {
		w.err = err
		return nil, false
	}
	return []byte(s), true
}

// needsDecoding reports whether the inside of a string token differs from its value: escapes,
// control bytes, invalid UTF-8 (stringEnd flags all non-ASCII as escaped, to be safe).
func needsDecoding(b []byte) bool {
	for _, c := range b {
		if c == '\\' || c < 0x20 {
			return true
		}
	}
	return !utf8.Valid(b)
}
