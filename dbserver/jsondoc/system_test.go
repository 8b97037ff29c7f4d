package jsondoc

import (
	"slices"
	"testing"
)

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
	doc, err := DecodeDoc([]byte(`{"_id":"1","_created":"c","_changed":"c","_createdby":"a","_changedby":"a","_version":2,"n":1}`))
	if err != nil {
		t.Fatal(err)
	}
	got, err := AppendJSON(nil, WithoutSystemFields(doc), true)
	if err != nil || string(got) != `{"_id":"1","n":1}` {
		t.Errorf("WithoutSystemFields = %s, %v", got, err)
	}
	if len(doc) != 7 {
		t.Error("WithoutSystemFields modified its argument")
	}
}

func TestUserFieldsDropsEveryReservedName(t *testing.T) {
	d := Doc{"_id": "x", "_version": 3, "_custom": 1, "a": 1, "b_": 2}
	got := UserFields(d)
	if len(got) != 2 || got["a"] != 1 || got["b_"] != 2 {
		t.Errorf("UserFields = %v, want only a and b_", got)
	}
	if len(d) != 5 {
		t.Error("UserFields modified its argument")
	}
}

func TestVersion(t *testing.T) {
	for _, tc := range []struct {
		d    Doc
		want int64
	}{{Doc{"_version": float64(4)}, 4}, {Doc{"_version": int64(5)}, 5}, {Doc{"_version": 6}, 6}, {Doc{}, -1}, {Doc{"_version": "7"}, -1}} {
		if got := Version(tc.d); got != tc.want {
			t.Errorf("Version(%v) = %d, want %d", tc.d, got, tc.want)
		}
	}
}
