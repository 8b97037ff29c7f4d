package httpapi

import (
	"context"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"net/http"
	"strings"
)

// consoleFiles are the web console's static files (plain HTML, CSS and JavaScript: nothing is
// built, so what is embedded is what is in the repository).
//
//go:embed assets/console
var consoleFiles embed.FS

// consoleAsset is one embedded file with its content type and ETag.
type consoleAsset struct {
	body        []byte
	contentType string
	etag        string
}

// consoleAssets maps the request path under /console/ to its file; "" is index.html.
var consoleAssets = func() map[string]consoleAsset {
	types := map[string]string{
		".html": "text/html; charset=utf-8",
		".css":  "text/css; charset=utf-8",
		".js":   "text/javascript; charset=utf-8",
		".svg":  "image/svg+xml",
	}
	entries, err := consoleFiles.ReadDir("assets/console")
	if err != nil {
		panic("httpapi: reading the embedded console: " + err.Error())
	}
	out := map[string]consoleAsset{}
	for _, e := range entries {
		name := e.Name()
		body, err := consoleFiles.ReadFile("assets/console/" + name)
		if err != nil {
			panic("httpapi: reading the embedded console: " + err.Error())
		}
		ct := "application/octet-stream"
		if i := strings.LastIndexByte(name, '.'); i >= 0 && types[name[i:]] != "" {
			ct = types[name[i:]]
		}
		sum := sha256.Sum256(body)
		out[name] = consoleAsset{body: body, contentType: ct, etag: `"` + hex.EncodeToString(sum[:8]) + `"`}
	}
	out[""] = out["index.html"]
	return out
}()

// consoleCSP is the console's Content-Security-Policy: its own scripts, styles and API only;
// no inline script or style, no plugins, never framed, forms post nowhere.
const consoleCSP = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

// bindConsole registers the web console: GET /console/, its files and signin.json. They need
// no credentials (the page holds no secret and no data: it signs in and then calls the public
// API like any client). It is served while settings.console.enabled is not false, read on
// every request, so turning it off applies at once; when off, its paths are a JSON 404.
func (s *Server) bindConsole() {
	s.mux.Handle("/console", http.RedirectHandler("/console/", http.StatusMovedPermanently))
	s.Handle("/console/{file...}", s.handleConsole)
	s.Handle("/console/signin.json", s.handleConsoleSignIn)
}

// consoleOpen answers 404 while the console is off, and 405 to anything but GET and HEAD.
func (s *Server) consoleOpen(r *http.Request) error {
	if cfg := s.settings.Current(); cfg == nil || !cfg.Settings.ConsoleEnabled() {
		return NewError(http.StatusNotFound, "the console is not enabled (settings: console.enabled)")
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		return MethodNotAllowed(r.Method, http.MethodGet, http.MethodHead)
	}
	return nil
}

// consoleHeaders sets the security headers of every console answer.
func consoleHeaders(h http.Header) {
	h.Set("Content-Security-Policy", consoleCSP)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Cross-Origin-Opener-Policy", "same-origin")
	h.Set("Cross-Origin-Resource-Policy", "same-origin")
}

func (s *Server) handleConsole(w http.ResponseWriter, r *http.Request) error {
	if cfg := s.settings.Current(); cfg == nil || !cfg.Settings.ConsoleEnabled() {
		return NewError(http.StatusNotFound, "the console is not enabled (settings: console.enabled)")
	}
	a, ok := consoleAssets[r.PathValue("file")]
	if !ok {
		return NewError(http.StatusNotFound, "no such console file")
	}
	if err := s.consoleOpen(r); err != nil {
		return err
	}
	h := w.Header()
	consoleHeaders(h)
	h.Set("Content-Type", a.contentType)
	h.Set("Cache-Control", "no-cache")
	h.Set("ETag", a.etag)
	if inm := r.Header.Get("If-None-Match"); inm != "" && strings.Contains(inm, a.etag) {
		w.WriteHeader(http.StatusNotModified)
		return nil
	}
	w.WriteHeader(http.StatusOK)
	if r.Method == http.MethodGet {
		// Static files of ours, served with their own content type and nosniff.
		_, _ = w.Write(a.body) //nolint:gosec // embedded static asset
	}
	return nil
}

// LoginProvider is the part of an AuthService that tells a browser where to sign in: the
// identity provider's authorization endpoint and the client ID (*auth.Service has it).
type LoginProvider interface {
	Login(ctx context.Context) (authorizeURL, clientID string, err error)
}

// consoleSignIn is GET /console/signin.json: how the console's sign-in page may sign in.
type consoleSignIn struct {
	// External is nil unless external users may sign in to the console (auth enabled and
	// console.roles set).
	External *consoleExternal `json:"external"`
}

// consoleExternal is the login of external users: an authorization code flow at
// AuthorizeURL for ClientID, whose code POST /auth/token exchanges.
type consoleExternal struct {
	AuthorizeURL string   `json:"authorizeURL,omitempty"`
	ClientID     string   `json:"clientID,omitempty"`
	Roles        []string `json:"roles"`
	// Error says why the login cannot be offered now (the provider cannot be reached).
	Error string `json:"error,omitempty"`
}

// handleConsoleSignIn answers what the sign-in page offers. It needs no credentials and
// holds nothing secret: a browser app's client ID and its provider are public.
func (s *Server) handleConsoleSignIn(w http.ResponseWriter, r *http.Request) error {
	if err := s.consoleOpen(r); err != nil {
		return err
	}
	cfg := s.settings.Current()
	out := consoleSignIn{}
	lp, ok := s.auth.(LoginProvider)
	if ok && cfg.Settings.Auth.Enabled && cfg.Settings.Console != nil && len(cfg.Settings.Console.Roles) > 0 {
		ext := &consoleExternal{Roles: cfg.Settings.Console.Roles}
		endpoint, clientID, err := lp.Login(r.Context())
		if err != nil {
			ext.Error = "the identity provider cannot be reached now: " + err.Error()
		} else {
			ext.AuthorizeURL, ext.ClientID = endpoint, clientID
		}
		out.External = ext
	}
	consoleHeaders(w.Header())
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, out)
	return nil
}
