package store

import (
	"bytes"
	"encoding/json"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/restkube/restkube/dbserver/query"
	"github.com/restkube/restkube/internal/testutil"
)

func sign(x int) int {
	switch {
	case x < 0:
		return -1
	case x > 0:
		return 1
	}
	return 0
}

func TestIndexEncodingOrdersLikeCompare(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	vals := make([]any, 400)
	for i := range vals {
		vals[i] = testutil.RandValue(r, 0)
	}
	for _, a := range vals {
		for _, b := range vals {
			want := query.Compare(a, b)
			got := bytes.Compare(EncodeIndexValue(a), EncodeIndexValue(b))
			if sign(got) != sign(want) {
				ja, _ := json.Marshal(a)
				jb, _ := json.Marshal(b)
				t.Fatalf("order of %s vs %s: bytes say %d, Compare says %d", ja, jb, got, want)
			}
		}
	}
}

func TestIndexEncodingIsPrefixFree(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for i := 0; i < 2000; i++ {
		a, b := testutil.RandValue(r, 0), testutil.RandValue(r, 0)
		ea, eb := EncodeIndexValue(a), EncodeIndexValue(b)
		if len(ea) < len(eb) && bytes.HasPrefix(eb, ea) {
			t.Fatalf("encoding of %v is a proper prefix of that of %v", a, b)
		}
	}
}

func TestIndexEncodingTypeOrder(t *testing.T) {
	ordered := []any{nil, -1e9, 0.0, 7.0, "", "zzz", map[string]any{}, map[string]any{"a": 1.0}, []any{}, []any{nil}, false, true}
	for i := 1; i < len(ordered); i++ {
		if bytes.Compare(EncodeIndexValue(ordered[i-1]), EncodeIndexValue(ordered[i])) >= 0 {
			t.Errorf("%#v does not sort before %#v", ordered[i-1], ordered[i])
		}
	}
	if !bytes.Equal(EncodeIndexValue(0.0), EncodeIndexValue(math.Copysign(0, -1))) {
		t.Error("-0 and 0 encode differently")
	}
	if !bytes.Equal(EncodeIndexValue(3), EncodeIndexValue(3.0)) {
		t.Error("int 3 and float 3 encode differently")
	}
}

func TestDecodeIndexScalarInvertsTheEncoding(t *testing.T) {
	values := []any{0.0, 1.0, -1.0, 0.5, -0.25, 1e300, -1e300, 5e-324, math.MaxFloat64, -math.SmallestNonzeroFloat64,
		float64(1 << 53), "", "a", "a\x00b", "\x00", "\x00\x00\xff", "héllo ✓", strings.Repeat("x", MaxIndexValue-4), true, false}
	for _, v := range values {
		got, ok := DecodeIndexScalar(EncodeIndexValue(v))
		if !ok || got != v {
			t.Errorf("DecodeIndexScalar(EncodeIndexValue(%#v)) = %#v, %v", v, got, ok)
		}
	}
	if got, ok := DecodeIndexScalar(EncodeIndexValue(math.Copysign(0, -1))); !ok || got != 0.0 {
		t.Errorf("-0 decodes as %#v, %v; want 0", got, ok)
	}
	// Not scalars, or possibly cut: refused.
	for _, v := range []any{nil, []any{1.0}, map[string]any{"a": 1.0}, strings.Repeat("x", MaxIndexValue)} {
		enc := cutIndexValue(EncodeIndexValue(v))
		if got, ok := DecodeIndexScalar(enc); ok {
			t.Errorf("DecodeIndexScalar(encoding of %.40v) = %#v, want refused", v, got)
		}
	}
	// Malformed encodings are refused, never misread.
	for _, b := range [][]byte{{}, {tagNumber, 1, 2}, {tagBool, 2}, {tagString, 'a'}, {tagString, 'a', 0, 1, 'b'}, {tagString, 0, 7}} {
		if got, ok := DecodeIndexScalar(b); ok {
			t.Errorf("DecodeIndexScalar(%x) = %#v, want refused", b, got)
		}
	}
}
