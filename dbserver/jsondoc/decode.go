package jsondoc

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"unicode/utf8"
)

// fastDecode decodes stored JSON into the values encoding/json would produce (map[string]any,
// []any, string, float64, bool, nil), without reflection: about three times faster than
// json.Unmarshal on typical documents. Strings with escapes or invalid UTF-8 and anything
// unusual fall back to encoding/json for that token, so the results are identical; the
// package's tests compare the two on random documents.
func fastDecode(b []byte) (any, error) {
	// Strings without escapes are slices of one copy of the input: one allocation per
	// document instead of one per string. They keep that copy alive, which is the size of
	// the document.
	d := decoder{b: b, s: string(b)}
	d.space()
	v, err := d.value(0)
	if err != nil {
		return nil, err
	}
	d.space()
	if d.i != len(d.b) {
		return nil, d.fail()
	}
	return v, nil
}

type decoder struct {
	b []byte
	s string // the same bytes as b
	i int
}

// MaxDecodeDepth is the deepest nesting the decoder reads (encoding/json's limit): a value
// nested past it does not decode. The store's write limit (store.Limits.MaxDepth) stays below it.
const MaxDecodeDepth = 10000

func (d *decoder) fail() error {
	return fmt.Errorf("jsondoc: decoding document: malformed JSON at offset %d", d.i)
}

func (d *decoder) space() {
	for d.i < len(d.b) {
		switch d.b[d.i] {
		case ' ', '\n', '\t', '\r':
			d.i++
		default:
			return
		}
	}
}

func (d *decoder) value(depth int) (any, error) {
	if d.i >= len(d.b) || depth > MaxDecodeDepth {
		return nil, d.fail()
	}
	switch c := d.b[d.i]; {
	case c == '{':
		return d.object(depth)
	case c == '[':
		return d.array(depth)
	case c == '"':
		return d.str()
	case c == 't':
		return d.literal("true", true)
	case c == 'f':
		return d.literal("false", false)
	case c == 'n':
		return d.literal("null", nil)
	case c == '-' || c >= '0' && c <= '9':
		return d.number()
	}
	return nil, d.fail()
}

func (d *decoder) literal(word string, v any) (any, error) {
	if len(d.b)-d.i < len(word) || string(d.b[d.i:d.i+len(word)]) != word {
		return nil, d.fail()
	}
	d.i += len(word)
	return v, nil
}

func (d *decoder) number() (any, error) {
	start := d.i
	for d.i < len(d.b) {
		c := d.b[d.i]
		if c >= '0' && c <= '9' || c == '-' || c == '+' || c == '.' || c == 'e' || c == 'E' {
			d.i++
			continue
		}
		break
	}
	tok := d.b[start:d.i]
	f, err := strconv.ParseFloat(string(tok), 64)
	if err != nil || math.IsInf(f, 0) || !validJSONNumber(tok) {
		var v any
		if err := json.Unmarshal(tok, &v); err != nil {
			return nil, fmt.Errorf("jsondoc: decoding document: %w", err)
		}
		return v, nil
	}
	return f, nil
}

// validJSONNumber checks JSON's number grammar (ParseFloat accepts more, such as "1." or "+1").
func validJSONNumber(s []byte) bool {
	i := 0
	if i < len(s) && s[i] == '-' {
		i++
	}
	switch {
	case i < len(s) && s[i] == '0':
		i++
	case i < len(s) && s[i] >= '1' && s[i] <= '9':
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
	default:
		return false
	}
	if i < len(s) && s[i] == '.' {
		i++
		if i >= len(s) || s[i] < '0' || s[i] > '9' {
			return false
		}
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		if i >= len(s) || s[i] < '0' || s[i] > '9' {
			return false
		}
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
	}
	return i == len(s)
}

// str decodes a string token; escapes and non-ASCII that is not valid UTF-8 go through
// encoding/json, which replaces invalid bytes exactly as json.Unmarshal does.
func (d *decoder) str() (string, error) {
	start := d.i
	slow := false
	j := d.i + 1
	for ; j < len(d.b); j++ {
		c := d.b[j]
		if c == '"' {
			break
		}
		if c == '\\' {
			slow = true
			j++
			continue
		}
		if c < 0x20 {
			slow = true
		}
		if c >= 0x80 {
			n := 1 + nonASCIIRun(d.b[j+1:])
			slow = slow || !utf8.Valid(d.b[j:j+n])
			j += n - 1
		}
	}
	if j >= len(d.b) {
		return "", d.fail()
	}
	d.i = j + 1
	if !slow {
		return d.s[start+1 : j], nil
	}
	var s string
	if err := json.Unmarshal(d.b[start:d.i], &s); err != nil {
		return "", fmt.Errorf("jsondoc: decoding document: %w", err)
	}
	return s, nil
}

// nonASCIIRun counts the leading bytes of b that are >= 0x80 (the rest of a UTF-8 sequence).
func nonASCIIRun(b []byte) int {
	n := 0
	for n < len(b) && b[n] >= 0x80 {
		n++
	}
	return n
}

func (d *decoder) object(depth int) (any, error) {
	d.i++ // {
	hint := 4
	if depth == 0 {
		hint = 16
	}
	m := make(map[string]any, hint)
	d.space()
	if d.i < len(d.b) && d.b[d.i] == '}' {
		d.i++
		return m, nil
	}
	for {
		d.space()
		if d.i >= len(d.b) || d.b[d.i] != '"' {
			return nil, d.fail()
		}
		k, err := d.str()
		if err != nil {
			return nil, err
		}
		d.space()
		if d.i >= len(d.b) || d.b[d.i] != ':' {
			return nil, d.fail()
		}
		d.i++
		d.space()
		v, err := d.value(depth + 1)
		if err != nil {
			return nil, err
		}
		m[k] = v
		if done, err := d.after('}'); err != nil {
			return nil, err
		} else if done {
			return m, nil
		}
	}
}

func (d *decoder) array(depth int) (any, error) {
	d.i++ // [
	a := make([]any, 0, 4)
	d.space()
	if d.i < len(d.b) && d.b[d.i] == ']' {
		d.i++
		return a, nil
	}
	for {
		d.space()
		v, err := d.value(depth + 1)
		if err != nil {
			return nil, err
		}
		a = append(a, v)
		if done, err := d.after(']'); err != nil {
			return nil, err
		} else if done {
			return a, nil
		}
	}
}

// after reads what follows a member or an element: a comma (more follow) or closing (done).
func (d *decoder) after(closing byte) (done bool, err error) {
	d.space()
	if d.i >= len(d.b) {
		return false, d.fail()
	}
	switch d.b[d.i] {
	case ',':
		d.i++
		return false, nil
	case closing:
		d.i++
		return true, nil
	}
	return false, d.fail()
}
