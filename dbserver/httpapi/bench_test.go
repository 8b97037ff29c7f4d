package httpapi

import (
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"sync/atomic"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/restkube/restkube/dbserver/settings"
	"github.com/restkube/restkube/dbserver/store"
	"github.com/restkube/restkube/internal/benchdoc"
)

// benchStore opens a store for a benchmark, closed when it ends.
func benchStore(b *testing.B) *store.Store {
	b.Helper()
	st, err := store.Open(filepath.Join(b.TempDir(), "restkube.db"), store.Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { st.Close() })
	return st
}

// benchGET serves GET path() with the full key from parallel goroutines, without a network,
// and fails on any status but 200.
func benchGET(b *testing.B, st *store.Store, path func() string) {
	b.Helper()
	srv, err := New(Options{
		Store:    st,
		Settings: settings.StaticSource(testConfig()),
		Logger:   slog.New(slog.NewJSONHandler(io.Discard, nil)),
		Registry: prometheus.NewRegistry(),
	})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			req := httptest.NewRequest(http.MethodGet, path(), nil)
			req.Header.Set("x-apikey", fullKey)
			rec := httptest.NewRecorder()
			srv.ServeHTTP(rec, req)
			if rec.Code != http.StatusOK {
				b.Fatalf("status %d: %s", rec.Code, rec.Body)
			}
		}
	})
}

// BenchmarkGetByID measures the handler's own cost of GET /rest/c/ID (no network): keys,
// routing, metrics, store read and encoding. Run with -cpuprofile to see where it goes.
func BenchmarkGetByID(b *testing.B) {
	st := benchStore(b)
	docs, err := st.Insert("items", []store.Doc{{"name": "apple", "n": 1.0, "tags": []any{"red", "green"}, "note": "a short note about the apple"}}, "api")
	if err != nil {
		b.Fatal(err)
	}
	path := "/rest/items/" + docs[0]["_id"].(string)
	benchGET(b, st, func() string { return path })
}

// BenchmarkIndexedQuery measures the handler's own cost of the benchmark's indexed range query
// (n > X, sorted by n, max 20) over 10k documents: parsing, planning, the page and its writing.
func BenchmarkIndexedQuery(b *testing.B) {
	st := benchStore(b)
	if err := st.SetIndexes(map[string][]string{"items": {"n"}}); err != nil {
		b.Fatal(err)
	}
	for i := 0; i < 10_000; i += 1000 {
		docs := make([]store.Doc, 0, 1000)
		for j := i; j < i+1000; j++ {
			docs = append(docs, benchdoc.Doc(j))
		}
		if _, err := st.Insert("items", docs, "api"); err != nil {
			b.Fatal(err)
		}
	}
	var i atomic.Int64
	benchGET(b, st, func() string {
		q := url.Values{"q": {fmt.Sprintf(`{"n":{"$gt":%d}}`, i.Add(7919)%10_000)}, "sort": {"n"}, "max": {"20"}}
		return "/rest/items?" + q.Encode()
	})
}
