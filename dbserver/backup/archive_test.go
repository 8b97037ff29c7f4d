package backup

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/klauspost/compress/zstd"

	"github.com/restkube/restkube/dbserver/store"
)

func openStore(t testing.TB, dir string) *store.Store {
	t.Helper()
	st, err := store.Open(filepath.Join(dir, DBMember), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	return st
}

func insert(t testing.TB, st *store.Store, coll string, n int) []string {
	t.Helper()
	var ids []string
	for i := range n {
		docs, err := st.Insert(coll, []store.Doc{{"n": float64(i), "text": fmt.Sprintf("document %d", i)}}, "test")
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, docs[0]["_id"].(string))
	}
	return ids
}

func writeFile(t testing.TB, p, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

// archive backs up a database of n documents and two media files (and one scratch file that
// must stay out of the archive) and returns the archive.
func archive(t testing.TB, n int) []byte {
	t.Helper()
	dir := t.TempDir()
	st := openStore(t, dir)
	insert(t, st, "notes", n)
	writeFile(t, filepath.Join(dir, MediaDir, "ab", "photo.jpg"), "not really a jpeg")
	writeFile(t, filepath.Join(dir, MediaDir, "readme.txt"), "hello")
	writeFile(t, filepath.Join(dir, MediaDir, mediaTmp, "upload-1"), "half an upload")
	var buf bytes.Buffer
	if _, err := Write(context.Background(), &buf, st.CopyFile, WriteOptions{Database: "notes-db", Media: DirMedia(filepath.Join(dir, MediaDir))}); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// entries lists what dir holds, relative, so that a test can say "nothing was written".
func entries(t testing.TB, dir string) []string {
	t.Helper()
	var out []string
	_ = filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && p != dir {
			rel, _ := filepath.Rel(dir, p)
			out = append(out, rel)
		}
		return nil
	})
	return out
}

