package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/restkube/restkube/dbserver/auth"
	"github.com/restkube/restkube/dbserver/realtime"
	"github.com/restkube/restkube/dbserver/settings"
)

// maxPublishBytes bounds a message sent to POST /realtime (every subscriber gets a copy in
// its stream, so it stays small whatever limits.maxBodyBytes allows).
const maxPublishBytes = 64 << 10

// bindRealtime registers GET /realtime (the event stream) and POST /realtime (publish).
func (s *Server) bindRealtime(hub *realtime.Hub) {
	s.Handle("GET /realtime", func(w http.ResponseWriter, r *http.Request) error { return s.subscribe(w, r, hub) })
	s.Handle("POST /realtime", func(w http.ResponseWriter, r *http.Request) error { return s.publish(w, r, hub) })
	s.Handle("/realtime", func(w http.ResponseWriter, r *http.Request) error {
		if err := realtimeEnabled(s.settings.Current()); err != nil {
			return err
		}
		return MethodNotAllowed(r.Method, http.MethodGet, http.MethodPost)
	})
	// A reload may revoke keys, change roles or turn realtime off: every stream checks again.
	s.settings.OnChange(func(*settings.Config) { hub.Reauthorize() })
}

// realtimeEnabled answers 404 while settings realtime.enabled is off.
func realtimeEnabled(cfg *settings.Config) error {
	if cfg == nil || !cfg.Settings.Realtime.Enabled {
		return NewError(http.StatusNotFound, "realtime is not enabled on this database (settings realtime.enabled)")
	}
	return nil
}

// subscribe serves the event stream to a caller with valid credentials that may hear something.
func (s *Server) subscribe(w http.ResponseWriter, r *http.Request, hub *realtime.Hub) error {
	access, err := s.streamAccess(r.Context(), r)
	if err != nil {
		return err
	}
	last := r.Header.Get("Last-Event-ID")
	if last == "" {
		// EventSource polyfills (restdb.io's eventsource.min.js among them) send it this way.
		last = r.URL.Query().Get("lastEventId")
	}
	if len(last) > 64 {
		last = last[:64] // no id of ours is longer; a longer one simply resets
	}
	sub, err := hub.Subscribe(access, last)
	switch {
	case errors.Is(err, realtime.ErrFull):
		w.Header().Set("Retry-After", "5")
		return NewError(http.StatusServiceUnavailable, "too many realtime subscribers; try again later")
	case errors.Is(err, realtime.ErrClosed):
		return NewError(http.StatusServiceUnavailable, "the database is shutting down")
	case err != nil:
		return err
	}
	h := w.Header()
	h.Set("Content-Type", "text/event-stream; charset=utf-8")
	h.Set("Cache-Control", "no-cache, no-transform")
	h.Set("X-Accel-Buffering", "no") // nginx-style proxies: do not hold events back
	recheck := func(ctx context.Context) (realtime.Access, error) { return s.streamAccess(ctx, r) }
	rc := http.NewResponseController(w)
	if conn, ctx, err := hijackStream(w, r, rc); err == nil {
		reason := sub.Stream(ctx, conn, recheck)
		s.log.LogAttrs(r.Context(), slog.LevelDebug, "realtime stream ended", slog.String("reason", reason), slog.String("remote", r.RemoteAddr))
		return nil
	}
	// Not HTTP/1.1 over a connection of its own (HTTP/1.0, or HTTP/2): through the
	// ResponseWriter. The server's timeouts suit requests, not a stream that lasts hours:
	// lift them for this response only (a read deadline left in place would cancel the
	// request when it passes). Each write still gets Options.WriteTimeout from the hub.
	_ = rc.SetReadDeadline(time.Time{})
	_ = rc.SetWriteDeadline(time.Time{})
	w.WriteHeader(http.StatusOK)
	reason := sub.Stream(r.Context(), streamConn{w, rc}, recheck)
	s.log.LogAttrs(r.Context(), slog.LevelDebug, "realtime stream ended", slog.String("reason", reason), slog.String("remote", r.RemoteAddr))
	return nil
}

