package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/restkube/restkube/dbserver/auth"
	"github.com/restkube/restkube/dbserver/jsondoc"
	"github.com/restkube/restkube/dbserver/planner"
	"github.com/restkube/restkube/dbserver/query"
	"github.com/restkube/restkube/dbserver/settings"
	"github.com/restkube/restkube/dbserver/store"
)

// bindRest registers the restdb.io-compatible document API: /rest/<collection> (query,
// create), /rest/<collection>/<id> (read, update, delete) and /rest/<collection>/* (bulk
// delete).
func (s *Server) bindRest() {
	s.Handle("/rest/{coll}", s.handleCollection)
	s.Handle("/rest/{coll}/{$}", s.handleCollection)
	s.Handle("/rest/{coll}/{id}", s.handleDocument)
	s.bindChildren()
	s.bindMeta()
	s.bindJSAPI()
}

// target is the parsed path of a /rest request.
type target struct {
	coll string
	id   string
	// path is relative to /rest, as web key globs see it ("/tasks/ID").
	path string
}

// parseTarget validates the collection name (a ".json" suffix is dropped, as restdb.io does)
// and the id, when the route has one.
func parseTarget(r *http.Request) (target, error) {
	coll := strings.TrimSuffix(r.PathValue("coll"), ".json")
	if !settings.CollectionName.MatchString(coll) {
		return target{}, NewError(http.StatusBadRequest, "invalid collection name %q: it must match %s", truncate(coll), settings.CollectionName)
	}
	t := target{coll: coll, id: r.PathValue("id"), path: "/" + coll}
	if t.id != "" {
		t.path += "/" + t.id
		if t.id != "*" && !store.ValidID(t.id) {
			return target{}, NewError(http.StatusBadRequest, "invalid id %q: ids are 24 lowercase hex characters", truncate(t.id))
		}
	}
	return t, nil
}

// truncate keeps echoed client input short in error messages.
func truncate(s string) string {
	if len(s) > 80 {
		return s[:80] + "…"
	}
	return s
}

// effectiveMethod honours X-HTTP-Method-Override on a POST.
func effectiveMethod(r *http.Request) (string, error) {
	o := strings.TrimSpace(r.Header.Get("X-HTTP-Method-Override"))
	if r.Method != http.MethodPost || o == "" {
		return r.Method, nil
	}
	switch m := strings.ToUpper(o); m {
	case http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete:
		return m, nil
	}
	return "", NewError(http.StatusBadRequest, "X-HTTP-Method-Override must be PUT, PATCH or DELETE")
}

// request is one authorized /rest request.
type request struct {
	method string
	cfg    *settings.Config
	p      *auth.Principal
	t      target
	g      auth.Grant
	// vals is the query string, decoded once (prepare refuses one that does not decode).
	vals url.Values
}

// readOptions hide from the planner's reads the documents the caller may not see.
func (req *request) readOptions() planner.Options {
	if !req.g.Private && len(req.g.Match) == 0 {
		return planner.Options{}
	}
	fields := []string{jsondoc.FieldCreatedBy}
	for k := range req.g.Match {
		fields = append(fields, k)
	}
	return planner.Options{Allow: req.g.Sees, AllowFields: fields}
}

// prepare runs the checks every /rest handler shares, in the order that tells the client the
// most useful thing first: method, credentials, path, rights.
func (s *Server) prepare(r *http.Request, allow ...string) (*request, error) {
	method, err := effectiveMethod(r)
	if err != nil {
		return nil, err
	}
	served := false
	for _, a := range allow {
		served = served || a == method
	}
	if !served {
		return nil, MethodNotAllowed(method, allow...)
	}
	// net/url drops a parameter it cannot decode (?q=%zz) without a word, which would run
	// the query without it: refuse instead.
	vals, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return nil, NewError(http.StatusBadRequest, "the query string does not decode: %s", truncate(err.Error()))
	}
	cfg := s.settings.Current()
	p, err := s.authenticate(r, cfg)
	if err != nil {
		return nil, err
	}
	t, err := parseTarget(r)
	if err != nil {
		return nil, err
	}
	g, err := auth.Authorize(cfg, p, method, t.coll, t.path)
	if err != nil {
		return nil, err
	}
	return &request{method: method, cfg: cfg, p: p, t: t, g: g, vals: vals}, nil
}

