package backup

import (
	"archive/tar"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"

	"github.com/klauspost/compress/zstd"

	"github.com/restkube/restkube/dbserver/store"
)

// FormatVersion is the archive format this package writes and the only one it restores.
const FormatVersion = 1

// The members of an archive, in this order: the database file, the media files, the manifest.
const (
	// DBMember is the bbolt file's name in the archive and under the data dir.
	DBMember = "restkube.db"
	// MediaDir is the media directory's name in the archive and under the data dir.
	MediaDir = "media"
	// ManifestMember is the last member: it describes and checksums all the others.
	ManifestMember = "manifest.json"
	// mediaTmp is the media directory's scratch folder, never backed up.
	mediaTmp = "tmp"
)

// Manifest describes an archive. It is its last member, so that it can hold the checksums of
// the members written before it while the archive streams.
type Manifest struct {
	FormatVersion int       `json:"formatVersion"`
	Database      string    `json:"database"`
	Created       time.Time `json:"created"`
	// Documents is the number of documents in the database file.
	Documents int64 `json:"documents"`
	// Files is the number of media files.
	Files int `json:"files"`
	// Members lists every member but the manifest, in archive order.
	Members []Member `json:"members"`
}

// Member is one file of the archive.
type Member struct {
	Name   string `json:"name"`
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`
}

// MediaSource is the media directory a backup includes. Pin defers the removal of deleted
// media files until release is called, so that the files the database's metadata names at
// the moment of the backup are all still there when they are copied.
type MediaSource interface {
	Dir() string
	Pin() (release func())
}

// DirMedia is a MediaSource over a plain directory that nothing deletes files from while a
// backup runs (a stopped database, or a dbserver without a media archive).
type DirMedia string

// Dir returns the directory.
func (d DirMedia) Dir() string { return string(d) }

// Pin does nothing: nothing deletes files from a DirMedia.
func (d DirMedia) Pin() func() { return func() {} }

// CopyFunc runs fn with a consistent copy of the database file: (*store.Store).CopyFile for a
// running database, or store.CopyClosedFile for a stopped one.
type CopyFunc func(fn func(*store.FileCopy) error) error

// WriteOptions configure Write.
type WriteOptions struct {
	// Database is the name written into the manifest.
	Database string
	// Media is the media directory to include; nil includes none.
	Media MediaSource
	// Now is the clock of the manifest's created time; default time.Now.
	Now func() time.Time
	// Nice raises the niceness of the OS thread that does the archive's work (reading, hashing,
	// compressing, and WriteFile's writing) by this much, on Linux, and puts it under the SCHED_IDLE
	// policy and the idle I/O class; 0 keeps the caller's priority. A running dbserver uses
	// BackgroundNice, so that writes keep their throughput while a backup runs.
	Nice int
	// Activity returns a count that grows while the database works ((*store.Store).Activity:
	// writes acknowledged and read transactions begun). When set, the backup pauses while the
	// count grows, for as long as it worked (see pace.go): against a busy database it runs at
	// most half the time, against an idle one at full speed. Nil: no pauses.
	Activity func() int64
}

// BackgroundNice is the niceness a running dbserver's backups get over its other threads.
// Measured with make bench-backup (the README's backup section has the figures): one
// goroutine compressing at full speed took more than half the throughput of 16 writers on a
// busy 2-core machine; at niceness 10 the kernel gives it about a tenth of a core that the
// writers want, and all of an idle one. Any Nice above 0 also brings the SCHED_IDLE policy
// (see runNiced), which gives the writers their CPU back at once when they wake; the niceness
// is what remains where the kernel refuses that policy.
const BackgroundNice = 10

// Write writes one archive of the database (and its media) to w: a zstd-compressed tar
// stream. It holds the database's read transaction only while it copies the file; writers go
// on meanwhile. Memory use does not depend on the database's size.
func Write(ctx context.Context, w io.Writer, copyFile CopyFunc, opts WriteOptions) (m Manifest, err error) {
	runNiced(opts.Nice, func() { m, err = write(ctx, w, copyFile, opts) })
	return m, err
}

func write(ctx context.Context, w io.Writer, copyFile CopyFunc, opts WriteOptions) (Manifest, error) {
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	m := Manifest{FormatVersion: FormatVersion, Database: opts.Database, Created: now().UTC().Truncate(time.Millisecond)}
	// One goroutine compresses: the other core is left to the writers the backup must not slow
	// down, and the encoder's memory stays a few MiB.
	zw, err := zstd.NewWriter(&ctxWriter{ctx: ctx, w: w},
		zstd.WithEncoderLevel(zstd.SpeedFastest), zstd.WithEncoderConcurrency(1), zstd.WithWindowSize(1<<20))
	if err != nil {
		return Manifest{}, fmt.Errorf("backup: starting the compressor: %w", err)
	}
	tw := tar.NewWriter(zw)
	aw := &archiveWriter{tw: tw, h: sha256.New(), m: &m, created: m.Created}
	if opts.Activity != nil {
		aw.pace = newPacer(ctx, nil, opts.Activity)
	}

	// Pinned before the database copy starts: a media file the copy's metadata names cannot
	// be removed before it is archived.
	release := func() {}
	if opts.Media != nil {
		release = opts.Media.Pin()
	}
	err = copyFile(func(c *store.FileCopy) error {
		if err := aw.add(DBMember, c.Size(), func(dst io.Writer) (int64, error) { return c.WriteTo(dst) }); err != nil {
			return err
		}
		m.Documents = c.Documents() // counted by WriteTo on the way
		return nil
	})
	if err == nil && opts.Media != nil {
		err = aw.addMedia(ctx, opts.Media.Dir())
	}
	release()
	if err == nil {
		err = aw.addManifest()
	}
	if err == nil {
		err = tw.Close()
	}
	if err == nil {
		err = zw.Close()
	} else {
		zw.Reset(io.Discard) // frees the encoder without writing to w again
	}
	if err != nil {
		if ctx.Err() != nil {
			return Manifest{}, fmt.Errorf("backup: cancelled: %w", context.Cause(ctx))
		}
		return Manifest{}, err
	}
	return m, nil
}

// archiveWriter adds members to the tar stream and records them in the manifest.
type archiveWriter struct {
	tw      *tar.Writer
	h       hash.Hash
	m       *Manifest
	created time.Time
	pace    *pacer // nil: no pauses
}

// add writes one member of exactly size bytes, which write produces.
func (a *archiveWriter) add(name string, size int64, write func(io.Writer) (int64, error)) error {
	hdr := &tar.Header{Name: name, Size: size, Mode: 0o600, ModTime: a.created, Typeflag: tar.TypeReg, Format: tar.FormatPAX}
	if err := a.tw.WriteHeader(hdr); err != nil {
		return fmt.Errorf("backup: writing the header of %s: %w", name, err)
	}
	a.h.Reset()
	dst := io.MultiWriter(a.tw, a.h)
	if a.pace != nil {
		a.pace.w = dst
		dst = a.pace
	}
	n, err := write(dst)
	if err != nil {
		return fmt.Errorf("backup: writing %s: %w", name, err)
	}
	if n != size {
		return fmt.Errorf("backup: %s changed size while it was copied (%d bytes instead of %d)", name, n, size)
	}
	a.m.Members = append(a.m.Members, Member{Name: name, Size: size, SHA256: hex.EncodeToString(a.h.Sum(nil))})
	return nil
}

// addMedia adds every regular file under dir but its tmp folder, in lexical order.
func (a *archiveWriter) addMedia(ctx context.Context, dir string) error {
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if p == dir && errors.Is(err, fs.ErrNotExist) {
				return fs.SkipAll // no media yet
			}
			return err
		}
		if ctx.Err() != nil {
			return context.Cause(ctx)
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		if d.IsDir() {
			if rel == mediaTmp {
				return fs.SkipDir
			}
			return nil
		}
		if !d.Type().IsRegular() {
			return nil // symlinks and devices are not media
		}
		return a.addFile(p, path.Join(MediaDir, filepath.ToSlash(rel)))
	})
	if err != nil {
		return fmt.Errorf("backup: archiving the media directory: %w", err)
	}
	return nil
}

func (a *archiveWriter) addFile(p, name string) error {
	f, err := os.Open(p)
	if err != nil {
		return err
	}
	defer func() { _ = f.Close() }()
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	size := fi.Size()
	if err := a.add(name, size, func(dst io.Writer) (int64, error) { return io.CopyN(dst, f, size) }); err != nil {
		return err
	}
	a.m.Files++
	return nil
}

func (a *archiveWriter) addManifest() error {
	body, err := json.MarshalIndent(a.m, "", "  ")
	if err != nil {
		return fmt.Errorf("backup: encoding the manifest: %w", err)
	}
	hdr := &tar.Header{Name: ManifestMember, Size: int64(len(body)), Mode: 0o600, ModTime: a.created, Typeflag: tar.TypeReg, Format: tar.FormatPAX}
	if err := a.tw.WriteHeader(hdr); err != nil {
		return fmt.Errorf("backup: writing the manifest: %w", err)
	}
	if _, err := a.tw.Write(body); err != nil {
		return fmt.Errorf("backup: writing the manifest: %w", err)
	}
	return nil
}

// ctxWriter fails writes once ctx ends, so a cancelled backup stops at its next block.
type ctxWriter struct {
	ctx context.Context
	w   io.Writer
}

func (c *ctxWriter) Write(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, context.Cause(c.ctx)
	}
	return c.w.Write(p)
}

// validMemberName reports whether name is one an archive of ours can hold: the database file
// or a clean relative path under the media directory.
func validMemberName(name string) bool {
	if name == DBMember {
		return true
	}
	rest, ok := strings.CutPrefix(name, MediaDir+"/")
	if !ok || rest == "" || len(name) > 1024 || path.Clean(name) != name || strings.ContainsRune(name, 0) {
		return false
	}
	for _, seg := range strings.Split(rest, "/") {
		if seg == "" || seg == "." || seg == ".." {
			return false
		}
	}
	return !strings.HasPrefix(rest, mediaTmp+"/")
}