// hijackStream takes the connection of an HTTP/1.1 request over from the server and writes
// the stream's response head (200, w's headers, chunked), so that the hub writes each round of
// events to the socket itself: one writev of its shared buffers per round (a chunk), where the
// ResponseWriter copied them through two buffers and made two or more write calls per round
// once a round passed 4 KiB. It also frees the server's buffers of the connection. The
// returned context ends when the client closes the connection (after a Hijack the request's
// context no longer does), and when the request's does.
func hijackStream(w http.ResponseWriter, r *http.Request, rc *http.ResponseController) (*sseConn, context.Context, error) {
	if r.ProtoMajor != 1 || r.ProtoMinor < 1 || r.Method == http.MethodHead {
		return nil, nil, errors.New("a stream of its own needs an HTTP/1.1 GET")
	}
	c, brw, err := rc.Hijack()
	if err != nil {
		return nil, nil, err
	}
	// The server's read and write deadlines stay on a hijacked connection: lift them (the
	// hub sets a write deadline for each round).
	_ = c.SetDeadline(time.Time{})
	var head bytes.Buffer
	head.WriteString("HTTP/1.1 200 OK\r\n")
	h := w.Header().Clone()
	h.Del("Content-Length")
	h.Set("Transfer-Encoding", "chunked")
	// The connection ends with the stream: a client must not put it back in its pool for a
	// next request (Go's transport would, after the last chunk, and that request would fail).
	h.Set("Connection", "close")
	h.Set("Date", time.Now().UTC().Format(http.TimeFormat))
	_ = h.Write(&head)
	head.WriteString("\r\n")
	ctx, cancel := context.WithCancel(r.Context())
	// The head goes out with the stream's first flush.
	sc := &sseConn{conn: c, raw: c, cancel: cancel, ended: make(chan struct{}), head: head.Bytes()}
	if u, ok := c.(interface{ NetConn() net.Conn }); ok {
		sc.raw = u.NetConn() // writev needs the *net.TCPConn itself
	}
	if u, ok := c.(interface{ Unlimit() }); ok {
		// Streams are capped by realtime.maxSubscribers (and cost far less than a request
		// that streams a page): they do not hold one of --max-connections' slots.
		u.Unlimit()
	}
	// The client sends nothing more; a read ends when it closes the connection. Whatever it
	// sends anyway is read into a small buffer and dropped.
	go func() {
		defer close(sc.ended)
		defer cancel()
		var buf [64]byte
		if brw.Reader.Buffered() > 0 {
			_, _ = brw.Reader.Discard(brw.Reader.Buffered())
		}
		for {
			if _, err := c.Read(buf[:]); err != nil {
				return
			}
		}
	}()
	return sc, ctx, nil
}

// sseConn is a hijacked connection as the hub writes to it: Write queues the bytes (the hub
// never changes bytes it has written, see realtime.Conn), Flush sends them as one HTTP chunk
// with one writev, Close ends the response (the last chunk) and the connection.
type sseConn struct {
	conn   net.Conn // what the server accepted: deadlines and Close go here
	raw    net.Conn // the connection under conn's wrappers: writes go here
	cancel context.CancelFunc
	ended  chan struct{} // closed when the reading goroutine is done

	head   []byte // the response head, until the first flush
	queued [][]byte
	n      int
	vec    net.Buffers // chunk size, queued, CRLF: reused for each flush
	size   [20]byte
}

// Write queues b for the next Flush; it does not copy it.
func (c *sseConn) Write(b []byte) (int, error) {
	if len(b) > 0 {
		c.queued = append(c.queued, b)
		c.n += len(b)
	}
	return len(b), nil
}

var crlf = []byte("\r\n")

// Flush writes what was queued as one chunk.
func (c *sseConn) Flush() error {
	if c.n == 0 {
		return nil
	}
	size := strconv.AppendInt(c.size[:0], int64(c.n), 16)
	size = append(size, crlf...)
	c.vec = c.vec[:0]
	if c.head != nil {
		c.vec = append(c.vec, c.head)
		c.head = nil
	}
	c.vec = append(append(append(c.vec, size), c.queued...), crlf)
	v := c.vec // WriteTo consumes its receiver
	_, err := v.WriteTo(c.raw)
	clear(c.vec)
	clear(c.queued)
	c.queued, c.n = c.queued[:0], 0
	if cap(c.queued) > 64 {
		c.queued, c.vec = nil, nil // a burst's arrays are not kept
	}
	if err != nil {
		return fmt.Errorf("writing to the stream: %w", err)
	}
	return nil
}

// SetWriteDeadline bounds the next writes.
func (c *sseConn) SetWriteDeadline(t time.Time) error { return c.conn.SetWriteDeadline(t) }

// Close writes the last chunk (briefly: the client may be gone) and closes the connection.
func (c *sseConn) Close() error {
	if c.head == nil { // the response has begun: end it
		_ = c.conn.SetWriteDeadline(time.Now().Add(time.Second))
		_, _ = c.raw.Write([]byte("0\r\n\r\n"))
	}
	err := c.conn.Close()
	c.cancel()
	<-c.ended
	return err
}

// streamConn is a response as the hub writes to it.
type streamConn struct {
	http.ResponseWriter
	rc *http.ResponseController
}

func (c streamConn) Flush() error                       { return c.rc.Flush() }
func (c streamConn) SetWriteDeadline(t time.Time) error { return c.rc.SetWriteDeadline(t) }

