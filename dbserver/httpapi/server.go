package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/restkube/restkube/dbserver/auth"
	"github.com/restkube/restkube/dbserver/backup"
	"github.com/restkube/restkube/dbserver/jsondoc"
	"github.com/restkube/restkube/dbserver/media"
	"github.com/restkube/restkube/dbserver/realtime"
	"github.com/restkube/restkube/dbserver/settings"
	"github.com/restkube/restkube/dbserver/store"
)

// Authenticator verifies a Bearer token (ours or the identity provider's) and returns its
// caller. Its errors wrap the sentinels of package auth (ErrUnauthorized, ErrForbidden,
// ErrUnavailable, ErrBadGateway) so that they map to 401, 403, 503 and 502.
type Authenticator interface {
	Authenticate(ctx context.Context, token string) (*auth.Principal, error)
}

// HandlerFunc is a handler that returns its error instead of writing it: the server turns
// every error into the JSON error body in one place.
type HandlerFunc func(w http.ResponseWriter, r *http.Request) error

// PrincipalHandlerFunc is a HandlerFunc that runs only for an authenticated caller.
type PrincipalHandlerFunc func(w http.ResponseWriter, r *http.Request, p *auth.Principal) error

// Options configure New. Store and Settings are required.
type Options struct {
	// Store holds the documents.
	Store *store.Store
	// Settings is the config in force; it is read once per request, so reloads apply at once.
	Settings *settings.Source
	// Logger receives one line per request and every internal error; default discards.
	Logger *slog.Logger
	// Registry receives the HTTP metrics and is served at /metrics; nil uses a private registry.
	Registry *prometheus.Registry
	// Now is the clock for queries and updates; default time.Now.
	Now func() time.Time
	// Auth verifies Authorization: Bearer tokens and serves the /auth group (authroutes.go);
	// nil refuses every token with 401 and leaves /auth unmounted (a JSON 404). Each optional
	// route group has a field like this one: nil leaves the group unmounted.
	Auth AuthService
	// Media is the media archive served at /media (media.go); nil leaves /media unmounted.
	Media *media.Archive
	// Backup serves the /admin/backups group (backup.go); nil leaves it unmounted.
	Backup *backup.Service
	// Ready reports whether the server can serve (store open, not shutting down); nil means ready.
	Ready func() error
	// Realtime is the hub behind GET and POST /realtime; nil leaves /realtime unmounted (404).
	Realtime *realtime.Hub
}

// Server is the dbserver's HTTP API: /rest, /auth, /healthz, /readyz and /metrics.
type Server struct {
	store    *store.Store
	settings *settings.Source
	log      *slog.Logger
	now      func() time.Time
	auth     AuthService
	ready    func() error
	metrics  *metrics
	mux      *http.ServeMux
	handler  http.Handler
}

// New builds the server. It fails only when the metrics cannot be registered.
func New(opts Options) (*Server, error) {
	if opts.Store == nil || opts.Settings == nil {
		return nil, errors.New("httpapi: Store and Settings are required")
	}
	s := &Server{
		store:    opts.Store,
		settings: opts.Settings,
		log:      opts.Logger,
		now:      opts.Now,
		auth:     opts.Auth,
		ready:    opts.Ready,
		mux:      http.NewServeMux(),
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.now == nil {
		s.now = time.Now
	}
	reg := opts.Registry
	if reg == nil {
		reg = prometheus.NewRegistry()
	}
	m, err := newMetrics(reg)
	if err != nil {
		return nil, err
	}
	s.metrics = m
	// The store's document limits follow the settings, also on a reload.
	s.settings.OnChange(s.applyLimits)
	s.applyLimits(s.settings.Current())

	// Each route group registers itself from its own file (see the package doc); a group
	// whose dependency in Options is nil is not mounted, and its paths are a JSON 404.
	s.bindHealth(reg)
	s.bindRest()
	s.bindConsole()
	if opts.Auth != nil {
		s.bindAuth(opts.Auth)
	}
	if opts.Media != nil {
		s.bindMedia(opts.Media)
	}
	if opts.Realtime != nil {
		s.bindRealtime(opts.Realtime)
	}
	if opts.Backup != nil {
		s.bindBackup(opts.Backup)
	}
	s.Handle("/", notFound)
	s.handler = s.observe(s.cors(s.mux))
	return s, nil
}

// applyLimits hands the document limits of cfg to the store.
func (s *Server) applyLimits(cfg *settings.Config) {
	if cfg == nil {
		return
	}
	l := s.store.Limits()
	l.MaxDocumentBytes = cfg.Settings.Limits.MaxDocumentBytes
	s.store.SetLimits(l)
}

// ServeHTTP serves one request.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.handler.ServeHTTP(w, r) }

// Handle registers h for pattern, with the server's error mapping.
func (s *Server) Handle(pattern string, h HandlerFunc) {
	s.mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
		if err := checkQueryString(r); err != nil {
			s.writeError(w, r, err)
			return
		}
		if err := h(w, r); err != nil {
			s.writeError(w, r, err)
		}
	})
}

