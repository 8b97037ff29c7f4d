package chart_test

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"testing"

	"sigs.k8s.io/yaml"
)

// opaqueValues are values that pass a Kubernetes object through as a whole; the README
// documents them as one row.
var opaqueValues = map[string]bool{"resources": true}

// valueKeys lists the documented keys of values.yaml: dotted paths down to scalars, lists,
// empty maps and opaque objects.
func valueKeys(prefix string, m map[string]any, out *[]string) {
	for k, v := range m {
		key := k
		if prefix != "" {
			key = prefix + "." + k
		}
		if sub, ok := v.(map[string]any); ok && len(sub) > 0 && !opaqueValues[key] {
			valueKeys(key, sub, out)
			continue
		}
		*out = append(*out, key)
	}
}

// TestReadmeListsEveryValue keeps the chart README's values table equal to values.yaml.
func TestReadmeListsEveryValue(t *testing.T) {
	dir := chartDir(t)
	b, err := os.ReadFile(filepath.Join(dir, "values.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var values map[string]any
	if err := yaml.Unmarshal(b, &values); err != nil {
		t.Fatal(err)
	}
	var want []string
	valueKeys("", values, &want)
	sort.Strings(want)

	readme, err := os.ReadFile(filepath.Join(dir, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, m := range regexp.MustCompile("(?m)^\\| `([A-Za-z0-9.]+)` \\|").FindAllSubmatch(readme, -1) {
		got = append(got, string(m[1]))
	}
	sort.Strings(got)
	if !slices.Equal(got, want) {
		t.Errorf("README values table does not match values.yaml:\n README: %v\n values: %v", got, want)
	}
}
