package httpapi

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/restkube/restkube/dbserver/auth"
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

// loginAuth is fakeAuth with a login endpoint, as *auth.Service has.
type loginAuth struct {
	fakeAuth
	err error
}

func (a loginAuth) Login(context.Context) (string, string, error) {
	if a.err != nil {
		return "", "", a.err
	}
	return "https://id.example/authorize", "console-client", nil
}

func TestConsoleSignInOffersExternalUsersOnlyWithConsoleRoles(t *testing.T) {
	withRoles := func(cfg *settings.Config, roles ...string) *settings.Config {
		cfg.Settings.Auth = settings.Auth{Enabled: true, Auth0: &settings.Auth0{ClientID: "console-client", Domain: "id.example"}}
		cfg.Settings.Console = &settings.Console{Roles: roles}
		return cfg
	}
	cases := map[string]struct {
		auth     AuthService
		cfg      *settings.Config
		contains []string
	}{
		"only the key without console roles": {auth: loginAuth{}, cfg: withRoles(testConfig()), contains: []string{`{"external":null}`}},
		"only the key while auth is off": {auth: loginAuth{}, cfg: func() *settings.Config {
			c := withRoles(testConfig(), "admin")
			c.Settings.Auth.Enabled = false
			return c
		}(), contains: []string{`{"external":null}`}},
		"the provider's login for console roles": {auth: loginAuth{}, cfg: withRoles(testConfig(), "admin"),
			contains: []string{`"authorizeURL":"https://id.example/authorize"`, `"clientID":"console-client"`, `"roles":["admin"]`}},
		"a provider that cannot be reached is said": {auth: loginAuth{err: fmt.Errorf("%w: dial tcp: refused", auth.ErrUnavailable)}, cfg: withRoles(testConfig(), "admin"),
			contains: []string{`"error":"the identity provider cannot be reached now`, `"roles":["admin"]`}},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			e := newEnv(t, func(o *Options) { o.Auth = c.auth })
			e.src.Set(c.cfg)
			r := e.do("GET", "/console/signin.json", nil, "")
			if r.status != 200 || r.header.Get("Cache-Control") != "no-store" || !strings.Contains(r.header.Get("Content-Security-Policy"), "frame-ancestors 'none'") {
				t.Fatalf("GET signin.json: %d %v %s", r.status, r.header, r.body)
			}
			for _, want := range c.contains {
				if !strings.Contains(r.body, want) {
					t.Errorf("body %s lacks %s", r.body, want)
				}
			}
			if strings.Contains(r.body, fullKey) || strings.Contains(r.body, "signing-key") {
				t.Errorf("the answer holds a secret: %s", r.body)
			}
		})
	}
	e := newEnv(t, func(o *Options) { o.Auth = loginAuth{} })
	if r := e.do("POST", "/console/signin.json", nil, "{}"); r.status != 405 {
		t.Errorf("POST signin.json: %d, want 405", r.status)
	}
}
