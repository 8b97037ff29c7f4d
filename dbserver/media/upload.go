package media

import (
	"encoding/json"
	"errors"
	"fmt"
	"image"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"
)

// copyBufSize is the size of the buffer a file is written through: large writes keep the
// syscalls few on a 1 GiB upload, and one buffer per upload in progress bounds the memory.
const copyBufSize = 1 << 20

var copyBufs = sync.Pool{New: func() any { b := make([]byte, copyBufSize); return &b }}

// maxOrigName bounds the kept original file name, in bytes.
const maxOrigName = 255

// maxSafeName bounds the name part of Meta.File, in bytes.
const maxSafeName = 100

// Upload is one request's files: each is written to tmp/ as it arrives (Add), and Commit
// makes all of them visible at once, or Abort none.
type Upload struct {
	a      *Archive
	id     string
	by     string
	limit  int64 // per file
	budget int64 // what is left of the request's allowance
	files  []pending
	closed bool
}

type pending struct {
	tmp  string
	meta Meta
}

// NewUpload starts an upload by the user by (the caller's email, or "api" for API keys).
// maxBytes bounds each file and the sum of the files of this upload.
func (a *Archive) NewUpload(by string, maxBytes int64) (*Upload, error) {
	id, err := newID()
	if err != nil {
		return nil, err
	}
	return &Upload{a: a, id: id, by: by, limit: maxBytes, budget: maxBytes}, nil
}

// ID is the upload's id (Meta.UploadID of its files).
func (u *Upload) ID() string { return u.id }

// Add writes one file, read from r, into tmp/ and fsyncs it. name is the file name the client
// sent and clientType the Content-Type it declared; neither is trusted for anything but
// display. Content beyond the upload's allowance fails with a *TooLargeError.
func (u *Upload) Add(name, clientType string, r io.Reader) (*Meta, error) {
	if u.closed {
		return nil, errors.New("media: upload already committed or aborted")
	}
	id, err := newID()
	if err != nil {
		return nil, err
	}
	f, err := os.CreateTemp(u.a.tmp, "upload-*")
	if err != nil {
		return nil, fmt.Errorf("media: creating a temporary file: %w", err)
	}
	fail := func(err error) (*Meta, error) {
		_ = f.Close()
		_ = os.Remove(f.Name())
		return nil, err
	}
	allowed := min(u.limit, u.budget)
	bp := copyBufs.Get().(*[]byte)
	defer copyBufs.Put(bp)
	buf := *bp
	var head []byte
	var size int64
	for {
		n, rerr := fill(r, buf)
		if n > 0 {
			size += int64(n)
			if size > allowed {
				return fail(&TooLargeError{Limit: allowed})
			}
			if head == nil {
				head = append([]byte(nil), buf[:min(n, 512)]...)
			}
			if _, err := f.Write(buf[:n]); err != nil {
				return fail(fmt.Errorf("media: writing a temporary file: %w", err))
			}
		}
		if rerr == io.EOF {
			break
		}
		if rerr != nil {
			return fail(fmt.Errorf("%w: %w", ErrUploadRead, rerr))
		}
	}
	if err := f.Sync(); err != nil {
		return fail(fmt.Errorf("media: syncing a temporary file: %w", err))
	}
	if err := f.Close(); err != nil {
		_ = os.Remove(f.Name())
		return nil, fmt.Errorf("media: closing a temporary file: %w", err)
	}
	u.budget -= size
	orig := cleanName(name)
	m := Meta{
		ID:         id,
		Created:    u.a.now().UTC().Format(timeFormat),
		CreatedBy:  u.by,
		OrigName:   orig,
		File:       id + "-" + safeName(orig),
		MimeType:   sniff(head),
		ClientType: cleanType(clientType),
		Size:       size,
		UploadID:   u.id,
	}
	if isImage(m.MimeType) {
		m.Width, m.Height = dimensions(f.Name())
	}
	u.files = append(u.files, pending{tmp: f.Name(), meta: m})
	u.a.crashAt("tmp-synced", id)
	return &m, nil
}

