package httpapi

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"

	"github.com/restkube/restkube/dbserver/auth"
	"github.com/restkube/restkube/dbserver/query"
	"github.com/restkube/restkube/dbserver/store"
)

// Error is an error with its HTTP answer. Handlers return it (or any error: errorFor maps the
// rest) and writeError turns it into the JSON error body.
type Error struct {
	Status  int          `json:"status"`
	Name    string       `json:"name"`
	Message string       `json:"message"`
	List    []FieldError `json:"list,omitempty"`

	// allow is the Allow header of a 405.
	allow []string
}

// FieldError names one field at fault in a ValidationError.
type FieldError struct {
	Field   string `json:"field"`
	Message string `json:"message"`
}

// Error returns the message shown to the client.
func (e *Error) Error() string { return e.Message }

// names are the error names of API.md, by status.
var names = map[int]string{
	http.StatusBadRequest:                   "ValidationError",
	http.StatusUnauthorized:                 "Unauthorized",
	http.StatusForbidden:                    "Forbidden",
	http.StatusNotFound:                     "NotFound",
	http.StatusMethodNotAllowed:             "MethodNotAllowed",
	http.StatusConflict:                     "Conflict",
	http.StatusPreconditionFailed:           "PreconditionFailed",
	http.StatusRequestEntityTooLarge:        "PayloadTooLarge",
	http.StatusRequestedRangeNotSatisfiable: "RangeNotSatisfiable",
	http.StatusTooManyRequests:              "TooManyRequests",
	http.StatusRequestHeaderFieldsTooLarge:  "RequestHeaderFieldsTooLarge",
	http.StatusInternalServerError:          "InternalError",
	http.StatusBadGateway:                   "BadGateway",
	http.StatusServiceUnavailable:           "ServiceUnavailable",
}

// NewError builds an Error with the API's name for status.
func NewError(status int, format string, args ...any) *Error {
	name, ok := names[status]
	if !ok {
		name = "InternalError"
	}
	return &Error{Status: status, Name: name, Message: fmt.Sprintf(format, args...)}
}

// MethodNotAllowed is the 405 a handler returns for a method its path does not serve; allow
// lists the methods it does serve (for the Allow header).
func MethodNotAllowed(method string, allow ...string) *Error {
	e := NewError(http.StatusMethodNotAllowed, "method %s is not allowed here", method)
	e.allow = allow
	return e
}

// errorFor maps any error a handler returns to its answer. It is the one place where errors
// become status codes; anything it does not know is a 500 whose detail goes to the log only.
func errorFor(err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	var qe *query.Error
	if errors.As(err, &qe) {
		out := NewError(http.StatusBadRequest, "%s", qe.Error())
		if qe.Field != "" {
			out.List = []FieldError{{Field: qe.Field, Message: qe.Message}}
		}
		return out
	}
	var le *store.LimitError
	if errors.As(err, &le) {
		out := NewError(http.StatusBadRequest, "%s", le.Error())
		out.List = []FieldError{{Field: le.Path, Message: "over " + le.Limit}}
		return out
	}
	var ce *store.CorruptError
	if errors.As(err, &ce) {
		return NewError(http.StatusInternalServerError, "the stored document %s/%s cannot be decoded; an operator can remove it with dbserver check --repair", ce.Coll, ce.ID)
	}
	var tooLarge *http.MaxBytesError
	if errors.As(err, &tooLarge) {
		return NewError(http.StatusRequestEntityTooLarge, "request body is larger than %d bytes", tooLarge.Limit)
	}
	switch {
	case errors.Is(err, store.ErrNotFound):
		return NewError(http.StatusNotFound, "not found")
	case errors.Is(err, store.ErrClosed):
		return NewError(http.StatusServiceUnavailable, "the database is shutting down")
	case errors.Is(err, store.ErrVersionMismatch):
		return NewError(http.StatusPreconditionFailed, "the document's version does not match If-Match")
	case errors.Is(err, auth.ErrUnauthorized):
		return NewError(http.StatusUnauthorized, "%s", err.Error())
	case errors.Is(err, auth.ErrForbidden):
		return NewError(http.StatusForbidden, "%s", err.Error())
	case errors.Is(err, auth.ErrBadRequest):
		return NewError(http.StatusBadRequest, "%s", err.Error())
	case errors.Is(err, auth.ErrUnavailable):
		return NewError(http.StatusServiceUnavailable, "%s", err.Error())
	case errors.Is(err, auth.ErrBadGateway):
		return NewError(http.StatusBadGateway, "%s", err.Error())
	}
	return NewError(http.StatusInternalServerError, "internal error")
}

// writeError answers err as JSON; 5xx errors the client cannot act on are logged with detail.
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	e := errorFor(err)
	if e.Status == http.StatusInternalServerError {
		s.log.ErrorContext(r.Context(), "request failed", slog.String("route", routeOf(r)), slog.String("error", err.Error()))
	}
	if len(e.allow) > 0 {
		w.Header().Set("Allow", strings.Join(e.allow, ", "))
	}
	writeJSON(w, e.Status, e)
}
