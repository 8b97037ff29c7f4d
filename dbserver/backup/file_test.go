package backup

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

// refuseDirect is a file system without direct I/O.
func refuseDirect(_ *os.File, on bool) error {
	if on {
		return syscall.EINVAL
	}
	return nil
}

// TestArchiveFileWritesExactlyTheStream: whatever the size and however the stream is cut into
// writes, the file holds exactly the bytes written, with O_DIRECT (whole buffers, whole blocks,
// and a last partial block), where the file system refuses O_DIRECT, and where it accepts the
// flag but refuses the first direct write.
func TestArchiveFileWritesExactlyTheStream(t *testing.T) {
	modes := map[string]struct {
		setDirect  func(*os.File, bool) error
		misaligned bool // the buffer is off the alignment, so the first direct write fails
		wantDirect bool // O_DIRECT is still on when the stream ends (on Linux, off tmpfs)
	}{
		"with O_DIRECT":                          {setDirect: setDirect, wantDirect: runtime.GOOS == "linux"},
		"on a file system that refuses O_DIRECT": {setDirect: refuseDirect},
		"when the first direct write is refused": {setDirect: setDirect, misaligned: true},
	}
	sizes := []int{0, 1, directAlign - 1, directAlign, directAlign + 1, directBuffer - 1, directBuffer, directBuffer + 1, 3*directBuffer + directAlign - 1}
	for name, mode := range modes {
		for _, size := range sizes {
			for _, chunk := range []int{1000, 128 << 10, 3 << 20} {
				if size > 200_000 && chunk == 1000 {
					continue // slow and says nothing more
				}
				t.Run(fmt.Sprintf("%s, %d bytes in writes of %d", name, size, chunk), func(t *testing.T) {
					want := make([]byte, size)
					r := rand.New(rand.NewPCG(uint64(size), uint64(chunk)))
					for i := range want {
						want[i] = byte(r.Uint32())
					}
					p := filepath.Join(t.TempDir(), "a")
					f, err := os.Create(p)
					if err != nil {
						t.Fatal(err)
					}
					defer func() { _ = f.Close() }()
					a := newArchiveFile(f, mode.setDirect)
					if mode.misaligned {
						if !a.direct {
							t.Skip("this file system refuses O_DIRECT")
						}
						a.buf = alignedBuffer(directBuffer+1, directAlign)[1:]
					}
					for rest := want; len(rest) > 0; {
						c := min(chunk, len(rest))
						n, err := a.Write(rest[:c])
						if err != nil || n != c {
							t.Fatalf("Write(%d bytes) = %d, %v", c, n, err)
						}
						rest = rest[c:]
					}
					direct := a.direct
					if err := a.finish(); err != nil {
						t.Fatal(err)
					}
					if direct != mode.wantDirect && size >= directBuffer {
						t.Fatalf("O_DIRECT on = %v after %d bytes, want %v", direct, size, mode.wantDirect)
					}
					got, err := os.ReadFile(p)
					if err != nil {
						t.Fatal(err)
					}
					if !bytes.Equal(got, want) {
						t.Fatalf("size %d in writes of %d: the file holds %d bytes, not the ones written (first difference at %d)",
							size, chunk, len(got), firstDifference(got, want))
					}
				})
			}
		}
	}
}

func firstDifference(a, b []byte) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}

// TestWriteFile: the archive WriteFile leaves at path is the one Write streams, byte for byte,
// and restores; a failed backup leaves nothing beside path, and path as it was.
func TestWriteFile(t *testing.T) {
	dir := t.TempDir()
	st := openStore(t, dir)
	insert(t, st, "notes", 300)
	writeFile(t, filepath.Join(dir, MediaDir, "readme.txt"), strings.Repeat("media ", 1000))
	created := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	opts := WriteOptions{Database: "notes-db", Media: DirMedia(filepath.Join(dir, MediaDir)), Now: func() time.Time { return created }}
	var streamed bytes.Buffer
	if _, err := Write(context.Background(), &streamed, st.CopyFile, opts); err != nil {
		t.Fatal(err)
	}
	// /dev/shm is tmpfs: some kernels refuse O_DIRECT there, newer ones accept it.
	targets := map[string]string{"in the test's temp dir": t.TempDir()}
	if fi, err := os.Stat("/dev/shm"); err == nil && fi.IsDir() {
		shm, err := os.MkdirTemp("/dev/shm", "restkube-backup-test-")
		if err == nil {
			t.Cleanup(func() { _ = os.RemoveAll(shm) })
			targets["on tmpfs"] = shm
		}
	}
	for name, out := range targets {
		for _, nice := range []int{0, BackgroundNice} {
			t.Run(fmt.Sprintf("%s at niceness +%d", name, nice), func(t *testing.T) {
				p := filepath.Join(out, "b.tar.zst")
				o := opts
				o.Nice = nice
				var synced []string
				syncDirFunc = func(dir string) error { synced = append(synced, dir); return syncDir(dir) }
				t.Cleanup(func() { syncDirFunc = syncDir })
				m, err := WriteFile(context.Background(), p, st.CopyFile, o)
				if err != nil || m.Documents != 300 || m.Files != 1 {
					t.Fatalf("WriteFile: %+v, %v", m, err)
				}
				// The rename into place is made durable.
				if !slices.Equal(synced, []string{out}) {
					t.Fatalf("directories synced: %v, want the archive's (%s)", synced, out)
				}
				got, err := os.ReadFile(p)
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(got, streamed.Bytes()) {
					t.Fatalf("the file holds %d bytes that differ from the %d Write streams (at %d)", len(got), streamed.Len(), firstDifference(got, streamed.Bytes()))
				}
				if _, err := Restore(context.Background(), bytes.NewReader(got), filepath.Join(t.TempDir(), "r"), RestoreOptions{}); err != nil {
					t.Fatalf("the archive does not restore: %v", err)
				}
				if e := entries(t, out); !slices.Equal(e, []string{"b.tar.zst"}) {
					t.Fatalf("beside the archive: %v", e)
				}
			})
		}
	}

	t.Run("cancelled", func(t *testing.T) {
		out := t.TempDir()
		p := filepath.Join(out, "b.tar.zst")
		writeFile(t, p, "the previous archive")
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		if _, err := WriteFile(ctx, p, st.CopyFile, opts); !errors.Is(err, context.Canceled) {
			t.Fatalf("WriteFile after cancel: %v", err)
		}
		if b, _ := os.ReadFile(p); string(b) != "the previous archive" {
			t.Fatalf("the previous archive became %q", b)
		}
		if e := entries(t, out); !slices.Equal(e, []string{"b.tar.zst"}) {
			t.Fatalf("left behind: %v", e)
		}
	})
}
