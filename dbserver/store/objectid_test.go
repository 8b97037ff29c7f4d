package store

import (
	"bytes"
	"testing"
	"time"

	"github.com/restkube/restkube/internal/testutil"
)

func TestValidID(t *testing.T) {
	tests := map[string]struct {
		id   string
		want bool
	}{
		"lowercase hex":     {"507f1f77bcf86cd799439011", true},
		"uppercase hex":     {"507F1F77BCF86CD799439011", false},
		"too short":         {"507f1f77bcf86cd79943901", false},
		"too long":          {"507f1f77bcf86cd7994390111", false},
		"non-hex character": {"507f1f77bcf86cd79943901g", false},
		"empty":             {"", false},
		"multibyte":         {"507f1f77bcf86cd7994390é", false},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if got := ValidID(tc.id); got != tc.want {
				t.Errorf("ValidID(%q) = %v, want %v", tc.id, got, tc.want)
			}
			if _, err := ParseObjectID(tc.id); (err == nil) != tc.want {
				t.Errorf("ParseObjectID(%q) error = %v", tc.id, err)
			}
		})
	}
}

func TestNewObjectIDLayout(t *testing.T) {
	id := NewObjectID(time.Unix(0x01020304, 999), [5]byte{5, 6, 7, 8, 9}, 0xFF0a0b0c)
	if got, want := id.String(), "0102030405060708090a0b0c"; got != want {
		t.Errorf("NewObjectID = %s, want %s", got, want)
	}
	if back, err := ParseObjectID(id.String()); err != nil || back != id {
		t.Errorf("ParseObjectID(String()) = %v, %v", back, err)
	}
	if got := id.Time(); got.Unix() != 0x01020304 {
		t.Errorf("Time() = %v", got)
	}
}

func TestIDGenStrictlyIncreases(t *testing.T) {
	base := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
	clk := testutil.NewClock(base)
	// Random bytes 1..5, then a counter seed two steps before the 24-bit wrap.
	g, err := newIDGen(clk.Now, bytes.NewReader([]byte{1, 2, 3, 4, 5, 0xFF, 0xFF, 0xFE}))
	if err != nil {
		t.Fatal(err)
	}
	var ids []ObjectID
	step := func(at time.Time, n int) {
		clk.Set(at)
		ids = append(ids, g.next(n)...)
	}
	step(base, 3)                     // the counter wraps within this second
	step(base, 2)                     // still borrowing the next second
	step(base.Add(-time.Hour), 2)     // the clock goes back
	step(base.Add(10*time.Second), 2) // and forward again
	step(base.Add(10*time.Second), 1)
	for i := 1; i < len(ids); i++ {
		if bytes.Compare(ids[i-1][:], ids[i][:]) >= 0 {
			t.Errorf("id %d (%s) is not greater than id %d (%s)", i, ids[i], i-1, ids[i-1])
		}
	}
	for i, id := range ids {
		if !bytes.Equal(id[4:9], []byte{1, 2, 3, 4, 5}) {
			t.Errorf("id %d (%s) does not carry the generator's random bytes", i, id)
		}
	}
	if got := ids[0].Time(); !got.Equal(base) {
		t.Errorf("first id time %v, want %v", got, base)
	}
	if got := ids[len(ids)-1].Time(); !got.Equal(base.Add(10 * time.Second)) {
		t.Errorf("last id time %v, want the clock once it is ahead again", got)
	}
	if _, err := newIDGen(clk.Now, bytes.NewReader(nil)); err == nil {
		t.Error("newIDGen with an empty random source succeeded")
	}
}
