package httpapi

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
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