// handleCollection serves /rest/{coll}: query and create.
func (s *Server) handleCollection(w http.ResponseWriter, r *http.Request) error {
	req, err := s.prepare(r, http.MethodGet, http.MethodPost)
	if err != nil {
		return err
	}
	if req.method == http.MethodGet {
		return s.list(w, r, req)
	}
	return s.create(w, r, req)
}

// handleDocument serves /rest/{coll}/{id}, and /rest/{coll}/* for bulk deletes.
func (s *Server) handleDocument(w http.ResponseWriter, r *http.Request) error {
	if r.PathValue("id") == "*" {
		req, err := s.prepare(r, http.MethodDelete)
		if err != nil {
			return err
		}
		return s.deleteMany(w, r, req)
	}
	req, err := s.prepare(r, http.MethodGet, http.MethodPut, http.MethodPatch, http.MethodDelete)
	if err != nil {
		return err
	}
	switch req.method {
	case http.MethodGet:
		return s.get(w, r, req)
	case http.MethodDelete:
		return s.delete(w, r, req)
	}
	return s.update(w, r, req)
}

func (s *Server) list(w http.ResponseWriter, r *http.Request, req *request) error {
	return s.listValues(w, req, req.vals)
}

// listValues answers the query of vals (the URL's parameters) over req's collection.
func (s *Server) listValues(w http.ResponseWriter, req *request, vals url.Values) error {
	vals.Del("apikey") // a credential, not a query parameter
	q, err := query.ParseRequest(vals, query.Options{Now: s.now(), MaxPageSize: req.cfg.Settings.Limits.MaxPageSize})
	if err != nil {
		return err
	}
	opts := req.readOptions()
	// A page written from stored JSON goes into a recycled buffer, given back once sent.
	bp := bodyPool.Get().(*[]byte)
	opts.Buffer = *bp
	// A large page goes to the socket as it is written, chunk by chunk (never held whole).
	streamed := false
	opts.Stream = func(p planner.Plan, size int) io.Writer {
		streamed = true
		h := w.Header()
		h.Set(PlanHeader, planSummary(p))
		h.Set("Content-Type", "application/json; charset=utf-8")
		w.WriteHeader(http.StatusOK)
		return &chunkWriter{w: w, rc: http.NewResponseController(w), end: time.Now().Add(pageWriteTime(size))}
	}
	res, plan, err := planner.Execute(s.store, req.t.coll, q, opts)
	if streamed {
		if err != nil {
			// The status is sent: cut the connection, so the client sees a truncated answer
			// rather than one that looks whole.
			var se *planner.StreamError
			if !errors.As(err, &se) {
				s.log.Error("query failed while its page was being sent", slog.String("collection", req.t.coll), slog.String("error", err.Error()))
			}
			panic(http.ErrAbortHandler)
		}
		_, _ = w.Write([]byte{'\n'})
		return nil
	}
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("querying %s: %w", req.t.coll, err)
	}
	if err != nil {
		res = []any{}
	}
	// How the query was answered, for clients tuning their indexes (an "explain" in a header).
	w.Header().Set(PlanHeader, planSummary(plan))
	writeJSON(w, http.StatusOK, res)
	switch page := res.(type) {
	case json.RawMessage:
		recycle(bp, page)
	case planner.RawPage:
		recycle(bp, page.Data)
	}
	return nil
}

func (s *Server) get(w http.ResponseWriter, r *http.Request, req *request) error {
	res, version, err := planner.Get(s.store, req.t.coll, req.t.id, r.URL.Query().Get("metafields") == "true", req.readOptions())
	if err != nil {
		return err
	}
	if r.URL.Query().Get("fetchchildren") == "true" {
		if res, err = s.withChildren(req, res); err != nil {
			return err
		}
	}
	w.Header().Set("ETag", strconv.Quote(strconv.FormatInt(version, 10)))
	writeJSON(w, http.StatusOK, res)
	return nil
}