// Commit renames every file into place, fsyncs the directory and then commits their metadata
// in one transaction. It returns the files in the order they were added.
func (u *Upload) Commit() ([]Meta, error) {
	if u.closed {
		return nil, errors.New("media: upload already committed or aborted")
	}
	u.closed = true
	var placed []string
	undo := func(err error) ([]Meta, error) {
		for _, p := range u.files {
			_ = os.Remove(p.tmp)
		}
		for _, path := range placed {
			_ = os.Remove(path)
		}
		return nil, err
	}
	keys := make([]string, len(u.files))
	values := make([][]byte, len(u.files))
	out := make([]Meta, len(u.files))
	var total int64
	for i, p := range u.files {
		dst := filepath.Join(u.a.dir, p.meta.ID)
		if err := os.Rename(p.tmp, dst); err != nil {
			return undo(fmt.Errorf("media: moving an upload into place: %w", err))
		}
		placed = append(placed, dst)
		v, err := json.Marshal(p.meta)
		if err != nil {
			return undo(fmt.Errorf("media: encoding metadata: %w", err))
		}
		keys[i], values[i], out[i] = p.meta.ID, v, p.meta
		total += p.meta.Size
	}
	if len(u.files) == 0 {
		return out, nil
	}
	if err := syncDir(u.a.dir); err != nil {
		return undo(fmt.Errorf("media: syncing %s: %w", u.a.dir, err))
	}
	u.a.crashAt("renamed", keys[0])
	if err := u.a.st.PutMetas(Bucket, keys, values); err != nil {
		return undo(fmt.Errorf("media: committing metadata: %w", err))
	}
	u.a.crashAt("committed", keys[0])
	u.a.files.Add(int64(len(out)))
	u.a.bytes.Add(total)
	if u.a.metrics != nil {
		u.a.metrics.uploads.Add(float64(len(out)))
	}
	return out, nil
}

// Abort removes the files written so far; nothing of the upload stays. It is safe to call
// after Commit (it then does nothing).
func (u *Upload) Abort() {
	if u.closed {
		return
	}
	u.closed = true
	for _, p := range u.files {
		_ = os.Remove(p.tmp)
	}
}

// fill reads into buf until it is full or r fails; unlike io.ReadFull it passes r's errors
// on as they are, so that a truncated multipart part (io.ErrUnexpectedEOF) is not taken for
// a complete file. At the end of r it returns what it read and io.EOF.
func fill(r io.Reader, buf []byte) (int, error) {
	n := 0
	for n < len(buf) {
		m, err := r.Read(buf[n:])
		n += m
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

// sniff decides the content type from the first bytes (http.DetectContentType, the WHATWG
// algorithm), never from what the client declared.
func sniff(head []byte) string { return http.DetectContentType(head) }

func isImage(mimeType string) bool {
	switch mimeType {
	case "image/jpeg", "image/png", "image/gif":
		return true
	}
	return false
}

// dimensions reads an image's width and height from its header; 0, 0 if it cannot.
func dimensions(path string) (int, int) {
	f, err := os.Open(path)
	if err != nil {
		return 0, 0
	}
	defer f.Close()
	c, _, err := image.DecodeConfig(f)
	if err != nil || c.Width <= 0 || c.Height <= 0 {
		return 0, 0
	}
	return c.Width, c.Height
}

// cleanName keeps the last element of a client's file name (browsers of old sent whole
// paths), without control characters or invalid UTF-8, at most maxOrigName bytes.
func cleanName(name string) string {
	if i := strings.LastIndexAny(name, `/\`); i >= 0 {
		name = name[i+1:]
	}
	var b strings.Builder
	for _, r := range name {
		if r == utf8.RuneError || unicode.IsControl(r) {
			continue
		}
		if b.Len()+utf8.RuneLen(r) > maxOrigName {
			break
		}
		b.WriteRune(r)
	}
	out := strings.TrimSpace(b.String())
	if out == "" || out == "." || out == ".." {
		return "file"
	}
	return out
}

// safeName makes a name URL- and header-safe: letters, digits, '.', '_' and '-' stay, any
// other character becomes '_'.
func safeName(name string) string {
	var b strings.Builder
	for _, r := range name {
		if b.Len() >= maxSafeName {
			break
		}
		switch {
		case r < utf8.RuneSelf && (r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '_' || r == '-'):
			b.WriteRune(r)
		default:
			b.WriteByte('_')
		}
	}
	return b.String()
}

// cleanType keeps a client's declared type only if it looks like one, and short.
func cleanType(t string) string {
	t = strings.TrimSpace(t)
	if len(t) > 100 || strings.ContainsFunc(t, func(r rune) bool { return r < ' ' || r > '~' }) {
		return ""
	}
	return t
}
