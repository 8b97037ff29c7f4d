package backup

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"unsafe"
)

// WriteFile writes one archive (see Write) to the file at path: into a temporary file beside
// it, fsync'd, then renamed into place, so that path never holds half an archive. On Linux the
// archive goes around the page cache (O_DIRECT) where the file system allows it, and all of
// it, the final fsync included, is written by the thread that Nice lowers.
//
// Why around the page cache (make bench-backup; the README has the figures): a backup to a
// file on the database's disk left gigabytes of dirty archive pages for the kernel's flusher,
// and each fsync of the database's commits then competed with their writeback (on ext4 in
// data=ordered mode, a commit's journal flush waits for the data it orders). Direct writes
// leave nothing dirty behind, and they are issued by the backup's thread itself, at its idle
// I/O priority, instead of by the flusher at everyone's.
func WriteFile(ctx context.Context, path string, copyFile CopyFunc, opts WriteOptions) (m Manifest, err error) {
	runNiced(opts.Nice, func() { m, err = writeToFile(ctx, path, copyFile, opts, setDirect) })
	return m, err
}

func writeToFile(ctx context.Context, path string, copyFile CopyFunc, opts WriteOptions, setDirect func(*os.File, bool) error) (Manifest, error) {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return Manifest{}, fmt.Errorf("backup: creating the archive: %w", err)
	}
	defer func() { _ = os.Remove(f.Name()) }() // fails once renamed
	defer func() { _ = f.Close() }()
	af := newArchiveFile(f, setDirect)
	m, err := write(ctx, af, copyFile, opts)
	if err != nil {
		return Manifest{}, err
	}
	if err := af.finish(); err != nil {
		return Manifest{}, fmt.Errorf("backup: writing the archive: %w", err)
	}
	if err := f.Close(); err != nil {
		return Manifest{}, fmt.Errorf("backup: closing the archive: %w", err)
	}
	if err := os.Rename(f.Name(), path); err != nil {
		return Manifest{}, fmt.Errorf("backup: moving the archive into place: %w", err)
	}
	// The rename is durable once the directory is: a crash before that could leave no archive
	// where the caller was told there is one.
	if err := syncDirFunc(filepath.Dir(path)); err != nil {
		return Manifest{}, fmt.Errorf("backup: syncing the archive's directory: %w", err)
	}
	return m, nil
}

const (
	// directAlign is the alignment that O_DIRECT asks of a write's buffer, file offset and
	// length: the disk's logical block size, which is 512 or 4096 bytes.
	directAlign = 4096
	// directBuffer is how much of the archive one direct write carries.
	directBuffer = 1 << 20
)

// archiveFile writes an archive to a file. With O_DIRECT on, it gathers the stream into an
// aligned buffer and writes it in whole buffers; finish writes the last partial block without
// O_DIRECT. Where the file system refuses O_DIRECT, when it is turned on or at the first
// write, every write goes to the file as it comes (through the page cache).
type archiveFile struct {
	f         *os.File
	setDirect func(f *os.File, on bool) error
	direct    bool
	buf       []byte // directBuffer bytes, aligned to directAlign, while direct
	n         int    // bytes of buf in use
	err       error  // the first write error; every later call returns it
}

func newArchiveFile(f *os.File, setDirect func(*os.File, bool) error) *archiveFile {
	a := &archiveFile{f: f, setDirect: setDirect}
	if setDirect(f, true) == nil {
		a.direct = true
		a.buf = alignedBuffer(directBuffer, directAlign)
	}
	return a
}

// alignedBuffer returns size bytes whose start is a multiple of align (a power of two). Go's
// heap does not move objects, so the alignment holds for the slice's life.
func alignedBuffer(size, align int) []byte {
	b := make([]byte, size+align)
	off := int(uintptr(unsafe.Pointer(&b[0])) & uintptr(align-1))
	if off != 0 {
		off = align - off
	}
	return b[off : off+size : off+size]
}

func (a *archiveFile) Write(p []byte) (int, error) {
	written := 0
	for len(p) > 0 && a.err == nil {
		if !a.direct { // the buffer is empty: flush empties it before it turns O_DIRECT off
			n, err := a.f.Write(p)
			a.err = err
			return written + n, err
		}
		c := copy(a.buf[a.n:], p)
		a.n += c
		p = p[c:]
		written += c
		if a.n == len(a.buf) {
			a.flush()
		}
	}
	return written, a.err
}

// flush writes the buffer, a whole number of blocks, with O_DIRECT. A file system that accepts
// the flag but refuses the write (EINVAL: it wants a larger alignment, or none of it) gets
// this and every later write through the page cache instead.
func (a *archiveFile) flush() {
	n, err := a.f.Write(a.buf[:a.n])
	if errors.Is(err, syscall.EINVAL) {
		if err = a.setDirect(a.f, false); err == nil {
			a.direct = false
			_, err = a.f.Write(a.buf[n:a.n])
		}
	}
	a.n = 0
	a.err = err
}

// finish writes what the buffer still holds and fsyncs the file.
func (a *archiveFile) finish() error {
	if a.n > 0 && a.err == nil {
		// The whole blocks go with O_DIRECT, the last partial one (which O_DIRECT cannot
		// write) without.
		end := a.n
		a.n = end &^ (directAlign - 1)
		tail := a.n
		if a.n > 0 {
			a.flush()
		}
		if a.direct && a.err == nil {
			a.err = a.setDirect(a.f, false)
			a.direct = false
		}
		if a.err == nil {
			_, a.err = a.f.Write(a.buf[tail:end])
		}
	}
	if a.err != nil {
		return a.err
	}
	return a.f.Sync()
}