// streamAccess checks the caller's credentials against the settings in force and returns what
// it may hear. It runs when a stream opens and again at every ping.
func (s *Server) streamAccess(ctx context.Context, r *http.Request) (realtime.Access, error) {
	cfg := s.settings.Current()
	if err := realtimeEnabled(cfg); err != nil {
		return nil, err
	}
	p, err := s.authenticateStream(ctx, r, cfg)
	if err != nil {
		return nil, err
	}
	a := &callerAccess{cfg: cfg, p: p}
	switch p.Kind {
	case auth.FullKey:
		a.full = true
	case auth.WebKey:
		if len(p.WebKey.Channels) == 0 {
			return nil, fmt.Errorf("%w: this key has no realtime channels (apiKeys.web[].channels)", auth.ErrForbidden)
		}
		a.channels = realtime.ParseChannels(p.WebKey.Channels)
	case auth.User:
		a.channels = realtime.ParseChannels(cfg.Settings.Realtime.UserChannels)
	default:
		return nil, fmt.Errorf("%w: unknown credentials", auth.ErrUnauthorized)
	}
	return a, nil
}

// authenticateStream is authenticate plus RFC 6750's access_token query parameter, which
// EventSource needs: it cannot send an Authorization header.
func (s *Server) authenticateStream(ctx context.Context, r *http.Request, cfg *settings.Config) (*auth.Principal, error) {
	q := r.URL.Query()
	tok := q.Get("access_token")
	if tok == "" || r.Header.Get("X-Apikey") != "" || r.Header.Get("Authorization") != "" || q.Get("apikey") != "" {
		return s.authenticate(r.WithContext(ctx), cfg)
	}
	r2 := r.WithContext(ctx)
	r2.Header = r.Header.Clone()
	r2.Header.Set("Authorization", "Bearer "+tok)
	return s.authenticate(r2, cfg)
}

// callerAccess is what one caller may hear, from its credentials and the settings it was
// checked against.
type callerAccess struct {
	cfg      *settings.Config
	p        *auth.Principal
	full     bool
	channels realtime.Channels
}

// HearsDoc: the full key hears everything; others need the channel and the right to read
// the document (a web key's paths, a user's roles and, in a private collection, ownership).
func (a *callerAccess) HearsDoc(method, coll, id, owner string) bool {
	if a.full {
		return true
	}
	if !a.channels.Allows(method, coll) {
		return false
	}
	g, err := auth.Authorize(a.cfg, a.p, http.MethodGet, coll, "/"+coll+"/"+id)
	return err == nil && g.SeesOwner(owner)
}

// HearsTopic: published messages go to the full key and to channels naming PUBLISH:<topic>.
func (a *callerAccess) HearsTopic(topic string) bool {
	return a.full || a.channels.Allows(realtime.MethodPublish, topic)
}

// publishRequest is the body of POST /realtime.
type publishRequest struct {
	Event string          `json:"event"`
	Data  json.RawMessage `json:"data"`
}

// publish sends a message to the subscribers that may hear it: restdb.io's db.publish.
func (s *Server) publish(w http.ResponseWriter, r *http.Request, hub *realtime.Hub) error {
	access, err := s.streamAccess(r.Context(), r)
	if err != nil {
		return err
	}
	cfg := s.settings.Current()
	limit := min(cfg.Settings.Limits.MaxBodyBytes, maxPublishBytes)
	if limit <= 0 {
		limit = maxPublishBytes
	}
	r.Body = http.MaxBytesReader(w, r.Body, limit)
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	var req publishRequest
	if err := dec.Decode(&req); err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			return err
		}
		problem := jsonProblem(err)
		if f, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
			problem = "unknown field " + f
		}
		return NewError(http.StatusBadRequest, `the body must be {"event":"<name>","data":<JSON>}: %s`, problem)
	}
	if dec.More() {
		return NewError(http.StatusBadRequest, "trailing data after the JSON object")
	}
	if !settings.CollectionName.MatchString(req.Event) {
		e := NewError(http.StatusBadRequest, "invalid event name %q: it must match %s", truncate(req.Event), settings.CollectionName)
		e.List = []FieldError{{Field: "event", Message: "must match " + settings.CollectionName.String()}}
		return e
	}
	if !access.HearsTopic(req.Event) {
		return fmt.Errorf("%w: this caller may not publish %s (channel PUBLISH:%s)", auth.ErrForbidden, req.Event, req.Event)
	}
	data := []byte(req.Data)
	if len(strings.TrimSpace(string(data))) == 0 {
		data = []byte("null")
	}
	id, err := hub.Publish(req.Event, data)
	if errors.Is(err, realtime.ErrClosed) {
		return NewError(http.StatusServiceUnavailable, "the database is shutting down")
	}
	if err != nil {
		return NewError(http.StatusBadRequest, "%s", err.Error())
	}
	writeJSON(w, http.StatusOK, map[string]string{"result": "ok", "id": id})
	return nil
}
