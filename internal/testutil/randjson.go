package testutil

import (
	"math"
	"math/rand/v2"
)

// RandValue builds a random JSON value of every type, with the edge cases of the encoding:
// -0, extreme numbers, strings with NUL bytes and common prefixes, nested containers.
func RandValue(r *rand.Rand, depth int) any {
	k := r.IntN(8)
	if depth > 2 && k >= 5 {
		k = r.IntN(5)
	}
	switch k {
	case 0:
		return nil
	case 1:
		return []float64{0, math.Copysign(0, -1), 1, -1, 2.5, -2.5, 1e300, -1e300, 3, 1e-9}[r.IntN(10)]
	case 2, 3:
		return []string{"", "a", "a\x00", "a\x00b", "ab", "b", "\x00", "A", "é", "a b"}[r.IntN(10)]
	case 4:
		return r.IntN(2) == 1
	case 5:
		n := r.IntN(3)
		a := make([]any, n)
		for i := range a {
			a[i] = RandValue(r, depth+1)
		}
		return a
	default:
		m := map[string]any{}
		for i := r.IntN(3); i > 0; i-- {
			m[[]string{"a", "b", "a\x00", "ab"}[r.IntN(4)]] = RandValue(r, depth+1)
		}
		return m
	}
}
