package jsondoc

import (
	"encoding/binary"
	"encoding/json"
	"math"
	"strconv"
)

// CheckDoc reports whether DecodeDoc would decode raw, without building anything: nil when it
// would, the decoder's kind of error when it would not. A reader that answers from stored JSON
// without decoding it (a page copied byte for byte, a read by id) runs it first, so that what
// it sends is exactly what a decoding reader would accept, and a document that does not decode
// is refused the same way on every path. It accepts and refuses what the decoder does (its
// tests and FuzzDecodeJSON compare the two): the JSON grammar, nesting up to MaxDecodeDepth,
// numbers within float64's range; invalid UTF-8 in strings is accepted, as the decoder replaces it.
func CheckDoc(raw []byte) error {
	c := checker{b: raw}
	c.space()
	if c.i >= len(c.b) || c.b[c.i] != '{' {
		return c.fail()
	}
	if !c.value(0) {
		return c.fail()
	}
	c.space()
	if c.i != len(c.b) {
		return c.fail()
	}
	return nil
}

// checkJSON is CheckDoc for any JSON value (DecodeJSON's verdict), for the tests.
func checkJSON(b []byte) error {
	c := checker{b: b}
	c.space()
	if !c.value(0) {
		return c.fail()
	}
	c.space()
	if c.i != len(c.b) {
		return c.fail()
	}
	return nil
}

// checker walks JSON as decoder does, keeping nothing.
type checker struct {
	b []byte
	i int
}

func (c *checker) fail() error { return (&decoder{b: c.b, i: c.i}).fail() }

func (c *checker) space() {
	for c.i < len(c.b) && isSpace(c.b[c.i]) {
		c.i++
	}
}

func (c *checker) value(depth int) bool {
	if c.i >= len(c.b) || depth > MaxDecodeDepth {
		return false
	}
	switch b := c.b[c.i]; {
	case b == '{':
		return c.container(depth, '}', true)
	case b == '[':
		return c.container(depth, ']', false)
	case b == '"':
		return c.str()
	case b == 't':
		return c.literal("true")
	case b == 'f':
		return c.literal("false")
	case b == 'n':
		return c.literal("null")
	case b == '-' || b >= '0' && b <= '9':
		return c.number()
	}
	return false
}

func (c *checker) literal(word string) bool {
	if len(c.b)-c.i < len(word) || string(c.b[c.i:c.i+len(word)]) != word {
		return false
	}
	c.i += len(word)
	return true
}

// number consumes the bytes decoder.number does and gives its verdict: JSON's grammar, and a
// value within float64's range (only a token with an exponent or hundreds of digits can leave it).
func (c *checker) number() bool {
	start := c.i
	for c.i < len(c.b) {
		b := c.b[c.i]
		if b >= '0' && b <= '9' || b == '-' || b == '+' || b == '.' || b == 'e' || b == 'E' {
			c.i++
			continue
		}
		break
	}
	tok := c.b[start:c.i]
	if !validJSONNumber(tok) {
		return false
	}
	wide := len(tok) > 300
	for _, b := range tok {
		wide = wide || b == 'e' || b == 'E'
	}
	if !wide {
		return true
	}
	f, err := strconv.ParseFloat(string(tok), 64)
	if err == nil && !math.IsInf(f, 0) {
		return true
	}
	var v any
	return json.Unmarshal(tok, &v) == nil
}

// str consumes a string token: no control bytes, only JSON's escapes (invalid UTF-8 is
// replaced by the decoder, so it passes).
func (c *checker) str() bool {
	for j := c.i + 1; j < len(c.b); j++ {
		// Eight bytes at a time while none needs a look (most of a document is strings), then
		// byte by byte through a table.
		for j+8 <= len(c.b) && !special8(binary.LittleEndian.Uint64(c.b[j:])) {
			j += 8
		}
		for j < len(c.b) && plain[c.b[j]] {
			j++
		}
		if j >= len(c.b) {
			break
		}
		switch b := c.b[j]; {
		case b == '"':
			c.i = j + 1
			return true
		case b < 0x20:
			return false
		case b == '\\':
			j++
			if j >= len(c.b) {
				return false
			}
			switch c.b[j] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
			case 'u':
				if j+4 >= len(c.b) {
					return false
				}
				for _, h := range c.b[j+1 : j+5] {
					if !(h >= '0' && h <= '9' || h >= 'a' && h <= 'f' || h >= 'A' && h <= 'F') {
						return false
					}
				}
				j += 4
			default:
				return false
			}
		}
	}
	return false
}

// container consumes an object (members "key": value) or an array, closed by closing.
func (c *checker) container(depth int, closing byte, object bool) bool {
	c.i++
	c.space()
	if c.i < len(c.b) && c.b[c.i] == closing {
		c.i++
		return true
	}
	for {
		c.space()
		if object {
			if c.i >= len(c.b) || c.b[c.i] != '"' || !c.str() {
				return false
			}
			c.space()
			if c.i >= len(c.b) || c.b[c.i] != ':' {
				return false
			}
			c.i++
			c.space()
		}
		if !c.value(depth + 1) {
			return false
		}
		c.space()
		if c.i >= len(c.b) {
			return false
		}
		switch c.b[c.i] {
		case ',':
			c.i++
		case closing:
			c.i++
			return true
		default:
			return false
		}
	}
}

const (
	ones  = 0x0101010101010101
	highs = 0x8080808080808080
)

// special8 reports whether one of the eight bytes of x ends or escapes a string, or is a
// control byte: '"', '\\' or below 0x20 (the classic bit tricks for "has a zero byte" and
// "has a byte less than n", exact as an existence test).
func special8(x uint64) bool {
	zero := func(v uint64) uint64 { return (v - ones) &^ v & highs }
	return zero(x^(ones*'"'))|zero(x^(ones*'\\'))|((x-ones*0x20)&^x&highs) != 0
}

// plain marks the bytes a string may hold as they are: not '"', '\\' or a control byte.
var plain = func() (t [256]bool) {
	for i := range t {
		t[i] = i >= 0x20 && i != '"' && i != '\\'
	}
	return t
}()
