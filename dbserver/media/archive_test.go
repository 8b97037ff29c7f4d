package media

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"image"
	"image/color"
	"image/gif"
	"image/jpeg"
	"image/png"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/restkube/restkube/dbserver/store"
)

// The backup package calls the archive through this interface of its own.
var _ interface {
	Dir() string
	Pin() (release func())
} = (*Archive)(nil)

// testArchive opens a store and an archive in a fresh directory.
func testArchive(t *testing.T, opts Options) (*Archive, string) {
	t.Helper()
	dir := t.TempDir()
	st := openStore(t, dir)
	opts.Dir, opts.Store = filepath.Join(dir, "media"), st
	a, err := Open(opts)
	if err != nil {
		t.Fatal(err)
	}
	return a, dir
}

func openStore(t *testing.T, dir string) *store.Store {
	t.Helper()
	st, err := store.Open(filepath.Join(dir, "restkube.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	return st
}

// payload is n pseudo-random bytes from seed: content a test can regenerate to compare.
func payload(seed uint64, n int) []byte {
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

// upload stores files (name → content) in one upload and returns their metadata.
func upload(t *testing.T, a *Archive, files ...[2]string) []Meta {
	t.Helper()
	u, err := a.NewUpload("api", 1<<30)
	if err != nil {
		t.Fatal(err)
	}
	defer u.Abort()
	for _, f := range files {
		if _, err := u.Add(f[0], "application/x-whatever", strings.NewReader(f[1])); err != nil {
			t.Fatal(err)
		}
	}
	ms, err := u.Commit()
	if err != nil {
		t.Fatal(err)
	}
	return ms
}

func readAll(t *testing.T, a *Archive, m *Meta, s Size) ([]byte, string) {
	t.Helper()
	c, err := a.Open(m, s)
	if err != nil {
		t.Fatalf("Open(%s, %q): %v", m.ID, s, err)
	}
	defer c.Close()
	b, err := io.ReadAll(c)
	if err != nil {
		t.Fatal(err)
	}
	if int64(len(b)) != c.Size {
		t.Errorf("Open(%s, %q) said %d bytes and gave %d", m.ID, s, c.Size, len(b))
	}
	return b, c.Type
}

func tmpEntries(t *testing.T, a *Archive) []string {
	t.Helper()
	es, err := os.ReadDir(a.tmp)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range es {
		names = append(names, e.Name())
	}
	return names
}

func TestUploadStoresFilesWithMetadata(t *testing.T) {
	at := time.Date(2026, 12, 4, 17, 30, 0, 123e6, time.UTC)
	a, _ := testArchive(t, Options{Now: func() time.Time { return at }})
	bin := string(payload(1, 300_000))
	const html = "<!DOCTYPE html><script>alert(1)</script>"
	ms := upload(t, a,
		[2]string{`C:\Users\me\Photos\Ferien 2026 ü.txt`, "hello, world\n"},
		[2]string{"../../etc/passwd", bin},
		[2]string{"page.html", html},
	)
	if len(ms) != 3 {
		t.Fatalf("got %d files, want 3", len(ms))
	}
	if ms[0].UploadID == "" || ms[0].UploadID != ms[1].UploadID || ms[0].UploadID == ms[0].ID {
		t.Errorf("upload ids %q %q: want one shared id apart from the files' ids", ms[0].UploadID, ms[1].UploadID)
	}
	want := []struct{ orig, file, mime string }{
		{"Ferien 2026 ü.txt", "Ferien_2026__.txt", "text/plain; charset=utf-8"},
		{"passwd", "passwd", "application/octet-stream"},
		{"page.html", "page.html", "text/html; charset=utf-8"},
	}
	for i, m := range ms {
		if !ValidID(m.ID) {
			t.Errorf("id %q is not 24 lowercase hex characters", m.ID)
		}
		if m.OrigName != want[i].orig || m.File != m.ID+"-"+want[i].file || m.MimeType != want[i].mime {
			t.Errorf("file %d: origname %q file %q mimetype %q; want %q, <id>-%q, %q", i, m.OrigName, m.File, m.MimeType, want[i].orig, want[i].file, want[i].mime)
		}
		if m.Created != "2026-12-04T17:30:00.123Z" || m.CreatedBy != "api" || m.ClientType != "application/x-whatever" {
			t.Errorf("file %d: created %q by %q clienttype %q", i, m.Created, m.CreatedBy, m.ClientType)
		}
		got, err := a.Get(m.ID)
		if err != nil || *got != m {
			t.Errorf("Get(%s) = %+v, %v; want %+v", m.ID, got, err, m)
		}
		byName, err := a.Lookup(m.File)
		if err != nil || byName.ID != m.ID {
			t.Errorf("Lookup(%q) = %v, %v", m.File, byName, err)
		}
	}
	if b, _ := readAll(t, a, &ms[1], Original); !bytes.Equal(b, []byte(bin)) || ms[1].Size != int64(len(bin)) {
		t.Errorf("stored content differs from the upload (size %d, want %d)", ms[1].Size, len(bin))
	}
	// Only the id or the exact stored file name find a file: not the bare name, not an id
	// with another name.
	for _, name := range []string{"page.html", ms[2].ID + "-other.html", ms[2].ID + "-", "x-page.html", strings.ToUpper(ms[2].ID)} {
		if _, err := a.Lookup(name); !errors.Is(err, ErrNotFound) {
			t.Errorf("Lookup(%q) = %v, want ErrNotFound", name, err)
		}
	}
	if a.Files() != 3 || a.Bytes() != int64(13+len(bin)+len(html)) {
		t.Errorf("Files, Bytes = %d, %d", a.Files(), a.Bytes())
	}
	if left := tmpEntries(t, a); len(left) != 0 {
		t.Errorf("tmp/ holds %v after a commit", left)
	}
}

func TestIDsAreRandomNotObjectIDs(t *testing.T) {
	a, _ := testArchive(t, Options{})
	ms := upload(t, a, [2]string{"a", "1"}, [2]string{"b", "2"}, [2]string{"c", "3"})
	// ObjectIDs made in the same second share their first 4 bytes and their 5 random bytes;
	// random ids share nothing but chance.
	same := 0
	for i := 0; i < 18; i += 2 {
		if ms[0].ID[i:i+2] == ms[1].ID[i:i+2] && ms[1].ID[i:i+2] == ms[2].ID[i:i+2] {
			same++
		}
	}
	if same > 3 {
		t.Errorf("ids %s %s %s share %d of their first 9 bytes: not random", ms[0].ID, ms[1].ID, ms[2].ID, same)
	}
}

func TestTooLargeKeepsNothing(t *testing.T) {
	a, _ := testArchive(t, Options{})
	u, err := a.NewUpload("api", 1000)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := u.Add("a", "", bytes.NewReader(make([]byte, 600))); err != nil {
		t.Fatal(err)
	}
	// 600 + 600 passes each file's limit but not the upload's.
	_, err = u.Add("b", "", bytes.NewReader(make([]byte, 600)))
	var tl *TooLargeError
	if !errors.As(err, &tl) || tl.Limit != 400 {
		t.Fatalf("second file: %v, want a TooLargeError with 400 bytes left", err)
	}
	u.Abort()
	if left := tmpEntries(t, a); len(left) != 0 {
		t.Errorf("tmp/ holds %v after Abort", left)
	}
	if _, err := u.Commit(); err == nil {
		t.Error("Commit after Abort succeeded")
	}
	u2, _ := a.NewUpload("api", 1000)
	if _, err := u2.Add("c", "", bytes.NewReader(make([]byte, 1001))); !errors.As(err, &tl) {
		t.Errorf("a single file over the limit: %v", err)
	}
	if left := tmpEntries(t, a); len(left) != 0 {
		t.Errorf("tmp/ holds %v after a refused file", left)
	}
	if a.Files() != 0 {
		t.Errorf("Files = %d after refused uploads", a.Files())
	}
}

func TestDeleteRemovesMetadataAndFiles(t *testing.T) {
	a, _ := testArchive(t, Options{})
	m := upload(t, a, [2]string{"p.png", string(pngBytes(t, 300, 200))})[0]
	if _, _ = readAll(t, a, &m, Thumb); !exists(filepath.Join(a.dir, m.ID+".t")) {
		t.Fatal("the thumbnail was not kept")
	}
	if _, err := a.Get(m.ID); err != nil { // now also in memory
		t.Fatal(err)
	}
	if err := a.Delete(m.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Get(m.ID); !errors.Is(err, ErrNotFound) {
		t.Errorf("Get after Delete: %v", err)
	}
	for _, name := range []string{m.ID, m.ID + ".t"} {
		if exists(filepath.Join(a.dir, name)) {
			t.Errorf("%s is still on disk", name)
		}
	}
	if err := a.Delete(m.ID); !errors.Is(err, ErrNotFound) {
		t.Errorf("second Delete: %v, want ErrNotFound", err)
	}
	if a.Files() != 0 || a.Bytes() != 0 {
		t.Errorf("Files, Bytes = %d, %d after deleting the only file", a.Files(), a.Bytes())
	}
}

func TestPinDefersUnlinksUntilTheLastRelease(t *testing.T) {
	a, _ := testArchive(t, Options{})
	ms := upload(t, a, [2]string{"a", "aaa"}, [2]string{"b", "bbb"})
	release1 := a.Pin()
	release2 := a.Pin()
	for _, m := range ms {
		if err := a.Delete(m.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := a.Get(m.ID); !errors.Is(err, ErrNotFound) {
			t.Errorf("metadata of %s survived Delete under a pin", m.ID)
		}
		if !exists(filepath.Join(a.dir, m.ID)) {
			t.Errorf("%s was unlinked while pinned", m.ID)
		}
	}
	release1()
	release1() // a second call of the same release does not count
	if !exists(filepath.Join(a.dir, ms[0].ID)) {
		t.Error("unlinked before the last pin was released")
	}
	release2()
	for _, m := range ms {
		if exists(filepath.Join(a.dir, m.ID)) {
			t.Errorf("%s still on disk after the last release", m.ID)
		}
	}
	// Without pins, a delete unlinks at once.
	m := upload(t, a, [2]string{"c", "c"})[0]
	_ = a.Delete(m.ID)
	if exists(filepath.Join(a.dir, m.ID)) {
		t.Error("unpinned delete left the file")
	}
}

func TestOpenSweepsLeftovers(t *testing.T) {
	a, dir := testArchive(t, Options{})
	keep := upload(t, a, [2]string{"k", "keep"})[0]
	orphan := "0123456789abcdef01234567"
	for name, content := range map[string]string{
		orphan: "no metadata", orphan + ".t": "its size", "tmp/upload-123": "half", "README": "not ours",
		keep.ID + ".w": "a size of a kept file",
	} {
		if err := os.WriteFile(filepath.Join(a.dir, name), []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	a2, err := Open(Options{Dir: a.dir, Store: a.st})
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]bool{orphan: false, orphan + ".t": false, "tmp/upload-123": false, "README": true, keep.ID: true, keep.ID + ".w": true} {
		if got := exists(filepath.Join(a.dir, name)); got != want {
			t.Errorf("after Open, %s exists = %v, want %v", name, got, want)
		}
	}
	if a2.Files() != 1 || a2.Bytes() != 4 {
		t.Errorf("counted %d files, %d bytes; want 1, 4", a2.Files(), a2.Bytes())
	}
	_ = dir
}

func TestImageSizes(t *testing.T) {
	a, _ := testArchive(t, Options{})
	ms := upload(t, a,
		[2]string{"wide.png", string(pngBytes(t, 1000, 500))},
		[2]string{"photo.jpg", string(jpegBytes(t, 800, 1200))},
		[2]string{"small.gif", string(gifBytes(t, 100, 40))},
		[2]string{"doc.txt", "just text"},
	)
	if ms[0].Width != 1000 || ms[0].Height != 500 || ms[1].Width != 800 || ms[2].Height != 40 || ms[3].Width != 0 {
		t.Errorf("dimensions: %dx%d %dx%d %dx%d %dx%d", ms[0].Width, ms[0].Height, ms[1].Width, ms[1].Height, ms[2].Width, ms[2].Height, ms[3].Width, ms[3].Height)
	}
	cases := []struct {
		m          int
		s          Size
		w, h       int
		typ        string
		isOriginal bool
	}{
		{0, Thumb, 128, 64, "image/png", false},
		{0, Web, 640, 320, "image/png", false},
		{1, Thumb, 128, 192, "image/jpeg", false},
		{1, Web, 640, 960, "image/jpeg", false},
		{2, Thumb, 100, 40, "image/gif", true}, // never enlarged: the original
	}
	for _, c := range cases {
		b, typ := readAll(t, a, &ms[c.m], c.s)
		cfg, format, err := image.DecodeConfig(bytes.NewReader(b))
		if err != nil || cfg.Width != c.w || cfg.Height != c.h || typ != c.typ || "image/"+format != c.typ {
			t.Errorf("%s ?s=%s: %dx%d %s (%s, %v); want %dx%d %s", ms[c.m].OrigName, c.s, cfg.Width, cfg.Height, typ, format, err, c.w, c.h, c.typ)
		}
		if got := exists(filepath.Join(a.dir, ms[c.m].ID+"."+string(c.s))); got == c.isOriginal {
			t.Errorf("%s ?s=%s: kept size on disk = %v", ms[c.m].OrigName, c.s, got)
		}
	}
	// Made once: the second request reads the kept file.
	path := filepath.Join(a.dir, ms[0].ID+".t")
	before, _ := os.Stat(path)
	readAll(t, a, &ms[0], Thumb)
	if after, _ := os.Stat(path); !os.SameFile(before, after) || !after.ModTime().Equal(before.ModTime()) {
		t.Error("the thumbnail was made again")
	}
	if _, err := a.Open(&ms[3], Thumb); !errors.Is(err, ErrNotImage) {
		t.Errorf("thumbnail of a text file: %v, want ErrNotImage", err)
	}
	// A file that sniffs as an image but is not one gets no size, and no error leaks a path.
	broken := upload(t, a, [2]string{"broken.png", "\x89PNG\r\n\x1a\nthis is not a png at all"})[0]
	if _, err := a.Open(&broken, Thumb); !errors.Is(err, ErrNotImage) {
		t.Errorf("thumbnail of a broken PNG: %v, want ErrNotImage", err)
	}
}

// A decompression bomb: a PNG of a few bytes that declares 50000 × 50000 pixels. Its sizes
// are refused from the header alone, before anything is decoded or allocated.
func TestDecompressionBombIsRefusedFromTheHeader(t *testing.T) {
	a, _ := testArchive(t, Options{})
	bomb := pngHeader(50000, 50000)
	m := upload(t, a, [2]string{"bomb.png", string(bomb)})[0]
	if m.Width != 50000 || m.Height != 50000 {
		t.Fatalf("dimensions %dx%d, want the declared 50000x50000", m.Width, m.Height)
	}
	if _, err := a.Open(&m, Thumb); !errors.Is(err, ErrImageTooLarge) {
		t.Errorf("thumbnail of a bomb: %v, want ErrImageTooLarge", err)
	}
	// decodeBounded refuses it too, whatever the metadata says.
	if _, err := decodeBounded(bytes.NewReader(bomb), DefaultMaxPixels); !errors.Is(err, ErrImageTooLarge) {
		t.Errorf("decodeBounded: %v", err)
	}
	// MaxPixels is honoured.
	small, _ := testArchive(t, Options{MaxPixels: 1000})
	mm := upload(t, small, [2]string{"p.png", string(pngBytes(t, 200, 200))})[0]
	if _, err := small.Open(&mm, Thumb); !errors.Is(err, ErrImageTooLarge) {
		t.Errorf("200x200 under MaxPixels 1000: %v", err)
	}
}

func TestSizeOfADeletedFileIsNotMade(t *testing.T) {
	a, _ := testArchive(t, Options{})
	m := upload(t, a, [2]string{"p.png", string(pngBytes(t, 300, 300))})[0]
	if err := a.Delete(m.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Open(&m, Thumb); !errors.Is(err, ErrNotFound) {
		t.Errorf("size of a deleted file: %v, want ErrNotFound", err)
	}
	if exists(filepath.Join(a.dir, m.ID+".t")) {
		t.Error("a size was made for a deleted file")
	}
}

func TestMetrics(t *testing.T) {
	reg := prometheus.NewRegistry()
	a, _ := testArchive(t, Options{Registry: reg})
	ms := upload(t, a, [2]string{"a", "12345"}, [2]string{"p.png", string(pngBytes(t, 300, 100))})
	readAll(t, a, &ms[0], Original)
	readAll(t, a, &ms[1], Thumb)
	readAll(t, a, &ms[1], Thumb)
	if got := testutil.ToFloat64(a.metrics.uploads); got != 2 {
		t.Errorf("uploads = %v, want 2", got)
	}
	if got := testutil.ToFloat64(a.metrics.downloads.WithLabelValues("t")); got != 2 {
		t.Errorf("thumbnail downloads = %v, want 2", got)
	}
	if got := testutil.ToFloat64(a.metrics.downloads.WithLabelValues("original")); got != 1 {
		t.Errorf("original downloads = %v, want 1", got)
	}
	names := []string{}
	mfs, _ := reg.Gather()
	for _, mf := range mfs {
		names = append(names, mf.GetName())
		if mf.GetName() == "restkube_media_bytes" && mf.GetMetric()[0].GetGauge().GetValue() != float64(a.Bytes()) {
			t.Errorf("media_bytes = %v, want %d", mf.GetMetric()[0].GetGauge().GetValue(), a.Bytes())
		}
	}
	for _, n := range []string{"restkube_media_bytes", "restkube_media_files", "restkube_media_uploads_total", "restkube_media_downloads_total"} {
		if !slices.Contains(names, n) {
			t.Errorf("metric %s missing from %v", n, names)
		}
	}
}

func TestServedType(t *testing.T) {
	cases := map[string]struct {
		typ    string
		inline bool
	}{
		"image/png":                 {"image/png", true},
		"image/jpeg":                {"image/jpeg", true},
		"text/plain; charset=utf-8": {"text/plain; charset=utf-8", true},
		"text/html; charset=utf-8":  {"application/octet-stream", false},
		"text/xml; charset=utf-8":   {"application/octet-stream", false},
		"image/svg+xml":             {"application/octet-stream", false},
		"application/pdf":           {"application/octet-stream", false},
		"application/javascript":    {"application/octet-stream", false},
		"application/octet-stream":  {"application/octet-stream", false},
	}
	for in, want := range cases {
		if typ, inline := ServedType(in); typ != want.typ || inline != want.inline {
			t.Errorf("ServedType(%q) = %q, %v; want %q, %v", in, typ, inline, want.typ, want.inline)
		}
	}
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

func testImage(w, h int) *image.RGBA {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			img.Set(x, y, color.RGBA{uint8(x), uint8(y), uint8(x + y), 255})
		}
	}
	return img
}

func pngBytes(t testing.TB, w, h int) []byte {
	var b bytes.Buffer
	if err := png.Encode(&b, testImage(w, h)); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func jpegBytes(t testing.TB, w, h int) []byte {
	var b bytes.Buffer
	if err := jpeg.Encode(&b, testImage(w, h), nil); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func gifBytes(t testing.TB, w, h int) []byte {
	var b bytes.Buffer
	if err := gif.Encode(&b, testImage(w, h), nil); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// pngHeader is a PNG signature and an IHDR chunk declaring w × h RGBA pixels, and nothing else.
func pngHeader(w, h uint32) []byte {
	ihdr := make([]byte, 13)
	binary.BigEndian.PutUint32(ihdr[0:], w)
	binary.BigEndian.PutUint32(ihdr[4:], h)
	ihdr[8], ihdr[9] = 8, 6 // 8 bits, RGBA
	var b bytes.Buffer
	b.WriteString("\x89PNG\r\n\x1a\n")
	_ = binary.Write(&b, binary.BigEndian, uint32(len(ihdr)))
	chunk := append([]byte("IHDR"), ihdr...)
	b.Write(chunk)
	_ = binary.Write(&b, binary.BigEndian, crc32.ChecksumIEEE(chunk))
	return b.Bytes()
}

// Sizes read once are served from memory; a delete drops them there too.
func TestSizesAreCachedUntilDeleted(t *testing.T) {
	a, _ := testArchive(t, Options{})
	m := upload(t, a, [2]string{"p.png", string(pngBytes(t, 300, 200))})[0]
	first, _ := readAll(t, a, &m, Thumb)
	if err := os.Remove(filepath.Join(a.dir, m.ID+".t")); err != nil {
		t.Fatal(err)
	}
	// The kept file is gone from disk, yet the size is served: from memory.
	if again, _ := readAll(t, a, &m, Thumb); !bytes.Equal(again, first) {
		t.Error("the cached thumbnail differs from the first one")
	}
	if err := a.Delete(m.ID); err != nil {
		t.Fatal(err)
	}
	if a.cache.get(m.ID+".t") != nil || a.cache.bytes != 0 {
		t.Errorf("the cache still holds the deleted file's size (%d bytes)", a.cache.bytes)
	}
	// The cache stays within its bound, first in first out.
	var c sizeCache
	big := make([]byte, maxCachedSize)
	for i := range sizeCacheBytes/maxCachedSize + 3 {
		c.put(fmt.Sprint(i), big)
	}
	if c.bytes > sizeCacheBytes || c.get("0") != nil || c.get(fmt.Sprint(sizeCacheBytes/maxCachedSize+2)) == nil {
		t.Errorf("cache holds %d bytes (bound %d); oldest kept = %v", c.bytes, sizeCacheBytes, c.get("0") != nil)
	}
	c.put("huge", make([]byte, maxCachedSize+1))
	if c.get("huge") != nil {
		t.Error("an entry over maxCachedSize was cached")
	}
}

// Readers racing a delete never bring the deleted file's metadata back into memory.
func TestGetRacingDeleteNeverResurrects(t *testing.T) {
	a, _ := testArchive(t, Options{})
	for round := range 20 {
		m := upload(t, a, [2]string{"f", "x"})[0]
		stop := make(chan struct{})
		done := make(chan struct{})
		go func() {
			defer close(done)
			for {
				select {
				case <-stop:
					return
				default:
					_, _ = a.Get(m.ID)
				}
			}
		}()
		if err := a.Delete(m.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := a.Get(m.ID); !errors.Is(err, ErrNotFound) {
			t.Fatalf("round %d: Get right after Delete: %v", round, err)
		}
		close(stop)
		<-done
		if _, err := a.Get(m.ID); !errors.Is(err, ErrNotFound) {
			t.Fatalf("round %d: a racing Get brought the metadata back: %v", round, err)
		}
	}
}
