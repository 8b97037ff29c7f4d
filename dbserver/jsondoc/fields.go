package jsondoc

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
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
	if len(fields) == 0 {
		return d, nil
	}
	i := skipSpace(raw, 0)
	if i >= len(raw) || raw[i] != '{' {
		return nil, errBadDoc
	}
	i = skipSpace(raw, i+1)
	if i < len(raw) && raw[i] == '}' {
		return d, nil
	}
	left := len(fields)
	for i < len(raw) {
		if raw[i] != '"' {
			return nil, errBadDoc
		}
		kEnd, escaped := stringEnd(raw, i)
		if kEnd < 0 {
			return nil, errBadDoc
		}
		var key string
		want := false
		if escaped {
			k, err := unquote(raw[i:kEnd])
			if err != nil {
				return nil, err
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
			return nil, errBadDoc
		}
		i = skipSpace(raw, i+1)
		vEnd := valueEnd(raw, i)
		if vEnd <= i {
			return nil, errBadDoc
		}
		if want {
			v, err := decodeValue(raw[i:vEnd])
			if err != nil {
				return nil, err
			}
			d[key] = v
			if left--; left == 0 {
				return d, nil
			}
		}
		i = skipSpace(raw, vEnd)
		if i >= len(raw) {
			return nil, errBadDoc
		}
		switch raw[i] {
		case ',':
			i = skipSpace(raw, i+1)
		case '}':
			return d, nil
		default:
			return nil, errBadDoc
		}
	}
	return nil, errBadDoc
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
	return appendObjectWithout(dst, raw, drop, allUnderscored(drop))
}

func allUnderscored(names []string) bool {
	for _, n := range names {
		if !strings.HasPrefix(n, "_") {
			return false
		}
	}
	return true
}

// appendObjectWithout is AppendObjectWithout; sortedTail allows the copy of the rest of the
// document once past the keys that can begin with '_'.
func appendObjectWithout(dst, raw []byte, drop []string, sortedTail bool) ([]byte, error) {
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
