package backup

import (
	"bytes"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"unsafe"
)

// TestArchiveFileBypassesThePageCache: the whole blocks of a direct archive never enter the
// page cache, so nothing of the archive is left dirty for the flusher.
func TestArchiveFileBypassesThePageCache(t *testing.T) {
	dir := t.TempDir()
	var fs syscall.Statfs_t
	if err := syscall.Statfs(dir, &fs); err != nil {
		t.Fatal(err)
	}
	if fs.Type == 0x01021994 { // TMPFS_MAGIC: its pages are the file
		t.Skip("the temp dir is on tmpfs")
	}
	p := filepath.Join(dir, "a")
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = f.Close() }()
	a := newArchiveFile(f, setDirect)
	if !a.direct {
		t.Skip("the temp dir's file system refuses O_DIRECT")
	}
	size := 2*directBuffer + 100
	if _, err := a.Write(bytes.Repeat([]byte{7}, size)); err != nil {
		t.Fatal(err)
	}
	if err := a.finish(); err != nil {
		t.Fatal(err)
	}
	m, err := syscall.Mmap(int(f.Fd()), 0, size, syscall.PROT_READ, syscall.MAP_SHARED)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = syscall.Munmap(m) }()
	pages := (size + os.Getpagesize() - 1) / os.Getpagesize()
	vec := make([]byte, pages)
	if _, _, errno := syscall.Syscall(syscall.SYS_MINCORE, uintptr(unsafe.Pointer(&m[0])), uintptr(size), uintptr(unsafe.Pointer(&vec[0]))); errno != 0 {
		t.Fatal(errno)
	}
	resident := 0
	for _, v := range vec[:2*directBuffer/os.Getpagesize()] {
		resident += int(v & 1)
	}
	if resident > 0 {
		t.Fatalf("%d of the direct-written pages are in the page cache", resident)
	}
}
