package media

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/restkube/restkube/dbserver/store"
)

// Bucket is the store's meta bucket that holds the archive's metadata, one JSON Meta per id.
const Bucket = "media"

// TmpDir is the directory under Dir where files are written before they are renamed into
// place; it is emptied at every Open, and backups skip it.
const TmpDir = "tmp"

// DefaultMaxPixels bounds the images that get sizes (width × height).
const DefaultMaxPixels = 25_000_000

// timeFormat is how _created is written: ISO-8601 UTC with milliseconds, as documents have it.
const timeFormat = "2006-01-02T15:04:05.000Z"

var (
	// ErrNotFound is returned for an id or file name that names no file.
	ErrNotFound = errors.New("media: no such file")
	// ErrNotImage is returned when a size is asked of a file that is not a JPEG, PNG or GIF image.
	ErrNotImage = errors.New("media: not a JPEG, PNG or GIF image")
	// ErrImageTooLarge is returned when a size is asked of an image with too many pixels.
	ErrImageTooLarge = errors.New("media: image has too many pixels to be resized")
	// ErrUploadRead wraps a failure to read an upload's content (a truncated or malformed
	// body, a client gone): the client's fault, unlike a failure to write it.
	ErrUploadRead = errors.New("media: reading the upload failed")
)

// TooLargeError reports content beyond the allowed number of bytes.
type TooLargeError struct {
	// Limit is the number of bytes that was allowed.
	Limit int64
}

func (e *TooLargeError) Error() string {
	return fmt.Sprintf("media: file is larger than the %d bytes allowed", e.Limit)
}

// Meta is the metadata of one file, as GET /media/<id>/meta answers it.
type Meta struct {
	ID        string `json:"_id"`
	Created   string `json:"_created"`
	CreatedBy string `json:"_createdby"`
	// OrigName is the file name the client sent, cleaned (base name, no control characters).
	OrigName string `json:"origname"`
	// File is the name the file can also be fetched by: <id>-<origname made URL-safe>.
	File string `json:"file"`
	// MimeType is the type found by sniffing the content; it decides how the file is served.
	MimeType string `json:"mimetype"`
	// ClientType is the Content-Type the client declared for the part; informative only.
	ClientType string `json:"clienttype,omitempty"`
	Size       int64  `json:"size"`
	// Width and Height are an image's dimensions (JPEG, PNG, GIF), 0 otherwise.
	Width    int    `json:"width,omitempty"`
	Height   int    `json:"height,omitempty"`
	UploadID string `json:"uploadid"`
}

// CreatedTime is Created parsed; the zero time if it cannot be.
func (m *Meta) CreatedTime() time.Time {
	t, _ := time.Parse(timeFormat, m.Created)
	return t
}

// Options configure Open. Dir and Store are required.
type Options struct {
	// Dir is the archive's directory, <data-dir>/media; created if missing.
	Dir string
	// Store holds the metadata (meta bucket Bucket).
	Store *store.Store
	// Registry receives the archive's metrics; nil registers none.
	Registry prometheus.Registerer
	// Logger receives sweeps and failed unlinks; default discards.
	Logger *slog.Logger
	// Now is the clock for _created; default time.Now.
	Now func() time.Time
	// MaxPixels bounds the images that get sizes; default DefaultMaxPixels.
	MaxPixels int
}

// Archive is the media archive. It is safe for concurrent use.
type Archive struct {
	dir, tmp  string
	st        *store.Store
	log       *slog.Logger
	now       func() time.Time
	maxPixels int
	metrics   *metrics

	files, bytes atomic.Int64
	cache        sizeCache
	metas        metaCache
	// metaMu orders Delete (write) against the store reads that fill metas (read), so that
	// no Get can put back the metadata of a file whose delete has committed.
	metaMu sync.RWMutex

	// sizeMu makes one image size at a time and orders size making against Delete, so a size
	// is never renamed into place after its original's files were unlinked.
	sizeMu sync.Mutex

	pinMu   sync.Mutex
	pins    int
	pending []string // ids whose files wait for the last pin's release

	// crashAt, set by tests only, is called at each step of a write with the file's id; a
	// test's child process kills itself there.
	crashAt func(step, id string)
}

// Open opens the archive in opts.Dir: it creates the directories, sweeps what a crash left
// (tmp/ entirely, and any file whose id has no metadata) and counts the stored files.
func Open(opts Options) (*Archive, error) {
	if opts.Dir == "" || opts.Store == nil {
		return nil, errors.New("media: Dir and Store are required")
	}
	a := &Archive{
		dir:       opts.Dir,
		tmp:       filepath.Join(opts.Dir, TmpDir),
		st:        opts.Store,
		log:       opts.Logger,
		now:       opts.Now,
		maxPixels: opts.MaxPixels,
		crashAt:   func(string, string) {},
	}
	if a.log == nil {
		a.log = slog.New(slog.DiscardHandler)
	}
	if a.now == nil {
		a.now = time.Now
	}
	if a.maxPixels <= 0 {
		a.maxPixels = DefaultMaxPixels
	}
	if err := os.RemoveAll(a.tmp); err != nil {
		return nil, fmt.Errorf("media: sweeping %s: %w", a.tmp, err)
	}
	if err := os.MkdirAll(a.tmp, 0o700); err != nil {
		return nil, fmt.Errorf("media: creating %s: %w", a.tmp, err)
	}
	known := map[string]bool{}
	err := a.st.ScanMeta(Bucket, func(id string, v []byte) bool {
		var m Meta
		if json.Unmarshal(v, &m) == nil {
			known[id] = true
			a.files.Add(1)
			a.bytes.Add(m.Size)
		}
		return true
	})
	if err != nil {
		return nil, fmt.Errorf("media: reading the metadata: %w", err)
	}
	if err := a.sweep(known); err != nil {
		return nil, err
	}
	if opts.Registry != nil {
		m, err := newMetrics(opts.Registry, a)
		if err != nil {
			return nil, err
		}
		a.metrics = m
	}
	return a, nil
}

