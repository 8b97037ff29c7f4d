package query

import (
	"cmp"
	"encoding/json"
	"slices"
	"strings"
)

// missingValue stands for a field a document does not have. MongoDB treats it as null in
// equality and ordering, but $exists tells the two apart, so it needs its own value.
type missingValue struct{}

var missing any = missingValue{}

// Type ranks in MongoDB's cross-type order.
const (
	rankNull = iota
	rankNumber
	rankString
	rankObject
	rankArray
	rankBool
	rankOther
)

func rank(v any) int {
	switch v.(type) {
	case nil, missingValue:
		return rankNull
	case float64, float32, int, int64, int32, uint, uint64, uint32, json.Number:
		return rankNumber
	case string:
		return rankString
	case map[string]any:
		return rankObject
	case []any:
		return rankArray
	case bool:
		return rankBool
	}
	return rankOther
}

// Number converts any numeric representation to float64; documents decoded with
// encoding/json hold float64, but callers may build documents by hand. The store's index
// encoding uses it too, so both order numbers alike.
func Number(v any) (float64, bool) {
	switch n := v.(type) {
	case float64:
		return n, true
	case float32:
		return float64(n), true
	case int:
		return float64(n), true
	case int64:
		return float64(n), true
	case int32:
		return float64(n), true
	case uint:
		return float64(n), true
	case uint64:
		return float64(n), true
	case uint32:
		return float64(n), true
	case json.Number:
		f, err := n.Float64()
		return f, err == nil
	}
	return 0, false
}

// Compare orders two JSON values the way MongoDB does: missing and null < numbers < strings <
// objects < arrays < booleans. Numbers compare by value, strings bytewise, objects by their
// keys in sorted order (key name, then value), arrays element by element (a prefix first),
// false < true. It returns -1, 0 or +1.
func Compare(a, b any) int {
	ra, rb := rank(a), rank(b)
	if ra != rb {
		return cmp.Compare(ra, rb)
	}
	switch ra {
	case rankNumber:
		x, _ := Number(a)
		y, _ := Number(b)
		return cmp.Compare(x, y)
	case rankString:
		return strings.Compare(a.(string), b.(string))
	case rankObject:
		return compareObjects(a.(map[string]any), b.(map[string]any))
	case rankArray:
		x, y := a.([]any), b.([]any)
		for i := 0; i < len(x) && i < len(y); i++ {
			if c := Compare(x[i], y[i]); c != 0 {
				return c
			}
		}
		return cmp.Compare(len(x), len(y))
	case rankBool:
		x, y := a.(bool), b.(bool)
		switch {
		case x == y:
			return 0
		case !x:
			return -1
		}
		return 1
	}
	return 0
}

func compareObjects(a, b map[string]any) int {
	ka, kb := sortedKeys(a), sortedKeys(b)
	for i := 0; i < len(ka) && i < len(kb); i++ {
		if c := strings.Compare(ka[i], kb[i]); c != 0 {
			return c
		}
		if c := Compare(a[ka[i]], b[kb[i]]); c != 0 {
			return c
		}
	}
	return cmp.Compare(len(ka), len(kb))
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// equal is JSON equality: values of different types are never equal; missing equals null.
func equal(a, b any) bool {
	if rank(a) != rank(b) {
		return false
	}
	return Compare(a, b) == 0
}
