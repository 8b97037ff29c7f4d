package httpapi

import (
	"crypto/sha256"
	_ "embed" // the JavaScript API's source
	"encoding/hex"
	"net/http"
	"strings"
)

// jsapiSource is RestKube's implementation of restdb.io's JavaScript API (assets/jsapi.js).
//
//go:embed assets/jsapi.js
var jsapiSource []byte

// jsapiETag identifies this build's script, so browsers revalidate cheaply.
var jsapiETag = func() string {
	sum := sha256.Sum256(jsapiSource)
	return `"` + hex.EncodeToString(sum[:8]) + `"`
}()

// bindJSAPI registers GET /rest/_jsapi.js. It needs no credentials: the script holds no
// secret and no schema (the page passes its own web key or token to new restdb(...)).
func (s *Server) bindJSAPI() {
	s.Handle("/rest/_jsapi.js", s.handleJSAPI)
}

func (s *Server) handleJSAPI(w http.ResponseWriter, r *http.Request) error {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		return MethodNotAllowed(r.Method, http.MethodGet, http.MethodHead)
	}
	h := w.Header()
	h.Set("Content-Type", "text/javascript; charset=utf-8")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cache-Control", "public, max-age=300")
	// Pages on any origin load it with a <script> tag, also pages that isolate themselves.
	h.Set("Cross-Origin-Resource-Policy", "cross-origin")
	h.Set("ETag", jsapiETag)
	if inm := r.Header.Get("If-None-Match"); inm != "" && strings.Contains(inm, jsapiETag) {
		w.WriteHeader(http.StatusNotModified)
		return nil
	}
	if r.Method == http.MethodHead {
		w.WriteHeader(http.StatusOK)
		return nil
	}
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(jsapiSource)
	return nil
}