func (s *Server) create(w http.ResponseWriter, r *http.Request, req *request) error {
	v, err := readDoc(w, r, req.cfg, false)
	if err != nil {
		return err
	}
	switch body := v.(type) {
	case map[string]any:
		docs, err := s.store.Insert(req.t.coll, []store.Doc{jsondoc.UserFields(body)}, req.p.Name)
		if err != nil {
			return fmt.Errorf("creating in %s: %w", req.t.coll, err)
		}
		setETag(w, docs[0])
		writeJSON(w, http.StatusCreated, docs[0])
	case []any:
		in := make([]store.Doc, len(body))
		var list []FieldError
		for i, e := range body {
			obj, ok := e.(map[string]any)
			if !ok {
				list = append(list, FieldError{Field: fmt.Sprintf("[%d]", i), Message: "must be an object"})
				continue
			}
			in[i] = jsondoc.UserFields(obj)
		}
		if len(list) > 0 {
			e := NewError(http.StatusBadRequest, "every element of a bulk create must be an object")
			e.List = list
			return e
		}
		docs := []store.Doc{}
		if len(in) > 0 {
			docs, err = s.store.Insert(req.t.coll, in, req.p.Name)
			if err != nil {
				return fmt.Errorf("creating in %s: %w", req.t.coll, err)
			}
		}
		writeJSON(w, http.StatusCreated, docs)
	default:
		return NewError(http.StatusBadRequest, "the body must be a JSON object or an array of objects")
	}
	return nil
}

func (s *Server) update(w http.ResponseWriter, r *http.Request, req *request) error {
	expect, err := s.precondition(r, req)
	if err != nil {
		return err
	}
	v, err := readDoc(w, r, req.cfg, true)
	if err != nil {
		return err
	}
	body, ok := v.(map[string]any)
	if !ok {
		return NewError(http.StatusBadRequest, "the body must be a JSON object")
	}
	body = jsondoc.UserFields(body)
	if len(body) == 0 {
		// Nothing to change (an empty PUT, as some clients send): the document as it is.
		d, err := s.visible(req)
		if err != nil {
			return err
		}
		setETag(w, d)
		writeJSON(w, http.StatusOK, d)
		return nil
	}
	now := s.now()
	d, err := s.store.Update(req.t.coll, req.t.id, expect, req.p.Name, func(d store.Doc) error {
		if !req.g.Sees(d) {
			return store.ErrNotFound
		}
		return query.ApplyUpdate(d, body, now)
	})
	if err != nil {
		return fmt.Errorf("updating %s/%s: %w", req.t.coll, req.t.id, err)
	}
	setETag(w, d)
	writeJSON(w, http.StatusOK, d)
	return nil
}

func (s *Server) delete(w http.ResponseWriter, r *http.Request, req *request) error {
	expect, err := s.precondition(r, req)
	if err != nil {
		return err
	}
	// A caller that sees every document needs no look at its owner: so a document cut short,
	// whose fields cannot be read, can still be deleted (without If-Match).
	var allow func(store.Doc) error
	if req.g.Private || len(req.g.Match) > 0 {
		allow = func(d store.Doc) error {
			if !req.g.Sees(d) {
				return store.ErrNotFound
			}
			return nil
		}
	}
	err = s.store.Delete(req.t.coll, req.t.id, expect, allow, req.readOptions().AllowFields...)
	if err != nil {
		return fmt.Errorf("deleting %s/%s: %w", req.t.coll, req.t.id, err)
	}
	writeJSON(w, http.StatusOK, map[string]any{"result": []string{req.t.id}})
	return nil
}

// deleteMany deletes by a body array of ids (unknown and unseen ids are skipped) or, with the
// full-access key only, by ?q=.
func (s *Server) deleteMany(w http.ResponseWriter, r *http.Request, req *request) error {
	raw, err := readBody(w, r, req.cfg)
	if err != nil {
		return err
	}
	var deleted []string
	if vals := req.vals; vals.Has("q") {
		if req.p.Kind != auth.FullKey {
			return fmt.Errorf("%w: deleting by query needs the full-access API key", auth.ErrForbidden)
		}
		if len(bytes.TrimSpace(raw)) > 0 {
			return NewError(http.StatusBadRequest, "send either a body of ids or ?q=, not both")
		}
		m, err := query.Parse([]byte(vals.Get("q")), s.now())
		if err != nil {
			return err
		}
		deleted, err = s.store.DeleteWhere(req.t.coll, m.Match)
		if err != nil {
			return fmt.Errorf("deleting by query in %s: %w", req.t.coll, err)
		}
	} else {
		ids, err := parseIDs(raw)
		if err != nil {
			return err
		}
		var allow func(store.Doc) bool
		if req.g.Private || len(req.g.Match) > 0 {
			allow = req.g.Sees
		}
		deleted, err = s.store.DeleteMany(req.t.coll, ids, allow, req.readOptions().AllowFields...)
		if err != nil {
			return fmt.Errorf("deleting in %s: %w", req.t.coll, err)
		}
	}
	if deleted == nil {
		deleted = []string{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"result": deleted})
	return nil
}

