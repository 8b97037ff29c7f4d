package httpapi

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"time"

	"github.com/restkube/restkube/dbserver/auth"
	"github.com/restkube/restkube/dbserver/media"
	"github.com/restkube/restkube/dbserver/settings"
)

// The /media routes (restdb.io's media archive):
//
//	POST   /media              multipart upload of one or more files → 201 {msg, uploadid, ids}
//	GET    /media/<id|file>    the file (?s=t 128 px, ?s=w 640 px for images); no credentials
//	GET    /media/<id>/meta    its metadata
//	DELETE /media/<id>         delete it → 200 {"result":["<id>"]}
//
// Access: upload, meta and delete need credentials and rights on the collection "media"
// (web keys by their paths, e.g. /media/**, and methods; external users by the "media"
// entry of settings' collections). Reading a file needs none: its 96-bit random id is the
// capability, so that a page's <img src> works as on restdb.io without opening the archive to
// anyone who guesses ids.

// mediaColl is the collection name whose access rules govern the archive.
const mediaColl = "media"

// multipartSlack is what a multipart body may carry beyond its files' bytes: boundaries,
// part headers and small form fields.
const multipartSlack = 1 << 20

// maxMediaParts bounds the parts (files and fields) of one upload.
const maxMediaParts = 1000

// maxMediaFiles bounds the files of one upload.
const maxMediaFiles = 100

// mediaIdle is how long an upload or a download may stall before the connection is cut; the
// server's overall read and write timeouts do not apply to these streams.
const mediaIdle = 60 * time.Second

// mediaCSP keeps any file that a browser renders from running script or loading anything.
const mediaCSP = "default-src 'none'; img-src 'self'; media-src 'self'; style-src 'unsafe-inline'; sandbox"

// maxConcurrentUploads bounds the uploads that stream at once; each holds about 2 MiB of
// buffers, so together they hold at most 16 MiB. Others wait for a turn (or their client
// to give up).
const maxConcurrentUploads = 8

type mediaRoutes struct {
	s       *Server
	a       *media.Archive
	uploads chan struct{}
}

// bindMedia registers the /media routes, served by a.
func (s *Server) bindMedia(a *media.Archive) {
	m := &mediaRoutes{s: s, a: a, uploads: make(chan struct{}, maxConcurrentUploads)}
	s.Handle("/media", m.upload)
	s.Handle("/media/{$}", m.upload)
	s.Handle("/media/{name}", m.file)
	s.Handle("/media/{id}/meta", m.meta)
}

// caller authenticates r and checks that it may use method on path (relative to the server
// root, as web key globs for /media see it).
func (m *mediaRoutes) caller(r *http.Request, method, path string) (*settings.Config, *auth.Principal, auth.Grant, error) {
	cfg := m.s.settings.Current()
	p, err := m.s.authenticate(r, cfg)
	if err != nil {
		return nil, nil, auth.Grant{}, err
	}
	g, err := auth.Authorize(cfg, p, method, mediaColl, path)
	if err != nil {
		return nil, nil, auth.Grant{}, err
	}
	return cfg, p, g, nil
}

// owns reports whether g lets its caller see the file m (private media for external users).
func owns(g auth.Grant, m *media.Meta) bool {
	return !g.Private || (g.Owner != "" && m.CreatedBy == g.Owner)
}

