package query

import (
	"testing"
)

func TestCompareCrossTypeOrder(t *testing.T) {
	// Each value is strictly smaller than the next one.
	ordered := []string{
		`null`, `-5`, `0`, `2.5`, `10`, `""`, `"A"`, `"a"`, `"ab"`, `"b"`,
		`{}`, `{"a":1}`, `{"a":2}`, `{"a":2,"b":1}`, `{"b":0}`,
		`[]`, `[1]`, `[1,2]`, `[2]`, `["a"]`,
		`false`, `true`,
	}
	for i := range ordered {
		for j := range ordered {
			a, b := val(t, ordered[i]), val(t, ordered[j])
			want := 0
			if i < j {
				want = -1
			} else if i > j {
				want = 1
			}
			if got := Compare(a, b); got != want {
				t.Errorf("Compare(%s, %s) = %d, want %d", ordered[i], ordered[j], got, want)
			}
		}
	}
}

func TestCompareSpecialCases(t *testing.T) {
	tests := map[string]struct {
		a, b any
		want int
	}{
		"missing equals null":              {missing, nil, 0},
		"missing sorts before numbers":     {missing, 0.0, -1},
		"ints and floats compare by value": {3, 3.0, 0},
		"int64 below float":                {int64(2), 2.5, -1},
		"nested objects element-wise":      {map[string]any{"a": []any{1.0, "x"}}, map[string]any{"a": []any{1.0, "y"}}, -1},
		"array prefix is smaller":          {[]any{1.0}, []any{1.0, nil}, -1},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if got := Compare(tc.a, tc.b); got != tc.want {
				t.Errorf("Compare = %d, want %d", got, tc.want)
			}
		})
	}
}