// checkQueryString refuses a query string that does not decode (?q=%zz): net/url's Query drops
// such a parameter without a word, and a handler would then run as if it had not been sent
// (a child query answering every child, say).
func checkQueryString(r *http.Request) error {
	if _, err := url.ParseQuery(r.URL.RawQuery); err != nil {
		return NewError(http.StatusBadRequest, "the query string does not decode: %s", truncate(err.Error()))
	}
	return nil
}

// HandleAuthenticated registers h for pattern; h runs only for a caller with valid credentials.
func (s *Server) HandleAuthenticated(pattern string, h PrincipalHandlerFunc) {
	s.Handle(pattern, func(w http.ResponseWriter, r *http.Request) error {
		p, err := s.authenticate(r, s.settings.Current())
		if err != nil {
			return err
		}
		return h(w, r, p)
	})
}

func notFound(w http.ResponseWriter, r *http.Request) error {
	return NewError(http.StatusNotFound, "no such endpoint")
}

// WriteJSON answers v as JSON with status.
func WriteJSON(w http.ResponseWriter, status int, v any) { writeJSON(w, status, v) }

func writeJSON(w http.ResponseWriter, status int, v any) {
	bp := bodyPool.Get().(*[]byte)
	body, err := appendBody((*bp)[:0], v)
	if err != nil {
		// Only a value that cannot be JSON (a NaN, a channel) gets here: a bug of ours.
		body = append(body[:0], `{"status":500,"message":"internal error: the answer could not be encoded as JSON"}`...)
		status = http.StatusInternalServerError
	}
	body = append(body, '\n')
	h := w.Header()
	h.Set("Content-Type", "application/json; charset=utf-8")
	// A known length spares the chunked encoding, and one Write hands the whole answer to
	// the connection's buffer at once.
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	// Served as application/json, never as HTML: gosec's taint check cannot see the header.
	// A write error means the client went away; there is nobody left to tell.
	_, _ = w.Write(body) //nolint:gosec // JSON body with a JSON content type
	recycle(bp, body)
}

// recycle gives the buffer b (grown from *bp) back to bodyPool, unless it grew too large.
func recycle(bp *[]byte, b []byte) {
	if cap(b) <= maxPooledBody {
		*bp = b[:0]
		bodyPool.Put(bp)
	}
}

// appendBody appends the JSON of v: stored JSON (a page written from the stored documents)
// as it is, since re-validating it through encoding/json cost about a tenth of an indexed
// query's CPU; documents through the store's reflection-free encoder; anything else through
// encoding/json. All without HTML escaping, as an Encoder with SetEscapeHTML(false) writes.
func appendBody(dst []byte, v any) ([]byte, error) {
	if raw, ok := v.(json.RawMessage); ok {
		return append(dst, raw...), nil
	}
	return jsondoc.AppendJSON(dst, v, false)
}

// bodyPool recycles answer buffers; ones grown past maxPooledBody (a large page) are left to
// the garbage collector so that one big answer does not pin its memory.
var bodyPool = sync.Pool{New: func() any { b := make([]byte, 0, 4096); return &b }}

const maxPooledBody = 256 << 10
