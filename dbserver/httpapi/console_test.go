package httpapi

import (
	"net/http"
	"strings"
	"testing"

	"github.com/restkube/restkube/dbserver/settings"
)

func TestConsoleServesItsFilesWithAStrictPolicy(t *testing.T) {
	e := newEnv(t)
	cases := []struct {
		path, contentType, contains string
	}{
		{"/console/", "text/html; charset=utf-8", `<script src="console.js" defer></script>`},
		{"/console/index.html", "text/html; charset=utf-8", `id="signin-form"`},
		{"/console/console.js", "text/javascript; charset=utf-8", `sessionStorage`},
		{"/console/console.css", "text/css; charset=utf-8", `:root`},
		{"/console", "text/html; charset=utf-8", `id="signin-form"`}, // redirected to /console/
	}
	for _, c := range cases {
		r := e.do("GET", c.path, nil, "")
		if r.status != 200 {
			t.Fatalf("GET %s: %d %s", c.path, r.status, r.body)
		}
		if got := r.header.Get("Content-Type"); got != c.contentType {
			t.Errorf("GET %s: Content-Type %q, want %q", c.path, got, c.contentType)
		}
		if !strings.Contains(r.body, c.contains) {
			t.Errorf("GET %s: body lacks %q", c.path, c.contains)
		}
		csp := r.header.Get("Content-Security-Policy")
		for _, want := range []string{"default-src 'self'", "script-src 'self'", "style-src 'self'", "frame-ancestors 'none'", "object-src 'none'"} {
			if !strings.Contains(csp, want) {
				t.Errorf("GET %s: CSP %q lacks %q", c.path, csp, want)
			}
		}
		if strings.Contains(csp, "unsafe-inline") || strings.Contains(csp, "unsafe-eval") {
			t.Errorf("GET %s: CSP allows inline code: %q", c.path, csp)
		}
		if r.header.Get("X-Content-Type-Options") != "nosniff" || r.header.Get("X-Frame-Options") != "DENY" {
			t.Errorf("GET %s: headers %v lack nosniff / DENY", c.path, r.header)
		}
	}
	// The page holds no inline script or style (the CSP would block them anyway).
	page := e.do("GET", "/console/", nil, "").body
	for _, bad := range []string{"<script>", "<style", " style=", " onclick=", " onload="} {
		if strings.Contains(page, bad) {
			t.Errorf("index.html holds inline code %q", bad)
		}
	}
}

func TestConsoleErrorsAndSwitch(t *testing.T) {
	e := newEnv(t)
	if r := e.do("GET", "/console/secret.txt", nil, ""); r.status != 404 || !strings.Contains(r.body, `"status":404`) {
		t.Errorf("unknown file: %d %s, want a JSON 404", r.status, r.body)
	}
	if r := e.do("POST", "/console/", nil, "{}"); r.status != 405 {
		t.Errorf("POST /console/: %d, want 405", r.status)
	}
	etag := e.do("GET", "/console/console.js", nil, "").header.Get("ETag")
	if r := e.do("GET", "/console/console.js", map[string]string{"If-None-Match": etag}, ""); etag == "" || r.status != http.StatusNotModified {
		t.Errorf("revalidation with ETag %q: %d, want 304", etag, r.status)
	}

	// console.enabled: false turns it off at once (settings are read per request).
	off := false
	cfg := testConfig()
	cfg.Settings.Console = &settings.Console{Enabled: &off}
	e.src.Set(cfg)
	r := e.do("GET", "/console/", nil, "")
	if r.status != 404 || !strings.Contains(r.body, "console.enabled") {
		t.Errorf("console off: %d %s, want a JSON 404 naming console.enabled", r.status, r.body)
	}
	on := true
	cfg = testConfig()
	cfg.Settings.Console = &settings.Console{Enabled: &on}
	e.src.Set(cfg)
	if r := e.do("GET", "/console/", nil, ""); r.status != 200 {
		t.Errorf("console on again: %d", r.status)
	}
}
