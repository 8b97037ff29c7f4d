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
)

// BenchmarkGetByID measures the handler's own cost of GET /rest/c/ID (no network): keys,
// routing, metrics, store read and encoding. Run with -cpuprofile to see where it goes.
func BenchmarkGetByID(b *testing.B) {
	st, err := store.Open(filepath.Join(b.TempDir(), "restkube.db"), store.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	docs, err := st.Insert("items", []store.Doc{{"name": "apple", "n": 1.0, "tags": []any{"red", "green"}, "note": "a short note about the apple"}}, "api")
	if err != nil {
		b.Fatal(err)
	}
	srv, err := New(Options{
		Store:    st,
		Settings: settings.StaticSource(testConfig()),
		Logger:   slog.New(slog.NewJSONHandler(io.Discard, nil)),
		Registry: prometheus.NewRegistry(),
	})
	if err != nil {
		b.Fatal(err)
	}
	path := "/rest/items/" + docs[0]["_id"].(string)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			req := httptest.NewRequest(http.MethodGet, path, nil)
			req.Header.Set("x-apikey", fullKey)
			rec := httptest.NewRecorder()
			srv.ServeHTTP(rec, req)
			if rec.Code != http.StatusOK {
				b.Fatalf("status %d: %s", rec.Code, rec.Body)
			}
		}
	})
}

// BenchmarkIndexedQuery measures the handler's own cost of the benchmark's indexed range query
// (n > X, sorted by n, max 20) over 10k documents: parsing, planning, the page and its writing.
func BenchmarkIndexedQuery(b *testing.B) {
	st, err := store.Open(filepath.Join(b.TempDir(), "restkube.db"), store.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	if err := st.SetIndexes(map[string][]string{"items": {"n"}}); err != nil {
		b.Fatal(err)
	}
	for i := 0; i < 10_000; i += 1000 {
		docs := make([]store.Doc, 0, 1000)
		for j := i; j < i+1000; j++ {
			docs = append(docs, store.Doc{"n": float64(j), "title": fmt.Sprintf("Task number %d with a moderately long title", j),
				"done": j%3 == 0, "tags": []any{"work", "home"}, "notes": "Some notes that make the document a little larger."})
		}
		if _, err := st.Insert("items", docs, "api"); err != nil {
			b.Fatal(err)
		}
	}
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
	var i atomic.Int64
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			q := url.Values{"q": {fmt.Sprintf(`{"n":{"$gt":%d}}`, i.Add(7919)%10_000)}, "sort": {"n"}, "max": {"20"}}
			req := httptest.NewRequest(http.MethodGet, "/rest/items?"+q.Encode(), nil)
			req.Header.Set("x-apikey", fullKey)
			rec := httptest.NewRecorder()
			srv.ServeHTTP(rec, req)
			if rec.Code != http.StatusOK {
				b.Fatalf("status %d: %s", rec.Code, rec.Body)
			}
		}
	})
}