// parseIDs reads a bulk delete body: a JSON array of well-formed ids.
func parseIDs(raw []byte) ([]string, error) {
	if len(bytes.TrimSpace(raw)) == 0 {
		return nil, NewError(http.StatusBadRequest, "the body must be a JSON array of ids (or use ?q= with the full-access key)")
	}
	var ids []any
	if err := json.Unmarshal(raw, &ids); err != nil {
		return nil, NewError(http.StatusBadRequest, "the body must be a JSON array of ids: %s", jsonProblem(err))
	}
	out := make([]string, 0, len(ids))
	var list []FieldError
	for i, v := range ids {
		id, ok := v.(string)
		if !ok || !store.ValidID(id) {
			list = append(list, FieldError{Field: fmt.Sprintf("[%d]", i), Message: "not an id (24 lowercase hex characters)"})
			continue
		}
		out = append(out, id)
	}
	if len(list) > 0 {
		e := NewError(http.StatusBadRequest, "the body holds malformed ids")
		e.List = list
		return nil, e
	}
	return out, nil
}

// visible returns the document of req, or ErrNotFound when it is missing or hidden from the caller.
func (s *Server) visible(req *request) (store.Doc, error) {
	d, err := s.store.Get(req.t.coll, req.t.id)
	if err != nil {
		return nil, fmt.Errorf("reading %s/%s: %w", req.t.coll, req.t.id, err)
	}
	if !req.g.Sees(d) {
		return nil, store.ErrNotFound
	}
	return d, nil
}

// seesStored reports ErrNotFound for a document that is missing or hidden from the caller,
// reading only its owner: a write to a document that does not decode (which a delete must be
// able to remove) gets past it.
func (s *Server) seesStored(req *request) error {
	id, err := store.ParseObjectID(req.t.id)
	if err != nil {
		return fmt.Errorf("reading %s/%s: %w", req.t.coll, req.t.id, store.ErrNotFound)
	}
	return s.store.View(func(sn *store.Snapshot) error {
		raw := sn.Raw(req.t.coll, id[:])
		if raw == nil {
			return store.ErrNotFound
		}
		fields := req.readOptions().AllowFields
		if fields == nil {
			fields = []string{jsondoc.FieldCreatedBy}
		}
		meta, err := jsondoc.DecodeFields(raw, fields)
		if err != nil {
			return store.Corrupt(req.t.coll, raw, err)
		}
		if !req.g.Sees(meta) {
			return store.ErrNotFound
		}
		return nil
	})
}

// precondition returns the version If-Match demands (-1: any). It checks first that the caller
// may see the document, so that a hidden document answers 404 and not 412, and answers 412 for
// an If-Match that no version can satisfy.
func (s *Server) precondition(r *http.Request, req *request) (int64, error) {
	expect, ok := parseIfMatch(r.Header.Get("If-Match"))
	if !ok || req.g.Private || len(req.g.Match) > 0 {
		if err := s.seesStored(req); err != nil {
			return 0, err
		}
	}
	if !ok {
		return 0, NewError(http.StatusPreconditionFailed, "If-Match %q matches no version", truncate(r.Header.Get("If-Match")))
	}
	return expect, nil
}

