package httpapi

import (
	"bytes"
	"encoding/json"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/restkube/restkube/dbserver/media"
	"github.com/restkube/restkube/dbserver/settings"
	"github.com/restkube/restkube/dbserver/store"
)

const (
	mediaKey       = "web-media-key-0123456789"    // GET and POST on /media/**
	mediaReadKey   = "web-media-read-0123456789"   // GET on /media/*/meta only
	mediaDeleteKey = "web-media-del-0123456789"    // DELETE on /media/*
	boundary       = "restkube-test-boundary-1234" // of every multipart body below
	mediaLimit     = 64 << 10
)

var multipartType = "multipart/form-data; boundary=" + boundary

// mediaConfig is testConfig with media keys, a media access rule and a small upload limit.
func mediaConfig() *settings.Config {
	cfg := testConfig()
	cfg.Settings.APIKeys.Web = append(cfg.Settings.APIKeys.Web,
		settings.WebKey{Name: "media", Key: mediaKey, Paths: []string{"/media/**"}, Methods: []string{"GET", "POST"}},
		settings.WebKey{Name: "media-read", Key: mediaReadKey, Paths: []string{"/media/*/meta"}},
		settings.WebKey{Name: "media-del", Key: mediaDeleteKey, Paths: []string{"/media/*"}, Methods: []string{"DELETE"}},
	)
	cfg.Settings.Collections = append(cfg.Settings.Collections, settings.Collection{
		Name: "media", Private: true,
		Access: map[string]settings.Rights{"external": {Read: true, Write: true}, "viewer": {Read: true}},
	})
	cfg.Settings.Limits.MaxMediaBytes = mediaLimit
	return cfg
}

// mediaEnv is an env serving an archive, seeded with files named in e.ids:
// {png} a 300×150 PNG by api, {html} an HTML page, {svg} an SVG image, {alice} and {bob}
// text files by those users, and {png.file} the PNG's file name.
type mediaEnv struct {
	*env
	a   *media.Archive
	png []byte
}

func newMediaEnv(t *testing.T) *mediaEnv {
	t.Helper()
	me := &mediaEnv{png: testPNG(t, 300, 150)}
	me.env = newEnv(t, func(o *Options) {
		o.Settings = settings.StaticSource(mediaConfig())
		a, err := media.Open(media.Options{Dir: filepath.Join(t.TempDir(), "media"), Store: o.Store, Registry: o.Registry})
		if err != nil {
			t.Fatal(err)
		}
		me.a, o.Media = a, a
	})
	put := func(by, name, content string) media.Meta {
		u, err := me.a.NewUpload(by, 1<<20)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := u.Add(name, "", strings.NewReader(content)); err != nil {
			t.Fatal(err)
		}
		ms, err := u.Commit()
		if err != nil {
			t.Fatal(err)
		}
		return ms[0]
	}
	p := put("api", "Bild ü.png", string(me.png))
	me.ids["png"], me.ids["png.file"] = p.ID, p.File
	me.ids["html"] = put("api", "page.html", "<html><body><script>alert(document.cookie)</script></body></html>").ID
	me.ids["svg"] = put("api", "x.svg", `<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>`).ID
	me.ids["alice"] = put("alice@example.com", "alice.txt", "alice's notes").ID
	me.ids["bob"] = put("bob@example.com", "bob.txt", "bob's notes").ID
	return me
}

func testPNG(t testing.TB, w, h int) []byte {
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			img.SetNRGBA(x, y, color.NRGBA{uint8(x), uint8(y), 90, 255})
		}
	}
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// formFile is one part of a multipart body: a file when filename is set, else a plain field.
type formFile struct{ field, filename, content string }

