package backup

import (
	"archive/tar"
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/klauspost/compress/zstd"

	"github.com/restkube/restkube/dbserver/store"
)

var (
	// ErrNotEmpty is returned by Restore when the data dir already holds a database or media
	// and Force is not set.
	ErrNotEmpty = errors.New("the data dir is not empty")
	// ErrCorrupt wraps every reason an archive is refused: bad checksum, truncation, unknown
	// member, missing or inconsistent manifest, a database file that fails its check.
	ErrCorrupt = errors.New("the backup archive is corrupt or incomplete")
)

// Limits of what Restore accepts, so that a hostile archive cannot exhaust the disk's inodes
// or the process's memory.
const (
	maxManifestBytes = 64 << 20
	maxMembers       = 10_000_000
)

// restoreMarker exists in the data dir while restored files are moved into place; a restore
// that finds it knows the database and media there are a cut-short restore's, not data.
const restoreMarker = ".restore-incomplete"

// tempPrefix names the scratch directories of restores under the data dir.
const tempPrefix = ".restore-"

// RestoreOptions configure Restore.
type RestoreOptions struct {
	// Force replaces a database already in the data dir (after the archive is verified).
	Force bool
	// Logger receives progress; default discards.
	Logger *slog.Logger
}

// Restore reads an archive from r into dataDir. It writes the members to a scratch directory
// inside dataDir (the same file system, so the final step is a rename), verifies every
// checksum against the manifest and the database file's consistency, and only then moves the
// database and its media into place. On any error nothing of the archive is left in dataDir.
// An archive holding a database file and media is restored whole or not at all: a restore cut
// short during the moves leaves a marker, and the next Restore clears what it left.
func Restore(ctx context.Context, r io.Reader, dataDir string, opts RestoreOptions) (Manifest, error) {
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return Manifest{}, fmt.Errorf("restore: creating the data dir: %w", err)
	}
	if err := clearLeftovers(dataDir); err != nil {
		return Manifest{}, err
	}
	present, err := holdsDatabase(dataDir)
	if err != nil {
		return Manifest{}, err
	}
	if present && !opts.Force {
		return Manifest{}, fmt.Errorf("restore: %s: %w (it holds a database or media; restore into an empty directory, or pass --force to replace it)", dataDir, ErrNotEmpty)
	}
	tmp, err := os.MkdirTemp(dataDir, tempPrefix)
	if err != nil {
		return Manifest{}, fmt.Errorf("restore: creating a scratch directory: %w", err)
	}
	defer func() { _ = os.RemoveAll(tmp) }()

	m, err := extract(ctx, r, tmp)
	if err != nil {
		return Manifest{}, err
	}
	docs, err := store.CheckFile(filepath.Join(tmp, DBMember), 5*time.Second)
	if err != nil {
		return Manifest{}, fmt.Errorf("restore: %w: %w", ErrCorrupt, err)
	}
	if docs != m.Documents {
		return Manifest{}, fmt.Errorf("restore: %w: the database holds %d documents, the manifest says %d", ErrCorrupt, docs, m.Documents)
	}
	log.Info("restore: archive verified", "database", m.Database, "created", m.Created, "documents", m.Documents, "files", m.Files)
	if err := moveIntoPlace(tmp, dataDir); err != nil {
		return Manifest{}, err
	}
	return m, nil
}