func (m *mediaRoutes) upload(w http.ResponseWriter, r *http.Request) error {
	method, err := effectiveMethod(r)
	if err != nil {
		return err
	}
	if method != http.MethodPost {
		return MethodNotAllowed(method, http.MethodPost)
	}
	cfg, p, _, err := m.caller(r, http.MethodPost, "/media")
	if err != nil {
		return err
	}
	ct, params, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || ct != "multipart/form-data" || params["boundary"] == "" {
		return NewError(http.StatusBadRequest, "an upload must be multipart/form-data with a boundary")
	}
	limit := cfg.Settings.Limits.MaxMediaBytes
	if limit <= 0 {
		limit = settings.DefaultMaxMediaBytes
	}
	if r.ContentLength > limit+multipartSlack {
		return tooLarge(limit)
	}
	select {
	case m.uploads <- struct{}{}:
		defer func() { <-m.uploads }()
	case <-r.Context().Done():
		return NewError(http.StatusServiceUnavailable, "gave up waiting for a turn to upload")
	}
	body := http.MaxBytesReader(w, r.Body, limit+multipartSlack)
	rc := http.NewResponseController(w)
	// Reading through a buffer of the copy's size: multipart.NewReader keeps a larger
	// bufio.Reader it is given, so parts are read in large chunks, not 4 KiB ones.
	in := bufio.NewReaderSize(&idleReader{r: body, rc: rc}, 1<<20)
	mr := multipart.NewReader(in, params["boundary"])

	u, err := m.a.NewUpload(p.Name, limit)
	if err != nil {
		return err
	}
	defer u.Abort()
	files := 0
	for parts := 0; ; parts++ {
		part, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return uploadError(fmt.Errorf("%w: %w", media.ErrUploadRead, err), limit)
		}
		if parts >= maxMediaParts {
			return NewError(http.StatusBadRequest, "an upload may have at most %d parts", maxMediaParts)
		}
		if part.FileName() == "" {
			continue // a plain form field: skipped (NextPart discards its content)
		}
		if files++; files > maxMediaFiles {
			return NewError(http.StatusBadRequest, "an upload may hold at most %d files", maxMediaFiles)
		}
		if _, err := u.Add(part.FileName(), part.Header.Get("Content-Type"), part); err != nil {
			return uploadError(err, limit)
		}
	}
	if files == 0 {
		return NewError(http.StatusBadRequest, "the upload holds no file: send each file as a multipart part with a filename")
	}
	metas, err := u.Commit()
	if err != nil {
		return err
	}
	ids := make([]string, len(metas))
	for i, mt := range metas {
		ids[i] = mt.ID
	}
	writeJSON(w, http.StatusCreated, map[string]any{"msg": "OK", "uploadid": u.ID(), "ids": ids})
	return nil
}

func tooLarge(limit int64) *Error {
	return NewError(http.StatusRequestEntityTooLarge, "the upload is larger than the %d bytes allowed (limits.maxMediaBytes)", limit)
}

// uploadError maps what an upload can fail with. Failures to read the body are the client's
// (400, without detail: a network error's text names addresses); failures to store it are
// ours (a 500 whose detail, which may name files, goes to the log only).
func uploadError(err error, limit int64) error {
	var tl *media.TooLargeError
	var mb *http.MaxBytesError
	switch {
	case errors.As(err, &tl), errors.As(err, &mb):
		return tooLarge(limit)
	case errors.Is(err, multipart.ErrMessageTooLarge):
		return NewError(http.StatusBadRequest, "a part's headers are too large")
	case errors.Is(err, media.ErrUploadRead):
		return NewError(http.StatusBadRequest, "malformed or interrupted multipart body")
	}
	return err
}

func (m *mediaRoutes) file(w http.ResponseWriter, r *http.Request) error {
	method, err := effectiveMethod(r)
	if err != nil {
		return err
	}
	switch method {
	case http.MethodGet, http.MethodHead:
	case http.MethodDelete:
		return m.delete(w, r)
	default:
		return MethodNotAllowed(method, http.MethodGet, http.MethodHead, http.MethodDelete)
	}
	size, ok := media.ParseSize(r.URL.Query().Get("s"))
	if !ok {
		return NewError(http.StatusBadRequest, "s must be t (thumbnail) or w (web size)")
	}
	mt, err := m.a.Lookup(r.PathValue("name"))
	if err != nil {
		return mediaError(err)
	}
	c, err := m.a.Open(mt, size)
	if err != nil {
		return mediaError(err)
	}
	defer c.Close()
	contentType, inline := media.ServedType(c.Type)
	disposition := "attachment"
	if inline {
		disposition = "inline"
	}
	h := w.Header()
	h.Set("Content-Type", contentType)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Content-Security-Policy", mediaCSP)
	cd := mime.FormatMediaType(disposition, map[string]string{"filename": mt.OrigName})
	if cd == "" {
		cd = disposition // a name FormatMediaType cannot encode: no name, never no disposition
	}
	h.Set("Content-Disposition", cd)
	h.Set("ETag", `"`+mt.ID+string(size)+`"`)
	// Files never change (there is no update), but they can be deleted: cached for an hour,
	// by the browser only.
	h.Set("Cache-Control", "private, max-age=3600")
	// A download may outlast the server's write timeout: allow the time a slow reader
	// (256 KiB/s) needs, plus the idle allowance.
	_ = http.NewResponseController(w).SetWriteDeadline(time.Now().Add(mediaIdle + time.Duration(c.Size/(256<<10))*time.Second))
	rw := &rangeRefusal{ResponseWriter: w}
	http.ServeContent(rw, r, mt.File, mt.CreatedTime(), c)
	if rw.refused {
		// ServeContent has set Content-Range (bytes */size) and written nothing: answer with
		// the API's JSON error instead of its plain-text one.
		for _, k := range []string{"Content-Disposition", "ETag", "Cache-Control", "Last-Modified", "Content-Security-Policy"} {
			h.Del(k)
		}
		return NewError(http.StatusRequestedRangeNotSatisfiable, "the Range header asks for no byte of this %d-byte file", c.Size)
	}
	return nil
}

