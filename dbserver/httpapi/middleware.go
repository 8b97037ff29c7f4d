package httpapi

import (
	"bufio"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"

	"github.com/restkube/restkube/dbserver/auth"
)

// statusWriter remembers the status and size of an answer for the log and the metrics.
type statusWriter struct {
	http.ResponseWriter
	status int
	bytes  int64
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	n, err := w.ResponseWriter.Write(b)
	w.bytes += int64(n)
	return n, err
}

// Unwrap lets http.ResponseController reach Flush and deadlines (for streaming endpoints).
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// Flush passes through so that streaming answers are not held back by the wrapper.
func (w *statusWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// Hijack passes through for protocols that take over the connection.
func (w *statusWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	if h, ok := w.ResponseWriter.(http.Hijacker); ok {
		return h.Hijack()
	}
	return nil, nil, errors.New("hijacking not supported")
}

// routeOf is the pattern that served r: the metrics label, never the raw path.
func routeOf(r *http.Request) string {
	if r.Pattern != "" {
		return r.Pattern
	}
	if r.Method == http.MethodOptions {
		return "preflight"
	}
	return "unmatched"
}

// observe logs, measures and guards every request. The log line holds the path but never the
// query string (it may carry ?apikey=) nor any header.
func (s *Server) observe(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := s.now()
		sw := &statusWriter{ResponseWriter: w}
		defer func() {
			if v := recover(); v != nil {
				if err, ok := v.(error); ok && errors.Is(err, http.ErrAbortHandler) {
					panic(v)
				}
				s.log.ErrorContext(r.Context(), "handler panicked", slog.String("route", routeOf(r)), slog.String("panic", fmt.Sprint(v)))
				if sw.status == 0 {
					writeJSON(sw, http.StatusInternalServerError, NewError(http.StatusInternalServerError, "internal error"))
				}
			}
			status := sw.status
			if status == 0 {
				status = http.StatusOK
			}
			d := s.now().Sub(start)
			route := routeOf(r)
			s.metrics.observe(route, r.Method, status, d)
			// One line per request at info would cost a busy database about 40% of its
			// throughput (measured with make bench): successes log at debug, client errors
			// at info, server errors at error.
			level := slog.LevelDebug
			switch {
			case status >= 500:
				level = slog.LevelError
			case status >= 400:
				level = slog.LevelInfo
			}
			s.log.LogAttrs(r.Context(), level, "request",
				slog.String("method", r.Method),
				slog.String("route", route),
				slog.String("path", r.URL.Path),
				slog.Int("status", status),
				slog.Int64("bytes", sw.bytes),
				slog.Duration("duration", d),
				slog.String("remote", r.RemoteAddr),
			)
		}()
		if n := headerBytes(r); n > MaxHeaderBytes {
			writeJSON(sw, http.StatusRequestHeaderFieldsTooLarge, NewError(http.StatusRequestHeaderFieldsTooLarge,
				"the request line and headers are %d bytes, more than %d", n, MaxHeaderBytes))
			return
		}
		next.ServeHTTP(sw, r)
	})
}

// MaxHeaderBytes bounds the request line and headers, answered with our JSON 431. The
// http.Server's own MaxHeaderBytes must be larger (ServerMaxHeaderBytes): past it net/http
// answers by itself, in plain text.
const MaxHeaderBytes = 64 << 10

// ServerMaxHeaderBytes is the http.Server's MaxHeaderBytes: headers up to it reach the
// handler, so that MaxHeaderBytes is answered in JSON.
const ServerMaxHeaderBytes = 1 << 20

// headerBytes is about what the request line and headers took on the wire.
func headerBytes(r *http.Request) int {
	n := len(r.Method) + len(r.RequestURI) + len(r.Proto) + 4
	for k, vs := range r.Header {
		for _, v := range vs {
			n += len(k) + len(v) + 4
		}
	}
	return n
}

// corsAllowHeaders are the request headers a browser may send (API.md, Keys and CORS).
const corsAllowHeaders = "x-apikey, authorization, content-type, if-match, x-http-method-override"

// corsMethods are the methods the API serves.
const corsMethods = "GET, POST, PUT, PATCH, DELETE, OPTIONS"

// cors answers preflights and marks answers to allowed origins. The allowed origins are read
// from the settings in force on every request, so a reload applies at once.
func (s *Server) cors(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		origin := r.Header.Get("Origin")
		allowed := origin != "" && auth.OriginAllowed(s.corsOrigins(), origin)
		if origin != "" {
			// The answer depends on the origin, whether allowed or not: caches must key on it.
			w.Header().Add("Vary", "Origin")
		}
		if r.Method == http.MethodOptions {
			switch {
			case origin == "":
				// Not a browser preflight: say what the API serves.
				w.Header().Set("Allow", corsMethods)
				w.WriteHeader(http.StatusNoContent)
			case !allowed:
				writeJSON(w, http.StatusForbidden, NewError(http.StatusForbidden, "origin %s is not allowed", origin))
			default:
				h := w.Header()
				h.Set("Access-Control-Allow-Origin", origin)
				h.Set("Access-Control-Allow-Methods", corsMethods)
				h.Set("Access-Control-Allow-Headers", corsAllowHeaders)
				h.Set("Access-Control-Expose-Headers", "ETag")
				h.Set("Access-Control-Max-Age", "600")
				w.WriteHeader(http.StatusNoContent)
			}
			return
		}
		if allowed {
			h := w.Header()
			h.Set("Access-Control-Allow-Origin", origin)
			h.Set("Access-Control-Expose-Headers", "ETag")
		}
		next.ServeHTTP(w, r)
	})
}

// corsOrigins are cors.allowedOrigins plus every web key's origins.
func (s *Server) corsOrigins() []string {
	cfg := s.settings.Current()
	if cfg == nil {
		return nil
	}
	out := append([]string(nil), cfg.Settings.CORS.AllowedOrigins...)
	for _, k := range cfg.Settings.APIKeys.Web {
		out = append(out, k.Origins...)
	}
	return out
}
