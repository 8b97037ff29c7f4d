package store

import (
	"encoding/binary"
	"math"
	"slices"

	"github.com/restkube/restkube/dbserver/query"
)

// Index keys encode a JSON value so that bytewise order is MongoDB's cross-type order, the
// order query.Compare sorts by: null (and missing) < numbers < strings < objects < arrays <
// booleans; numbers by value, strings bytewise, objects by sorted key then value, arrays
// element by element with a prefix first. Equal values (by query.Compare) have equal bytes.
// The encoding is prefix-free: no complete encoding is a proper prefix of another, so a key
// followed by a 12-byte ObjectID still sorts by value first, then by id.

// Type tags, in cross-type order.
const (
	tagNull   byte = 0x10
	tagNumber byte = 0x20
	tagString byte = 0x30
	tagObject byte = 0x40
	tagArray  byte = 0x50
	tagBool   byte = 0x60
)

// Inside objects and arrays each member is preceded by memberMore and the list ends with
// memberEnd, which sorts below it: a shorter list is a prefix of a longer one and sorts first.
const (
	memberEnd  byte = 0x00
	memberMore byte = 0x01
)

// MaxIndexValue is the longest value encoding an index keeps; longer ones are cut to this
// length. The cut keeps order against any value whose encoding is shorter (the two differ
// before the cut), so the planner uses an index only for operands encoded in fewer bytes, and
// values that share a cut prefix tie in index order (the caller sorts ties itself).
const MaxIndexValue = 512

// EncodeIndexValue returns the index encoding of a JSON value (as encoding/json decodes it:
// nil, bool, float64, string, []any, map[string]any; other Go numbers are accepted too).
// Unknown types encode as null.
func EncodeIndexValue(v any) []byte { return appendIndexValue(nil, v) }

func appendIndexValue(b []byte, v any) []byte {
	switch t := v.(type) {
	case nil:
		return append(b, tagNull)
	case bool:
		if t {
			return append(b, tagBool, 1)
		}
		return append(b, tagBool, 0)
	case string:
		return appendIndexString(append(b, tagString), t)
	case map[string]any:
		b = append(b, tagObject)
		keys := make([]string, 0, len(t))
		for k := range t {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			b = append(b, memberMore)
			b = appendIndexString(b, k)
			b = appendIndexValue(b, t[k])
		}
		return append(b, memberEnd)
	case []any:
		b = append(b, tagArray)
		for _, e := range t {
			b = append(b, memberMore)
			b = appendIndexValue(b, e)
		}
		return append(b, memberEnd)
	}
	if f, ok := query.Number(v); ok {
		return appendIndexNumber(append(b, tagNumber), f)
	}
	return append(b, tagNull)
}

// appendIndexString writes s with 0x00 escaped as 0x00 0xFF and a 0x00 0x01 terminator, which
// keeps bytewise order and makes "a" sort before "a\x00" and "ab".
func appendIndexString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if s[i] == 0 {
			b = append(b, 0, 0xFF)
			continue
		}
		b = append(b, s[i])
	}
	return append(b, 0, 1)
}

// appendIndexNumber writes a float64 so that bytes order like values: the sign bit is flipped
// for positives, every bit for negatives. -0 is written as 0, since the two are equal.
func appendIndexNumber(b []byte, f float64) []byte {
	if f == 0 {
		f = 0
	}
	u := math.Float64bits(f)
	if u&(1<<63) != 0 {
		u = ^u
	} else {
		u |= 1 << 63
	}
	return binary.BigEndian.AppendUint64(b, u)
}

// TypeRange returns the bounds of all encodings of v's type: [tag, tag+1). A comparison
// operator matches only values of its operand's type, so its index range stops there.
func TypeRange(v any) (low, high []byte) {
	tag := EncodeIndexValue(v)[0]
	return []byte{tag}, []byte{tag + 1}
}

// isIndexScalar reports whether v is a value a scalar index condition can match (numbers,
// strings, booleans): the values an index lists per array element.
func isIndexScalar(v any) bool {
	switch v.(type) {
	case string, bool:
		return true
	}
	_, ok := query.Number(v)
	return ok
}

// cutIndexValue bounds an encoding to MaxIndexValue bytes.
func cutIndexValue(b []byte) []byte {
	if len(b) > MaxIndexValue {
		return b[:MaxIndexValue]
	}
	return b
}

// DecodeIndexScalar returns the number, string or boolean that an index value encoding holds,
// as a document decodes it (-0 comes back as 0, which compares equal). It reports false for
// anything else: null (which also stands for a missing field), objects, arrays, and values
// that may have been cut (MaxIndexValue bytes or more).
func DecodeIndexScalar(b []byte) (any, bool) {
	if len(b) == 0 || len(b) >= MaxIndexValue {
		return nil, false
	}
	switch b[0] {
	case tagNumber:
		if len(b) != 9 {
			return nil, false
		}
		u := binary.BigEndian.Uint64(b[1:])
		if u&(1<<63) != 0 {
			u &^= 1 << 63
		} else {
			u = ^u
		}
		return math.Float64frombits(u), true
	case tagBool:
		if len(b) != 2 || b[1] > 1 {
			return nil, false
		}
		return b[1] == 1, true
	case tagString:
		s := make([]byte, 0, max(len(b)-3, 0))
		for i := 1; i < len(b); i++ {
			if b[i] != 0 {
				s = append(s, b[i])
				continue
			}
			if i+1 >= len(b) {
				return nil, false
			}
			switch b[i+1] {
			case 0xFF:
				s = append(s, 0)
				i++
			case 1:
				if i+2 != len(b) {
					return nil, false
				}
				return string(s), true
			default:
				return nil, false
			}
		}
	}
	return nil, false
}