// extract unpacks the archive into dir and checks it against its manifest.
func extract(ctx context.Context, r io.Reader, dir string) (Manifest, error) {
	br := bufio.NewReaderSize(r, 1<<16)
	var src io.Reader = br
	// The archive is zstd-compressed when it starts with zstd's magic number, a plain tar else.
	if magic, _ := br.Peek(4); bytes.Equal(magic, []byte{0x28, 0xb5, 0x2f, 0xfd}) {
		zr, err := zstd.NewReader(br, zstd.WithDecoderConcurrency(1), zstd.WithDecoderMaxWindow(64<<20))
		if err != nil {
			return Manifest{}, fmt.Errorf("restore: starting the decompressor: %w", err)
		}
		defer zr.Close()
		src = zr
	}
	src = &ctxReader{ctx: ctx, r: src}
	tr := tar.NewReader(src)
	seen := map[string]Member{}
	var order []string
	var manifest []byte
	corrupt := func(format string, args ...any) (Manifest, error) {
		if ctx.Err() != nil {
			return Manifest{}, fmt.Errorf("restore: cancelled: %w", context.Cause(ctx))
		}
		return Manifest{}, fmt.Errorf("restore: %w: %s", ErrCorrupt, fmt.Sprintf(format, args...))
	}
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return corrupt("reading the archive: %v", err)
		}
		if manifest != nil {
			return corrupt("member %q follows the manifest", hdr.Name)
		}
		if hdr.Typeflag != tar.TypeReg || hdr.Size < 0 {
			return corrupt("member %q is not a regular file", hdr.Name)
		}
		if hdr.Name == ManifestMember {
			if hdr.Size > maxManifestBytes {
				return corrupt("the manifest is larger than %d bytes", maxManifestBytes)
			}
			if manifest, err = io.ReadAll(tr); err != nil {
				return corrupt("reading the manifest: %v", err)
			}
			continue
		}
		if !validMemberName(hdr.Name) {
			return corrupt("unexpected member %q", hdr.Name)
		}
		if _, dup := seen[hdr.Name]; dup {
			return corrupt("member %q appears twice", hdr.Name)
		}
		if len(seen) >= maxMembers {
			return corrupt("more than %d members", maxMembers)
		}
		sum, err := writeMember(tr, filepath.Join(dir, filepath.FromSlash(hdr.Name)), hdr.Size)
		if err != nil {
			if errors.Is(err, errWrite) {
				return Manifest{}, fmt.Errorf("restore: %w", err)
			}
			return corrupt("reading %s: %v", hdr.Name, err)
		}
		seen[hdr.Name] = Member{Name: hdr.Name, Size: hdr.Size, SHA256: sum}
		order = append(order, hdr.Name)
	}
	if manifest == nil {
		return corrupt("no manifest (the archive is truncated)")
	}
	var m Manifest
	dec := json.NewDecoder(bytes.NewReader(manifest))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&m); err != nil {
		return corrupt("the manifest is not valid: %v", err)
	}
	if m.FormatVersion != FormatVersion {
		return Manifest{}, fmt.Errorf("restore: archive format version %d is not supported (this dbserver reads version %d)", m.FormatVersion, FormatVersion)
	}
	if len(m.Members) != len(order) {
		return corrupt("the manifest lists %d members, the archive holds %d", len(m.Members), len(order))
	}
	files := 0
	for i, want := range m.Members {
		got, ok := seen[want.Name]
		switch {
		case !ok || order[i] != want.Name:
			return corrupt("member %q is missing or out of order", want.Name)
		case got.Size != want.Size:
			return corrupt("member %q holds %d bytes, the manifest says %d", want.Name, got.Size, want.Size)
		case got.SHA256 != want.SHA256:
			return corrupt("member %q fails its SHA-256 checksum", want.Name)
		}
		if want.Name != DBMember {
			files++
		}
	}
	if _, ok := seen[DBMember]; !ok {
		return corrupt("no database file")
	}
	if files != m.Files {
		return corrupt("the archive holds %d media files, the manifest says %d", files, m.Files)
	}
	if err := syncTree(dir); err != nil {
		return Manifest{}, err
	}
	return m, nil
}

// syncDirFunc syncs one directory; tests replace it to see which directories a restore syncs.
var syncDirFunc = syncDir

// syncTree syncs every directory under root and root itself, children before their parent, so
// that once root's sync returns, every file written below it (each synced already) is reachable
// after a crash: a synced file whose directory entry was never synced can vanish with it.
func syncTree(root string) error {
	var dirs []string
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			dirs = append(dirs, p)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("restore: listing %s to sync it: %w", root, err)
	}
	// WalkDir lists a directory before its children: the reverse syncs children first.
	for i := len(dirs) - 1; i >= 0; i-- {
		if err := syncDirFunc(dirs[i]); err != nil {
			return err
		}
	}
	return nil
}

// errWrite marks failures to write the scratch copy (a full disk), as opposed to a bad archive.
var errWrite = errors.New("writing the scratch copy")

