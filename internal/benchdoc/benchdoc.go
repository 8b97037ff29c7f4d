// Package benchdoc is the document the benchmarks store and query (make bench and the
// packages' Go benchmarks alike), so that their numbers describe the same data.
package benchdoc

import "fmt"

// Doc is document i: a dozen fields of mixed types, about 400 bytes of JSON (plus the system
// fields the store adds). n is i, u is i mod 100 (1% of the documents share a value).
func Doc(i int) map[string]any {
	return map[string]any{
		"n":     float64(i),
		"u":     float64(i % 100),
		"title": fmt.Sprintf("Task number %d with a moderately long title", i),
		"done":  i%3 == 0,
		"owner": fmt.Sprintf("user%d@example.com", i%50),
		"tags":  []any{"work", "home", fmt.Sprintf("t%d", i%7)},
		"due":   "2026-04-01T10:00:00.000Z",
		"prio":  float64(i % 5),
		"notes": "Some notes that make the document a little larger, as real ones are.",
		"meta":  map[string]any{"source": "import", "rev": float64(i % 11), "ok": true},
	}
}
