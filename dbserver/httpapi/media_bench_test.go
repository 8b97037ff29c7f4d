package httpapi

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"

	"github.com/restkube/restkube/dbserver/media"
	"github.com/restkube/restkube/dbserver/settings"
	"github.com/restkube/restkube/dbserver/store"
)

// BenchmarkMediaThumbnail serves a kept thumbnail through the whole handler chain, in process:
// what the server spends per request of make bench's media thumbnail row.
func BenchmarkMediaThumbnail(b *testing.B) {
	dir := b.TempDir()
	st, err := store.Open(filepath.Join(dir, "restkube.db"), store.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	a, err := media.Open(media.Options{Dir: filepath.Join(dir, "media"), Store: st})
	if err != nil {
		b.Fatal(err)
	}
	srv, err := New(Options{Store: st, Settings: settings.StaticSource(mediaConfig()), Media: a})
	if err != nil {
		b.Fatal(err)
	}
	u, _ := a.NewUpload("api", 1<<30)
	m, err := u.Add("p.png", "", bytes.NewReader(testPNG(b, 1024, 768)))
	if err != nil {
		b.Fatal(err)
	}
	if _, err := u.Commit(); err != nil {
		b.Fatal(err)
	}
	url := "/media/" + m.ID + "?s=t"
	if rec := serve(srv, url); rec.Code != http.StatusOK {
		b.Fatalf("status %d", rec.Code)
	}
	b.ReportAllocs()
	for b.Loop() {
		if rec := serve(srv, url); rec.Code != http.StatusOK {
			b.Fatalf("status %d", rec.Code)
		}
	}
}

func serve(h http.Handler, url string) *httptest.ResponseRecorder {
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, url, nil))
	return rec
}