// rangeRefusal passes a response through, except a 416 (a Range the file cannot satisfy):
// that one it keeps back, status and body, for the handler to answer as JSON.
type rangeRefusal struct {
	http.ResponseWriter
	refused bool
}

func (rr *rangeRefusal) WriteHeader(status int) {
	if status == http.StatusRequestedRangeNotSatisfiable {
		rr.refused = true
		return
	}
	rr.ResponseWriter.WriteHeader(status)
}

func (rr *rangeRefusal) Write(b []byte) (int, error) {
	if rr.refused {
		return len(b), nil
	}
	return rr.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the connection.
func (rr *rangeRefusal) Unwrap() http.ResponseWriter { return rr.ResponseWriter }

func (m *mediaRoutes) meta(w http.ResponseWriter, r *http.Request) error {
	if r.Method != http.MethodGet {
		return MethodNotAllowed(r.Method, http.MethodGet)
	}
	id := r.PathValue("id")
	_, _, g, err := m.caller(r, http.MethodGet, "/media/"+id+"/meta")
	if err != nil {
		return err
	}
	if !media.ValidID(id) {
		return NewError(http.StatusBadRequest, "invalid media id %q: ids are 24 lowercase hex characters", truncate(id))
	}
	mt, err := m.a.Get(id)
	if err != nil {
		return mediaError(err)
	}
	if !owns(g, mt) {
		return mediaError(media.ErrNotFound)
	}
	writeJSON(w, http.StatusOK, mt)
	return nil
}

func (m *mediaRoutes) delete(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("name")
	_, _, g, err := m.caller(r, http.MethodDelete, "/media/"+id)
	if err != nil {
		return err
	}
	if !media.ValidID(id) {
		return NewError(http.StatusBadRequest, "invalid media id %q: ids are 24 lowercase hex characters", truncate(id))
	}
	mt, err := m.a.Get(id)
	if err != nil {
		return mediaError(err)
	}
	if !owns(g, mt) {
		return mediaError(media.ErrNotFound)
	}
	if err := m.a.Delete(id); err != nil {
		return mediaError(err)
	}
	writeJSON(w, http.StatusOK, map[string]any{"result": []string{id}})
	return nil
}

// mediaError maps the archive's errors to answers.
func mediaError(err error) error {
	switch {
	case errors.Is(err, media.ErrNotFound):
		return NewError(http.StatusNotFound, "no such media file")
	case errors.Is(err, media.ErrNotImage):
		return NewError(http.StatusBadRequest, "s=t and s=w apply to JPEG, PNG and GIF images only")
	case errors.Is(err, media.ErrImageTooLarge):
		return NewError(http.StatusBadRequest, "the image has too many pixels to be resized")
	}
	return err
}

// idleReader extends the connection's read deadline as an upload streams, so that a large
// upload is bounded by stalls (mediaIdle), not by the server's ReadTimeout.
type idleReader struct {
	r    io.Reader
	rc   *http.ResponseController
	last time.Time
}

func (ir *idleReader) Read(p []byte) (int, error) {
	if now := time.Now(); now.Sub(ir.last) > time.Second {
		ir.last = now
		_ = ir.rc.SetReadDeadline(now.Add(mediaIdle))
	}
	return ir.r.Read(p)
}