// writeMember copies exactly size bytes from r into a new file at p, synced, and returns
// their SHA-256.
func writeMember(r io.Reader, p string, size int64) (string, error) {
	if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
		return "", fmt.Errorf("%w: %w", errWrite, err)
	}
	f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return "", fmt.Errorf("%w: %w", errWrite, err)
	}
	defer func() { _ = f.Close() }()
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(&fileWriter{f}, h), r)
	if err != nil {
		return "", err
	}
	if n != size {
		return "", io.ErrUnexpectedEOF
	}
	if err := f.Sync(); err != nil {
		return "", fmt.Errorf("%w: %w", errWrite, err)
	}
	if err := f.Close(); err != nil {
		return "", fmt.Errorf("%w: %w", errWrite, err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// fileWriter marks write errors of the scratch file as errWrite.
type fileWriter struct{ f *os.File }

func (w *fileWriter) Write(p []byte) (int, error) {
	n, err := w.f.Write(p)
	if err != nil {
		err = fmt.Errorf("%w: %w", errWrite, err)
	}
	return n, err
}

// holdsDatabase reports whether dataDir holds a database file or media.
func holdsDatabase(dataDir string) (bool, error) {
	for _, name := range []string{DBMember, MediaDir} {
		if _, err := os.Lstat(filepath.Join(dataDir, name)); err == nil {
			return true, nil
		} else if !errors.Is(err, os.ErrNotExist) {
			return false, fmt.Errorf("restore: inspecting the data dir: %w", err)
		}
	}
	return false, nil
}

// clearLeftovers removes what a restore cut short left: scratch directories and, when the
// marker says the moves were under way, the half-moved database and media.
func clearLeftovers(dataDir string) error {
	entries, err := os.ReadDir(dataDir)
	if err != nil {
		return fmt.Errorf("restore: reading the data dir: %w", err)
	}
	for _, e := range entries {
		if e.IsDir() && strings.HasPrefix(e.Name(), tempPrefix) {
			if err := os.RemoveAll(filepath.Join(dataDir, e.Name())); err != nil {
				return fmt.Errorf("restore: removing an earlier restore's scratch directory: %w", err)
			}
		}
	}
	if _, err := os.Stat(filepath.Join(dataDir, restoreMarker)); err != nil {
		return nil
	}
	for _, name := range []string{DBMember, MediaDir, restoreMarker} {
		if err := os.RemoveAll(filepath.Join(dataDir, name)); err != nil {
			return fmt.Errorf("restore: removing what an earlier restore left: %w", err)
		}
	}
	return syncDir(dataDir)
}

// moveIntoPlace renames the verified database and media from tmp into dataDir, replacing
// what is there, under the marker.
func moveIntoPlace(tmp, dataDir string) error {
	marker := filepath.Join(dataDir, restoreMarker)
	if err := os.WriteFile(marker, []byte("a restore is moving files into place; an interrupted one is cleared by the next restore\n"), 0o600); err != nil {
		return fmt.Errorf("restore: writing the marker: %w", err)
	}
	if err := syncDir(dataDir); err != nil {
		return err
	}
	for _, name := range []string{DBMember, MediaDir} {
		if err := os.RemoveAll(filepath.Join(dataDir, name)); err != nil {
			return fmt.Errorf("restore: removing the replaced %s: %w", name, err)
		}
	}
	// Media first, the database last: until the marker goes, either may be missing.
	if _, err := os.Stat(filepath.Join(tmp, MediaDir)); err == nil {
		if err := os.Rename(filepath.Join(tmp, MediaDir), filepath.Join(dataDir, MediaDir)); err != nil {
			return fmt.Errorf("restore: moving the media into place: %w", err)
		}
	}
	if err := os.Rename(filepath.Join(tmp, DBMember), filepath.Join(dataDir, DBMember)); err != nil {
		return fmt.Errorf("restore: moving the database into place: %w", err)
	}
	if err := syncDir(dataDir); err != nil {
		return err
	}
	if err := os.Remove(marker); err != nil {
		return fmt.Errorf("restore: removing the marker: %w", err)
	}
	return syncDir(dataDir)
}

// syncDir makes the entries of dir durable (a restore's and WriteFile's renames).
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("opening directory %s to sync it: %w", dir, err)
	}
	defer func() { _ = d.Close() }()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("syncing directory %s: %w", dir, err)
	}
	return nil
}

// ctxReader fails reads once ctx ends.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c *ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, context.Cause(c.ctx)
	}
	return c.r.Read(p)
}

// idTime is the layout of the time in a backup's id: UTC to the millisecond, so that ids (and
// object keys) sort in the order the backups were taken.
const idTime = "20060102T150405.000Z"

// newID returns a unique id for a backup taken at t: its time and 6 random hex digits.
func newID(t time.Time) string {
	var b [3]byte
	_, _ = rand.Read(b[:])
	return t.UTC().Format(idTime) + "-" + hex.EncodeToString(b[:])
}