// sweep removes the files of ids that have no metadata: uploads cut short before their
// commit and deletes cut short after theirs.
func (a *Archive) sweep(known map[string]bool) error {
	entries, err := os.ReadDir(a.dir)
	if err != nil {
		return fmt.Errorf("media: listing %s: %w", a.dir, err)
	}
	for _, e := range entries {
		name := e.Name()
		if e.IsDir() {
			continue
		}
		id, _, _ := strings.Cut(name, ".")
		if !ValidID(id) || known[id] {
			continue // not ours to judge, or a file with metadata
		}
		if err := os.Remove(filepath.Join(a.dir, name)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("media: sweeping %s: %w", name, err)
		}
		a.log.Info("media: removed a file without metadata (left by a crash)", "file", name)
	}
	return nil
}

// Dir is the archive's directory; with Pin, it lets a backup copy the files.
func (a *Archive) Dir() string { return a.dir }

// Pin defers the unlinking of deleted files until every release function it returned has been
// called (each may be called more than once; only the first call counts). Metadata deletes
// still commit at once. A backup calls Pin before opening its bbolt read transaction, so that
// every file its snapshot references stays on disk until it releases.
func (a *Archive) Pin() (release func()) {
	a.pinMu.Lock()
	a.pins++
	a.pinMu.Unlock()
	var once sync.Once
	return func() {
		once.Do(func() {
			a.pinMu.Lock()
			a.pins--
			var ids []string
			if a.pins == 0 {
				ids, a.pending = a.pending, nil
			}
			a.pinMu.Unlock()
			for _, id := range ids {
				a.unlink(id)
			}
		})
	}
}

// Files is the number of stored files; Bytes their total size (originals only).
func (a *Archive) Files() int64 { return a.files.Load() }

// Bytes is the total size of the stored files (originals only).
func (a *Archive) Bytes() int64 { return a.bytes.Load() }

// ValidID reports whether id has the shape of a media id: 24 lowercase hex characters.
func ValidID(id string) bool { return store.ValidID(id) }

// newID draws a media id: 12 random bytes as hex.
func newID() (string, error) {
	var b [12]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("media: drawing an id: %w", err)
	}
	return hex.EncodeToString(b[:]), nil
}

// Get returns the metadata of the file with id. The Meta is shared: do not change it.
// Metadata never changes, so it is served from memory once read (see metaCache).
func (a *Archive) Get(id string) (*Meta, error) {
	if !ValidID(id) {
		return nil, ErrNotFound
	}
	if m := a.metas.get(id); m != nil {
		return m, nil
	}
	a.metaMu.RLock()
	defer a.metaMu.RUnlock()
	v, err := a.st.GetMeta(Bucket, id)
	if err != nil {
		return nil, fmt.Errorf("media: reading the metadata of %s: %w", id, err)
	}
	if v == nil {
		return nil, ErrNotFound
	}
	var m Meta
	if err := json.Unmarshal(v, &m); err != nil {
		return nil, fmt.Errorf("media: decoding the metadata of %s: %w", id, err)
	}
	a.metas.put(id, &m)
	return &m, nil
}

// Lookup finds a file by its id or by its file name (Meta.File). Any other name, such as the
// bare name the client uploaded, finds nothing: names alone would be guessable.
func (a *Archive) Lookup(name string) (*Meta, error) {
	if ValidID(name) {
		return a.Get(name)
	}
	id, _, ok := strings.Cut(name, "-")
	if !ok || !ValidID(id) {
		return nil, ErrNotFound
	}
	m, err := a.Get(id)
	if err != nil {
		return nil, err
	}
	if m.File != name {
		return nil, ErrNotFound
	}
	return m, nil
}

// Delete removes the file with id: its metadata at once (committed when Delete returns), its
// content and sizes right after, or when the last Pin is released.
func (a *Archive) Delete(id string) error {
	m, err := a.Get(id)
	if err != nil {
		return err
	}
	a.sizeMu.Lock()
	defer a.sizeMu.Unlock()
	a.metaMu.Lock()
	err = a.st.DeleteMeta(Bucket, id)
	if err == nil {
		a.metas.drop(id)
	}
	a.metaMu.Unlock()
	if err != nil {
		return fmt.Errorf("media: deleting the metadata of %s: %w", id, err)
	}
	a.files.Add(-1)
	a.bytes.Add(-m.Size)
	a.cache.drop(id)
	a.crashAt("delete-committed", id)
	a.pinMu.Lock()
	if a.pins > 0 {
		a.pending = append(a.pending, id)
		a.pinMu.Unlock()
		return nil
	}
	a.pinMu.Unlock()
	a.unlink(id)
	return nil
}

// unlink removes the content and sizes of id. A failure is logged: the next Open sweeps the
// file, as it has no metadata any more.
func (a *Archive) unlink(id string) {
	for _, name := range []string{id, id + "." + string(Thumb), id + "." + string(Web)} {
		if err := os.Remove(filepath.Join(a.dir, name)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			a.log.Warn("media: unlinking a deleted file failed; the next start removes it", "file", name, "error", err.Error())
		}
	}
}

// syncDir fsyncs a directory, making the renames into it durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}
