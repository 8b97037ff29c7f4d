package query

import (
	"slices"
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

func TestSystemFieldsIsACopy(t *testing.T) {
	f := SystemFields()
	want := []string{"_created", "_changed", "_createdby", "_changedby", "_version"}
	if !slices.Equal(f, want) {
		t.Fatalf("SystemFields() = %v, want %v", f, want)
	}
	f[0] = "x"
	if SystemFields()[0] != "_created" {
		t.Fatal("SystemFields returned shared state")
	}
}

func TestWithoutSystemFields(t *testing.T) {
	doc := obj(t, `{"_id":"1","_created":"c","_changed":"c","_createdby":"a","_changedby":"a","_version":2,"n":1}`)
	if got := toJSON(t, WithoutSystemFields(doc)); got != `{"_id":"1","n":1}` {
		t.Errorf("WithoutSystemFields = %s", got)
	}
	if len(doc) != 7 {
		t.Error("WithoutSystemFields modified its argument")
	}
}
