package store

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/restkube/restkube/dbserver/jsondoc"
)

// Limits bound every document the store writes, whichever path made it (a create, a bulk
// create, an update with any operator). A document over a limit is refused with a *LimitError
// and nothing is stored: the store never writes what its own decoder could not read back.
type Limits struct {
	// MaxDepth is the deepest nesting of objects and arrays: the document itself is level 1,
	// {"a":{"b":1}} has two levels. Default DefaultMaxDepth; never above the decoder's limit.
	MaxDepth int
	// MaxDocumentBytes is the largest stored (encoded) document. Default DefaultMaxDocumentBytes.
	MaxDocumentBytes int
}

// Defaults of Limits.
const (
	// DefaultMaxDepth follows MongoDB's 100 levels.
	DefaultMaxDepth = 100
	// DefaultMaxDocumentBytes is 4 MiB: four times the default request body, so that updates
	// can grow a document, yet a query page of such documents stays far from a pod's memory.
	DefaultMaxDocumentBytes = 4 << 20
)

// Names of the limits as errors and the README call them.
const (
	LimitMaxDepth         = "maxDepth"
	LimitMaxDocumentBytes = "limits.maxDocumentBytes"
)

// withDefaults fills zero fields and keeps MaxDepth within what the decoder reads back.
func (l Limits) withDefaults() Limits {
	if l.MaxDepth <= 0 {
		l.MaxDepth = DefaultMaxDepth
	}
	l.MaxDepth = min(l.MaxDepth, jsondoc.MaxDecodeDepth)
	if l.MaxDocumentBytes <= 0 {
		l.MaxDocumentBytes = DefaultMaxDocumentBytes
	}
	return l
}

// LimitError reports a document over one of the Limits.
type LimitError struct {
	// Limit names the limit (LimitMaxDepth, LimitMaxDocumentBytes).
	Limit string
	// Path is the dot path where the limit was passed; for a bulk create it starts with the
	// document's position ("[3].a.b"); empty means the document as a whole.
	Path string
	// Max is the limit in force; Got what the document has (for the size; the depth stops
	// counting at Max+1).
	Max, Got int
}

// ErrLimit is wrapped by every *LimitError, for errors.Is.
var ErrLimit = errors.New("document over a limit")

func (e *LimitError) Error() string {
	switch e.Limit {
	case LimitMaxDepth:
		return fmt.Sprintf("the document nests deeper than %s (%d levels) at %q", e.Limit, e.Max, e.Path)
	case LimitMaxDocumentBytes:
		where := "the document"
		if e.Path != "" {
			where = fmt.Sprintf("the document %s", e.Path)
		}
		return fmt.Sprintf("%s would be %d bytes, over %s (%d)", where, e.Got, e.Limit, e.Max)
	}
	return fmt.Sprintf("the document passes %s (%d) at %q", e.Limit, e.Max, e.Path)
}

// Unwrap makes errors.Is(err, ErrLimit) true.
func (e *LimitError) Unwrap() error { return ErrLimit }

// Limits returns the limits in force.
func (s *Store) Limits() Limits { return *s.limits.Load() }

// SetLimits changes the limits for the writes that start from now on (a settings reload).
// Zero fields take their defaults.
func (s *Store) SetLimits(l Limits) {
	l = l.withDefaults()
	s.limits.Store(&l)
}

// CheckDoc reports whether d, encoded as enc, is within l: the check every write makes before
// it stores a document. prefix is put before the path of a *LimitError ("[3]" in a bulk create).
func CheckDoc(d Doc, enc []byte, l Limits, prefix string) error {
	l = l.withDefaults()
	if len(enc) > l.MaxDocumentBytes {
		return &LimitError{Limit: LimitMaxDocumentBytes, Path: prefix, Max: l.MaxDocumentBytes, Got: len(enc)}
	}
	if p, over := tooDeep(d, 1, l.MaxDepth); over {
		return &LimitError{Limit: LimitMaxDepth, Path: joinPath(prefix, p), Max: l.MaxDepth, Got: l.MaxDepth + 1}
	}
	return nil
}

// tooDeep reports whether v, at nesting level depth (a container at level 1 is the document),
// holds a container past level max, and the path to the first such container. The path is
// built only on the way back from a failure, so the common case allocates nothing.
func tooDeep(v any, depth, max int) ([]string, bool) {
	switch t := v.(type) {
	case map[string]any:
		if depth > max {
			return nil, true
		}
		for k, e := range t {
			if p, over := tooDeep(e, depth+1, max); over {
				return append(p, k), true
			}
		}
	case []any:
		if depth > max {
			return nil, true
		}
		for i, e := range t {
			if p, over := tooDeep(e, depth+1, max); over {
				return append(p, strconv.Itoa(i)), true
			}
		}
	case []map[string]any:
		if depth > max {
			return nil, true
		}
		for i, e := range t {
			if p, over := tooDeep(e, depth+1, max); over {
				return append(p, strconv.Itoa(i)), true
			}
		}
	}
	return nil, false
}

// joinPath writes a path that tooDeep gave (innermost first) as a dot path after prefix,
// shortened in the middle when very long (a path can have thousands of segments).
func joinPath(prefix string, rev []string) string {
	parts := make([]string, 0, len(rev))
	for i := len(rev) - 1; i >= 0; i-- {
		parts = append(parts, rev[i])
	}
	p := strings.Join(parts, ".")
	if len(p) > 120 {
		p = p[:60] + "…" + p[len(p)-40:]
	}
	switch {
	case prefix == "":
		return p
	case p == "":
		return prefix
	}
	return prefix + "." + p
}