func multipartBody(t *testing.T, parts ...formFile) string {
	var b bytes.Buffer
	mw := multipart.NewWriter(&b)
	if err := mw.SetBoundary(boundary); err != nil {
		t.Fatal(err)
	}
	for _, p := range parts {
		var err error
		if p.filename != "" {
			w, cerr := mw.CreateFormFile(p.field, p.filename)
			if cerr != nil {
				t.Fatal(cerr)
			}
			_, err = w.Write([]byte(p.content))
		} else {
			err = mw.WriteField(p.field, p.content)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	if err := mw.Close(); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

func upload(h map[string]string) map[string]string { return with(h, "Content-Type", multipartType) }

// mediaScenario is one exchange with a fresh mediaEnv.
type mediaScenario struct {
	name     string
	method   string
	url      string
	headers  map[string]string
	body     string
	status   int
	contains []string
	absent   []string
	header   map[string]string
	after    func(t *testing.T, e *mediaEnv, r response)
}

func runMedia(t *testing.T, scenarios []mediaScenario) {
	t.Helper()
	for _, sc := range scenarios {
		t.Run(sc.name, func(t *testing.T) {
			e := newMediaEnv(t)
			r := e.do(sc.method, sc.url, sc.headers, sc.body)
			if r.status != sc.status {
				t.Fatalf("status %d, want %d; body %.300s", r.status, sc.status, r.body)
			}
			for _, c := range sc.contains {
				if c = e.expand(c); !strings.Contains(r.body, c) {
					t.Errorf("body lacks %q: %.300s", c, r.body)
				}
			}
			for _, c := range sc.absent {
				if c = e.expand(c); strings.Contains(r.body, c) {
					t.Errorf("body holds %q: %.300s", c, r.body)
				}
			}
			for k, v := range sc.header {
				if got := r.header.Get(k); got != e.expand(v) {
					t.Errorf("header %s = %q, want %q", k, got, e.expand(v))
				}
			}
			if sc.after != nil {
				sc.after(t, e, r)
			}
		})
	}
}

// filesAfter checks the archive holds n files and that nothing is left in tmp/.
func filesAfter(n int64) func(t *testing.T, e *mediaEnv, r response) {
	return func(t *testing.T, e *mediaEnv, r response) {
		t.Helper()
		if got := e.a.Files(); got != n {
			t.Errorf("archive holds %d files, want %d", got, n)
		}
		left, _ := os.ReadDir(filepath.Join(e.a.Dir(), media.TmpDir))
		if len(left) != 0 {
			t.Errorf("tmp/ holds %d files", len(left))
		}
	}
}

func TestMediaUpload(t *testing.T) {
	two := multipartBody(t,
		formFile{"file", "a.txt", "first file"},
		formFile{"title", "", "a plain field, skipped"},
		formFile{"Image", "b.png", string(testPNG(t, 20, 10))},
	)
	one := multipartBody(t, formFile{"myfile", "one.txt", "hello"})
	uploaded := func(n int) func(t *testing.T, e *mediaEnv, r response) {
		return func(t *testing.T, e *mediaEnv, r response) {
			var out struct {
				Msg      string   `json:"msg"`
				UploadID string   `json:"uploadid"`
				IDs      []string `json:"ids"`
			}
			if err := json.Unmarshal([]byte(r.body), &out); err != nil || out.Msg != "OK" || len(out.IDs) != n || !media.ValidID(out.UploadID) {
				t.Fatalf("answer %s (%v): want msg OK, an uploadid and %d ids", r.body, err, n)
			}
			for _, id := range out.IDs {
				m, err := e.a.Get(id)
				if err != nil || m.UploadID != out.UploadID {
					t.Errorf("uploaded %s: %+v, %v", id, m, err)
				}
			}
			filesAfter(int64(5+n))(t, e, r)
		}
	}
	runMedia(t, []mediaScenario{
		{name: "the full key uploads several files from any field names", method: "POST", url: "/media", headers: upload(key(fullKey)), body: two, status: 201, after: uploaded(2)},
		{name: "a web key allowing POST on /media/** uploads", method: "POST", url: "/media", headers: upload(key(mediaKey)), body: one, status: 201, after: uploaded(1)},
		{name: "an external user with write on media uploads", method: "POST", url: "/media/", headers: upload(bearer("alice")), body: one, status: 201, after: uploaded(1)},
		{name: "no credentials is 401", method: "POST", url: "/media", headers: upload(nil), body: one, status: 401, after: filesAfter(5)},
		{name: "a web key for other paths is 403", method: "POST", url: "/media", headers: upload(key(readerKey)), body: one, status: 403, after: filesAfter(5)},
		{name: "a web key without POST is 403", method: "POST", url: "/media", headers: upload(key(mediaReadKey)), body: one, status: 403},
		{name: "a read-only role is 403", method: "POST", url: "/media", headers: upload(bearer("viewer")), body: one, status: 403},
		{name: "a role without a media rule is 403", method: "POST", url: "/media", headers: upload(bearer("stranger")), body: one, status: 403},
		{name: "a body that is not multipart is 400", method: "POST", url: "/media", headers: with(key(fullKey), "Content-Type", "application/json"), body: `{"file":"x"}`, status: 400, contains: []string{"multipart/form-data"}},
		{name: "a multipart body without a file is 400", method: "POST", url: "/media", headers: upload(key(fullKey)), body: multipartBody(t, formFile{"title", "", "x"}), status: 400, contains: []string{"no file"}, after: filesAfter(5)},
		{name: "a truncated body is 400 and keeps nothing", method: "POST", url: "/media", headers: upload(key(fullKey)), body: two[:len(two)-40], status: 400, contains: []string{"malformed"}, absent: []string{"tmp", "/"}, after: filesAfter(5)},
		{name: "a file over limits.maxMediaBytes is 413 and keeps nothing", method: "POST", url: "/media", headers: upload(key(fullKey)),
			body: multipartBody(t, formFile{"file", "big.bin", strings.Repeat("x", mediaLimit+1)}), status: 413, contains: []string{`"PayloadTooLarge"`, "limits.maxMediaBytes"}, after: filesAfter(5)},
		{name: "files each under the limit but over it together are 413 and keep nothing", method: "POST", url: "/media", headers: upload(key(fullKey)),
			body: multipartBody(t, formFile{"file", "a.bin", strings.Repeat("a", mediaLimit*2/3)}, formFile{"file", "b.bin", strings.Repeat("b", mediaLimit*2/3)}), status: 413, after: filesAfter(5)},
		{name: "a body far over the limit is refused by its length", method: "POST", url: "/media", headers: upload(key(fullKey)),
			body: multipartBody(t, formFile{"file", "huge.bin", strings.Repeat("x", mediaLimit+2<<20)}), status: 413, after: filesAfter(5)},
		{name: "GET /media is not a listing", method: "GET", url: "/media", headers: key(fullKey), status: 405},
	})
}

func TestMediaDownload(t *testing.T) {
	runMedia(t, []mediaScenario{
		{name: "a file by id needs no credentials (the <img src> case)", method: "GET", url: "/media/{png}", status: 200,
			header: map[string]string{"Content-Type": "image/png", "X-Content-Type-Options": "nosniff", "ETag": `"{png}"`,
				"Content-Disposition": `inline; filename*=utf-8''Bild%20%C3%BC.png`, "Content-Security-Policy": mediaCSP},
			after: func(t *testing.T, e *mediaEnv, r response) {
				if r.body != string(e.png) {
					t.Errorf("served %d bytes, not the uploaded %d", len(r.body), len(e.png))
				}
				if r.header.Get("Last-Modified") == "" {
					t.Error("no Last-Modified")
				}
			}},
		{name: "a file by its file name", method: "GET", url: "/media/{png.file}", status: 200, header: map[string]string{"Content-Type": "image/png"}},
		{name: "credentials are not needed and not judged on a read", method: "GET", url: "/media/{png}", headers: key("not-a-key"), status: 200},
		{name: "a range", method: "GET", url: "/media/{png}", headers: map[string]string{"Range": "bytes=0-7"}, status: 206,
			header: map[string]string{"Content-Length": "8"}, contains: []string{"\x89PNG\r\n\x1a\n"}},
		{name: "a range past the end is 416 with the JSON error body", method: "GET", url: "/media/{png}", headers: map[string]string{"Range": "bytes=100000000-"}, status: 416,
			header:   map[string]string{"Content-Type": "application/json; charset=utf-8", "X-Content-Type-Options": "nosniff"},
			contains: []string{`"RangeNotSatisfiable"`, `"status":416`},
			after: func(t *testing.T, e *mediaEnv, r response) {
				if cr, want := r.header.Get("Content-Range"), fmt.Sprintf("bytes */%d", len(e.png)); cr != want {
					t.Errorf("Content-Range %q, want %q", cr, want)
				}
				if cd := r.header.Get("Content-Disposition"); cd != "" {
					t.Errorf("Content-Disposition %q on an error", cd)
				}
			}},
		{name: "a conditional GET with the ETag is 304", method: "GET", url: "/media/{png}", headers: map[string]string{"If-None-Match": `"{png}"`}, status: 304},
		{name: "HEAD answers the headers only", method: "HEAD", url: "/media/{png}", status: 200, header: map[string]string{"Content-Type": "image/png"}},
		{name: "a thumbnail is 128 px wide", method: "GET", url: "/media/{png}?s=t", status: 200, header: map[string]string{"Content-Type": "image/png", "ETag": `"{png}t"`},
			after: func(t *testing.T, e *mediaEnv, r response) {
				c, err := png.DecodeConfig(strings.NewReader(r.body))
				if err != nil || c.Width != 128 || c.Height != 64 {
					t.Errorf("thumbnail %dx%d (%v), want 128x64", c.Width, c.Height, err)
				}
			}},
		{name: "the web size of an image narrower than 640 px is the original", method: "GET", url: "/media/{png}?s=w", status: 200,
			after: func(t *testing.T, e *mediaEnv, r response) {
				if r.body != string(e.png) {
					t.Error("not the original")
				}
			}},
		{name: "a size of a file that is not an image is 400", method: "GET", url: "/media/{alice}?s=t", status: 400, contains: []string{"JPEG, PNG and GIF"}},
		{name: "an unknown size is 400", method: "GET", url: "/media/{png}?s=huge", status: 400},
		{name: "an unknown id is 404", method: "GET", url: "/media/0123456789abcdef01234567", status: 404, contains: []string{`"NotFound"`}},
		{name: "the name the client uploaded is not a way in", method: "GET", url: "/media/Bild%20%C3%BC.png", status: 404},
		{name: "a path-like name finds nothing", method: "GET", url: "/media/..%2f..%2frestkube.db", status: 404},
		{name: "PUT is 405", method: "PUT", url: "/media/{png}", headers: key(fullKey), status: 405},
	})
}

// Uploaded active content is never served inline on the database's origin.
func TestMediaActiveContentIsNotServedInline(t *testing.T) {
	for _, file := range []string{"html", "svg"} {
		runMedia(t, []mediaScenario{{
			name: file + " is an attachment of type application/octet-stream", method: "GET", url: "/media/{" + file + "}", status: 200,
			header: map[string]string{"Content-Type": "application/octet-stream", "X-Content-Type-Options": "nosniff", "Content-Security-Policy": mediaCSP},
			after: func(t *testing.T, e *mediaEnv, r response) {
				if cd := r.header.Get("Content-Disposition"); !strings.HasPrefix(cd, "attachment;") {
					t.Errorf("Content-Disposition %q, want an attachment", cd)
				}
			},
		}})
	}
	// The type a client declares does not matter: HTML declared as image/png is still HTML.
	e := newMediaEnv(t)
	var b bytes.Buffer
	mw := multipart.NewWriter(&b)
	_ = mw.SetBoundary(boundary)
	h := map[string][]string{"Content-Disposition": {`form-data; name="file"; filename="cat.png"`}, "Content-Type": {"image/png"}}
	w, _ := mw.CreatePart(h)
	_, _ = w.Write([]byte("<html><script>alert(1)</script></html>"))
	_ = mw.Close()
	r := e.do("POST", "/media", upload(key(fullKey)), b.String())
	var out struct{ IDs []string }
	if err := json.Unmarshal([]byte(r.body), &out); err != nil || len(out.IDs) != 1 {
		t.Fatalf("upload: %d %s", r.status, r.body)
	}
	got := e.do("GET", "/media/"+out.IDs[0], nil, "")
	if ct := got.header.Get("Content-Type"); ct != "application/octet-stream" || !strings.HasPrefix(got.header.Get("Content-Disposition"), "attachment") {
		t.Errorf("HTML declared as image/png served as %q, %q", ct, got.header.Get("Content-Disposition"))
	}
}

func TestMediaMeta(t *testing.T) {
	runMedia(t, []mediaScenario{
		{name: "the full key reads metadata", method: "GET", url: "/media/{png}/meta", headers: key(fullKey), status: 200,
			contains: []string{`"_id":"{png}"`, `"origname":"Bild ü.png"`, `"mimetype":"image/png"`, `"width":300`, `"_createdby":"api"`, `"file":"{png.file}"`}},
		{name: "a web key on /media/*/meta reads it", method: "GET", url: "/media/{png}/meta", headers: key(mediaReadKey), status: 200},
		{name: "a web key for other paths is 403", method: "GET", url: "/media/{png}/meta", headers: key(readerKey), status: 403},
		{name: "no credentials is 401", method: "GET", url: "/media/{png}/meta", status: 401},
		{name: "an external user reads the metadata of its own file", method: "GET", url: "/media/{alice}/meta", headers: bearer("alice"), status: 200, contains: []string{"alice@example.com"}},
		{name: "in a private archive another user's file is 404", method: "GET", url: "/media/{bob}/meta", headers: bearer("alice"), status: 404},
		{name: "a role without a media rule is 403", method: "GET", url: "/media/{png}/meta", headers: bearer("stranger"), status: 403},
		{name: "a malformed id is 400", method: "GET", url: "/media/xyz/meta", headers: key(fullKey), status: 400},
		{name: "an unknown id is 404", method: "GET", url: "/media/0123456789abcdef01234567/meta", headers: key(fullKey), status: 404},
	})
}

func TestMediaDelete(t *testing.T) {
	gone := func(name string) func(t *testing.T, e *mediaEnv, r response) {
		return func(t *testing.T, e *mediaEnv, r response) {
			if got := e.do("GET", "/media/{"+name+"}", nil, ""); got.status != 404 {
				t.Errorf("GET after delete: %d", got.status)
			}
			if _, err := os.Stat(filepath.Join(e.a.Dir(), e.ids[name])); !os.IsNotExist(err) {
				t.Errorf("the file is still on disk: %v", err)
			}
		}
	}
	kept := func(t *testing.T, e *mediaEnv, r response) {
		if got := e.do("GET", "/media/{bob}", nil, ""); got.status != 200 {
			t.Errorf("the file is gone after a refused delete: %d", got.status)
		}
	}
	runMedia(t, []mediaScenario{
		{name: "the full key deletes", method: "DELETE", url: "/media/{png}", headers: key(fullKey), status: 200, contains: []string{`{"result":["{png}"]}`}, after: gone("png")},
		{name: "a web key allowing DELETE deletes", method: "DELETE", url: "/media/{bob}", headers: key(mediaDeleteKey), status: 200, after: gone("bob")},
		{name: "X-HTTP-Method-Override DELETE on a POST deletes", method: "POST", url: "/media/{bob}", headers: with(key(fullKey), "X-HTTP-Method-Override", "DELETE"), status: 200, after: gone("bob")},
		{name: "a web key without DELETE is 403", method: "DELETE", url: "/media/{bob}", headers: key(mediaKey), status: 403, after: kept},
		{name: "an external user deletes its own file", method: "DELETE", url: "/media/{bob}", headers: bearer("bob"), status: 200, after: gone("bob")},
		{name: "an external user cannot delete another's file in a private archive", method: "DELETE", url: "/media/{bob}", headers: bearer("alice"), status: 404, after: kept},
		{name: "a read-only role cannot delete", method: "DELETE", url: "/media/{bob}", headers: bearer("viewer"), status: 403, after: kept},
		{name: "no credentials is 401", method: "DELETE", url: "/media/{bob}", status: 401, after: kept},
		{name: "a file name is not a delete target", method: "DELETE", url: "/media/{png.file}", headers: key(fullKey), status: 400},
		{name: "an unknown id is 404", method: "DELETE", url: "/media/0123456789abcdef01234567", headers: key(fullKey), status: 404},
	})
}

func TestMediaMetricsAndUnmounted(t *testing.T) {
	e := newMediaEnv(t)
	e.do("GET", "/media/{png}?s=t", nil, "")
	r := e.do("GET", "/metrics", nil, "")
	for _, want := range []string{"restkube_media_files 5", "restkube_media_bytes ", "restkube_media_uploads_total 5", `restkube_media_downloads_total{size="t"} 1`} {
		if !strings.Contains(r.body, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	plain := newEnv(t)
	if r := plain.do("GET", "/media/0123456789abcdef01234567", nil, ""); r.status != http.StatusNotFound || !strings.Contains(r.body, `"NotFound"`) {
		t.Errorf("without an archive /media answers %d %s", r.status, r.body)
	}
}

// slowBody yields its parts one at a time, pausing before each: a slow uploader.
type slowBody struct {
	parts [][]byte
	pause time.Duration
}

func (b *slowBody) Read(p []byte) (int, error) {
	if len(b.parts) == 0 {
		return 0, io.EOF
	}
	time.Sleep(b.pause) // the slow client being simulated, not a wait for a result
	n := copy(p, b.parts[0])
	if n == len(b.parts[0]) {
		b.parts = b.parts[1:]
	} else {
		b.parts[0] = b.parts[0][n:]
	}
	return n, nil
}

// An upload that takes longer than the server's ReadTimeout, but never stalls, completes:
// the media routes bound stalls, not whole uploads.
func TestMediaSlowUploadOutlivesTheReadTimeout(t *testing.T) {
	st, err := store.Open(filepath.Join(t.TempDir(), "restkube.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	a, err := media.Open(media.Options{Dir: filepath.Join(t.TempDir(), "media"), Store: st})
	if err != nil {
		t.Fatal(err)
	}
	srv, err := New(Options{Store: st, Settings: settings.StaticSource(mediaConfig()), Media: a})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewUnstartedServer(srv)
	hs.Config.ReadTimeout = 400 * time.Millisecond
	hs.Start()
	defer hs.Close()

	full := []byte(multipartBody(t, formFile{"file", "slow.bin", strings.Repeat("s", 8000)}))
	body := &slowBody{pause: 150 * time.Millisecond}
	for i := 0; i < len(full); i += 1000 {
		body.parts = append(body.parts, full[i:min(i+1000, len(full))])
	}
	req, _ := http.NewRequest(http.MethodPost, hs.URL+"/media", body)
	req.ContentLength = int64(len(full))
	req.Header.Set("Content-Type", multipartType)
	req.Header.Set("x-apikey", fullKey)
	start := time.Now()
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("a slow upload was cut after %s: %v", time.Since(start), err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	if res.StatusCode != http.StatusCreated {
		t.Fatalf("slow upload: %d %s", res.StatusCode, b)
	}
	if took := time.Since(start); took < hs.Config.ReadTimeout {
		t.Fatalf("the upload took %s, less than the read timeout: the test proves nothing", took)
	}
	if a.Files() != 1 {
		t.Errorf("archive holds %d files", a.Files())
	}
}

// A failure to store an upload is ours: a 500 that names no file, with nothing kept.
func TestMediaStorageFailureIs500WithoutPaths(t *testing.T) {
	e := newMediaEnv(t)
	tmp := filepath.Join(e.a.Dir(), media.TmpDir)
	if err := os.RemoveAll(tmp); err != nil {
		t.Fatal(err)
	}
	r := e.do("POST", "/media", upload(key(fullKey)), multipartBody(t, formFile{"file", "a.txt", "x"}))
	if r.status != http.StatusInternalServerError || strings.Contains(r.body, e.a.Dir()) || strings.Contains(r.body, "tmp") {
		t.Errorf("answer %d %s: want a 500 naming no path", r.status, r.body)
	}
	if !strings.Contains(e.logs.String(), "tmp") {
		t.Error("the cause was not logged")
	}
	if e.a.Files() != 5 {
		t.Errorf("archive holds %d files, want the 5 seeded", e.a.Files())
	}
}