func TestRoundTrip(t *testing.T) {
	data := archive(t, 50)
	dest := t.TempDir()
	m, err := Restore(context.Background(), bytes.NewReader(data), dest, RestoreOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if m.Database != "notes-db" || m.Documents != 50 || m.Files != 2 || m.FormatVersion != FormatVersion {
		t.Fatalf("manifest = %+v", m)
	}
	if got, want := entries(t, dest), []string{MediaDir, "media/ab", "media/ab/photo.jpg", "media/readme.txt", DBMember}; !slices.Equal(got, want) {
		t.Fatalf("restored %v, want %v (no scratch dir, no media tmp)", got, want)
	}
	if b, _ := os.ReadFile(filepath.Join(dest, "media/ab/photo.jpg")); string(b) != "not really a jpeg" {
		t.Fatalf("media file = %q", b)
	}
	st := openStore(t, dest)
	n := 0
	if err := st.Scan("notes", func(d store.Doc) bool { n++; return true }); err != nil {
		t.Fatal(err)
	}
	if n != 50 {
		t.Fatalf("restored %d documents, want 50", n)
	}
}

// A restore syncs every directory it creates, not only the files and the data dir: the media
// files live two levels down, and their directories' entries must survive a crash too.
func TestRestoreSyncsEveryDirectoryItCreates(t *testing.T) {
	var synced []string
	syncDirFunc = func(dir string) error {
		synced = append(synced, dir)
		return syncDir(dir)
	}
	t.Cleanup(func() { syncDirFunc = syncDir })
	dest := t.TempDir()
	if _, err := Restore(context.Background(), bytes.NewReader(archive(t, 5)), dest, RestoreOptions{}); err != nil {
		t.Fatal(err)
	}
	// The scratch directory is gone after the moves; what it held is named by its place in it.
	var rel []string
	for _, d := range synced {
		if i := strings.Index(d, tempPrefix); i >= 0 {
			parts := strings.SplitN(d[i:], string(filepath.Separator), 2)
			if len(parts) == 2 {
				rel = append(rel, filepath.ToSlash(parts[1]))
			} else {
				rel = append(rel, ".")
			}
		}
	}
	for _, want := range []string{"media/ab", "media", "."} {
		if !slices.Contains(rel, want) {
			t.Errorf("the scratch copy's %q was not synced (synced %q)", want, rel)
		}
	}
	if i, j := slices.Index(rel, "media/ab"), slices.Index(rel, "media"); i > j {
		t.Errorf("media synced before its child media/ab: %q", rel)
	}
}

// untar decompresses an archive into its members, and tarOf packs members back (plain tar).
type member struct {
	name string
	body []byte
}

func untar(t testing.TB, data []byte) []member {
	t.Helper()
	zr, err := zstd.NewReader(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()
	tr := tar.NewReader(zr)
	var out []member
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(tr)
		out = append(out, member{h.Name, b})
	}
}

func tarOf(t testing.TB, ms []member) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, m := range ms {
		if err := tw.WriteHeader(&tar.Header{Name: m.name, Size: int64(len(m.body)), Mode: 0o600, Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		_, _ = tw.Write(m.body)
	}
	_ = tw.Close()
	return buf.Bytes()
}

func TestRestoreRefusesBadArchivesAndWritesNothing(t *testing.T) {
	good := archive(t, 200)
	members := untar(t, good)
	if got := members[len(members)-1].name; got != ManifestMember {
		t.Fatalf("last member = %q, want the manifest", got)
	}
	if err := func() error {
		_, err := Restore(context.Background(), bytes.NewReader(tarOf(t, members)), t.TempDir(), RestoreOptions{})
		return err
	}(); err != nil {
		t.Fatalf("the repacked plain tar must restore (the cases below change one thing): %v", err)
	}
	edit := func(f func(ms []member) []member) []byte {
		ms := make([]member, len(members))
		for i, m := range members {
			ms[i] = member{m.name, bytes.Clone(m.body)}
		}
		return tarOf(t, f(ms))
	}
	cases := map[string][]byte{
		"a compressed archive cut in half":        good[:len(good)/2],
		"a compressed archive missing its end":    good[:len(good)-8],
		"a compressed archive with a flipped bit": func() []byte { b := bytes.Clone(good); b[len(b)/2] ^= 0x10; return b }(),
		"a byte of the database file changed": edit(func(ms []member) []member {
			ms[0].body[len(ms[0].body)/2] ^= 1
			return ms
		}),
		"a media file changed": edit(func(ms []member) []member {
			ms[1].body[0] ^= 1
			return ms
		}),
		"no manifest": edit(func(ms []member) []member { return ms[:len(ms)-1] }),
		"a media file dropped": edit(func(ms []member) []member {
			return append(ms[:1:1], ms[2:]...)
		}),
		"an extra member the manifest does not list": edit(func(ms []member) []member {
			return append(ms[:len(ms)-1:len(ms)-1], member{"media/extra", []byte("x")}, ms[len(ms)-1])
		}),
		"a member escaping the data dir": edit(func(ms []member) []member {
			return append([]member{{"media/../../etc/evil", []byte("x")}}, ms...)
		}),
		"a member after the manifest": edit(func(ms []member) []member {
			return append(ms, member{"media/late", []byte("x")})
		}),
		"a tar cut inside the database file": tarOf(t, members)[:4096],
		"empty input":                        {},
		"not an archive at all":              []byte("hello, this is not a tar stream at all, just some text that goes on"),
	}
	for name, data := range cases {
		t.Run(name, func(t *testing.T) {
			dest := t.TempDir()
			_, err := Restore(context.Background(), bytes.NewReader(data), dest, RestoreOptions{})
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("err = %v, want ErrCorrupt", err)
			}
			if got := entries(t, dest); len(got) != 0 {
				t.Fatalf("the refused restore left %v in the data dir", got)
			}
		})
	}
}

func TestRestoreRefusesADataDirWithADatabase(t *testing.T) {
	data := archive(t, 3)
	dest := t.TempDir()
	writeFile(t, filepath.Join(dest, DBMember), "an existing database")
	writeFile(t, filepath.Join(dest, "lost+found", "x"), "")
	if _, err := Restore(context.Background(), bytes.NewReader(data), dest, RestoreOptions{}); !errors.Is(err, ErrNotEmpty) {
		t.Fatalf("err = %v, want ErrNotEmpty", err)
	}
	if b, _ := os.ReadFile(filepath.Join(dest, DBMember)); string(b) != "an existing database" {
		t.Fatal("the refused restore touched the existing database")
	}
	if _, err := Restore(context.Background(), bytes.NewReader(data), dest, RestoreOptions{Force: true}); err != nil {
		t.Fatalf("with Force: %v", err)
	}
	if n, err := store.CheckFile(filepath.Join(dest, DBMember), time.Second); err != nil || n != 3 {
		t.Fatalf("after a forced restore: %d documents, %v", n, err)
	}
}

func TestRestoreClearsAnInterruptedRestore(t *testing.T) {
	data := archive(t, 4)
	dest := t.TempDir()
	// What a restore killed between its two renames leaves: the marker, the media, no database,
	// and its scratch directory.
	writeFile(t, filepath.Join(dest, restoreMarker), "")
	writeFile(t, filepath.Join(dest, MediaDir, "half"), "x")
	writeFile(t, filepath.Join(dest, tempPrefix+"123", DBMember), "partial")
	if _, err := Restore(context.Background(), bytes.NewReader(data), dest, RestoreOptions{}); err != nil {
		t.Fatal(err)
	}
	if got, want := entries(t, dest), []string{MediaDir, "media/ab", "media/ab/photo.jpg", "media/readme.txt", DBMember}; !slices.Equal(got, want) {
		t.Fatalf("data dir = %v, want %v", got, want)
	}
}

// TestBackupUnderLoad takes a backup while 16 writers insert, and checks that the restored
// database holds every write acknowledged before the backup started and passes bbolt's check.
func TestBackupUnderLoad(t *testing.T) {
	dir := t.TempDir()
	st := openStore(t, dir)
	insert(t, st, "base", 200)
	const writers = 16
	var (
		mu      sync.Mutex
		acked   = map[string]int64{} // id → ack sequence
		seq     atomic.Int64
		stop    = make(chan struct{})
		wg      sync.WaitGroup
		written atomic.Int64
	)
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				docs, err := st.Insert("load", []store.Doc{{"writer": float64(w), "i": float64(i), "pad": "0123456789abcdef0123456789abcdef"}}, "w")
				if err != nil {
					t.Error(err)
					return
				}
				s := seq.Add(1)
				mu.Lock()
				acked[docs[0]["_id"].(string)] = s
				mu.Unlock()
				written.Add(1)
			}
		}()
	}
	deadline := time.Now().Add(10 * time.Second)
	for written.Load() < 500 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	before := seq.Load() // every write with a sequence ≤ before was acknowledged before the backup
	var buf bytes.Buffer
	// Paced as a dbserver's backups are: it pauses while the writers go on.
	m, err := Write(context.Background(), &buf, st.CopyFile, WriteOptions{Database: "load",
		Activity: st.Activity})
	after := written.Load()
	close(stop)
	wg.Wait()
	if err != nil {
		t.Fatal(err)
	}
	if after <= before {
		t.Logf("note: no write committed during the backup (before=%d after=%d)", before, after)
	}
	dest := t.TempDir()
	if _, err := Restore(context.Background(), bytes.NewReader(buf.Bytes()), dest, RestoreOptions{}); err != nil {
		t.Fatal(err)
	}
	restored := openStore(t, dest)
	have := map[string]bool{}
	if err := restored.Scan("load", func(d store.Doc) bool { have[d["_id"].(string)] = true; return true }); err != nil {
		t.Fatal(err)
	}
	missing := 0
	for id, s := range acked {
		if s <= before && !have[id] {
			missing++
		}
	}
	if missing > 0 {
		t.Fatalf("%d writes acknowledged before the backup are missing from it", missing)
	}
	if int64(len(have))+200 != m.Documents {
		t.Fatalf("manifest counts %d documents, the restored database holds %d", m.Documents, len(have)+200)
	}
	t.Logf("%d writes acknowledged before the backup, %d in it, %d in all", before, len(have), len(acked))
}
