package httpapi

import (
	"bytes"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/restkube/restkube/dbserver/settings"
)

// formType is the content type of an HTML form post (jQuery's $.post default).
const formType = "application/x-www-form-urlencoded"

// maxFormFields bounds the fields of one form body (the byte limit bounds the rest).
const maxFormFields = 1000

// readDoc reads a document body as clients send it: JSON whatever the content type, or an
// HTML form (a document of string fields). With emptyIsNothing, an empty body is the empty
// document {} (a PUT that changes nothing, as some clients send); without it, it is a 400.
func readDoc(w http.ResponseWriter, r *http.Request, cfg *settings.Config, emptyIsNothing bool) (any, error) {
	if isForm(r) {
		b, err := readBody(w, r, cfg)
		if err != nil {
			return nil, err
		}
		return formDoc(b)
	}
	if emptyIsNothing && r.ContentLength == 0 {
		return map[string]any{}, nil
	}
	if emptyIsNothing {
		b, err := readBody(w, r, cfg)
		if err != nil {
			return nil, err
		}
		if len(bytes.TrimSpace(b)) == 0 {
			return map[string]any{}, nil
		}
		r.Body = readCloser{bytes.NewReader(b)}
	}
	return readJSON(w, r, cfg)
}

type readCloser struct{ *bytes.Reader }

func (readCloser) Close() error { return nil }

func isForm(r *http.Request) bool {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	return err == nil && strings.EqualFold(mt, formType)
}

// formDoc turns a form body into a document: a field sent once is a string, a field sent more
// than once (or named "x[]", as jQuery names arrays) is an array of strings.
func formDoc(b []byte) (map[string]any, error) {
	if bytes.Count(b, []byte("&"))+1 > maxFormFields {
		return nil, NewError(http.StatusBadRequest, "the form has more than %d fields", maxFormFields)
	}
	vals, err := url.ParseQuery(string(b))
	if err != nil {
		return nil, NewError(http.StatusBadRequest, "malformed form body: %s", truncate(err.Error()))
	}
	out := make(map[string]any, len(vals))
	for k, vs := range vals {
		// Percent-escapes can spell bytes that are not UTF-8; stored, they would come back as
		// U+FFFD, changing what was sent (JSON bodies are refused the same way).
		if !utf8.ValidString(k) || slices.ContainsFunc(vs, func(v string) bool { return !utf8.ValidString(v) }) {
			return nil, NewError(http.StatusBadRequest, "the form body is not valid UTF-8")
		}
		name, isArray := strings.CutSuffix(k, "[]")
		if name == "" {
			continue
		}
		if len(vs) == 1 && !isArray {
			out[name] = vs[0]
			continue
		}
		list := make([]any, len(vs))
		for i, v := range vs {
			list[i] = v
		}
		out[name] = list
	}
	return out, nil
}