// parseIfMatch reads "N", W/"N", N or * (and absent: -1, any version).
func parseIfMatch(h string) (int64, bool) {
	h = strings.TrimSpace(h)
	if h == "" || h == "*" {
		return -1, true
	}
	h = strings.TrimPrefix(h, "W/")
	if len(h) >= 2 && h[0] == '"' && h[len(h)-1] == '"' {
		h = h[1 : len(h)-1]
	}
	n, err := strconv.ParseInt(h, 10, 64)
	if err != nil || n < 0 {
		return 0, false
	}
	return n, true
}

func setETag(w http.ResponseWriter, d store.Doc) {
	w.Header().Set("ETag", strconv.Quote(strconv.FormatInt(jsondoc.Version(d), 10)))
}

// readBody reads the whole body, at most limits.maxBodyBytes (413 beyond).
func readBody(w http.ResponseWriter, r *http.Request, cfg *settings.Config) ([]byte, error) {
	limit := cfg.Settings.Limits.MaxBodyBytes
	if limit <= 0 {
		limit = settings.DefaultMaxBodyBytes
	}
	b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			return nil, err
		}
		return nil, NewError(http.StatusBadRequest, "reading the body failed")
	}
	return b, nil
}

// readJSON reads the body as JSON whatever its content type (browsers send text/plain to
// avoid a preflight).
func readJSON(w http.ResponseWriter, r *http.Request, cfg *settings.Config) (any, error) {
	b, err := readBody(w, r, cfg)
	if err != nil {
		return nil, err
	}
	if len(bytes.TrimSpace(b)) == 0 {
		return nil, NewError(http.StatusBadRequest, "the body is empty; send a JSON document")
	}
	// JSON is UTF-8; decoders would store invalid bytes as U+FFFD, changing what was sent.
	if !utf8.Valid(b) {
		return nil, NewError(http.StatusBadRequest, "the body is not valid UTF-8")
	}
	// Checking the grammar and then decoding with the store's decoder costs about half of
	// json.Unmarshal; anything it refuses goes to json.Unmarshal for its verdict and message.
	if json.Valid(b) {
		if v, err := jsondoc.DecodeJSON(b); err == nil {
			return v, nil
		}
	}
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		return nil, NewError(http.StatusBadRequest, "invalid JSON: %s", jsonProblem(err))
	}
	return v, nil
}

// jsonProblem describes a JSON syntax error without echoing the body.
func jsonProblem(err error) string {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return fmt.Sprintf("%s (at byte %d)", se.Error(), se.Offset)
	}
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		return fmt.Sprintf("unexpected %s (at byte %d)", te.Value, te.Offset)
	}
	return "malformed"
}

// ChunkWriteTimeout is how long a client may take to accept one chunk of a streamed page
// (planner.StreamChunk bytes): the write deadline moves with every chunk, so a client that stops
// reading is cut after this long, ending the read transaction and freeing the chunk it holds.
const ChunkWriteTimeout = 10 * time.Second

// Over a whole streamed page a client must also read at MinPageRate on average (plus
// ChunkWriteTimeout of slack), so that a trickle cannot hold a read transaction for long: a
// 10 MB page gets about 3 minutes.
const MinPageRate = 64 << 10 // bytes per second

// pageWriteTime is the time a streamed page of size bytes may take.
func pageWriteTime(size int) time.Duration {
	return ChunkWriteTimeout + time.Duration(size)*time.Second/MinPageRate
}

// chunkWriter writes a streamed page, each chunk under a write deadline: ChunkWriteTimeout from
// now, and never past the page's own deadline end.
type chunkWriter struct {
	w   http.ResponseWriter
	rc  *http.ResponseController
	end time.Time
}

func (c *chunkWriter) Write(p []byte) (int, error) {
	d := time.Now().Add(ChunkWriteTimeout)
	if d.After(c.end) {
		d = c.end
	}
	_ = c.rc.SetWriteDeadline(d)
	return c.w.Write(p)
}

// PlanHeader names the response header of GET /rest/<collection> that tells how the query was
// answered: the plan, the indexed field it used, and how many documents it examined.
const PlanHeader = "X-Restkube-Plan"

func planSummary(p planner.Plan) string {
	out := string(p.Kind)
	if p.Field != "" {
		out += " field=" + p.Field
	}
	out += " examined=" + strconv.Itoa(p.Examined)
	if p.Covered > 0 {
		out += " covered=" + strconv.Itoa(p.Covered)
	}
	return out
}
