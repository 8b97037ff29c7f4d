package oidctest

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/golang-jwt/jwt/v5"
)

const (
	appOrigin = "http://127.0.0.1:1"
	callback  = appOrigin + "/"
	verifier  = "a-code-verifier-of-at-least-forty-three-characters-0123456789"
)

func challengeOf(v string) string {
	sum := sha256.Sum256([]byte(v))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// browser is an HTTP client with a cookie jar that does not follow redirects.
type browser struct {
	t *testing.T
	c *http.Client
}

func newBrowser(t *testing.T) *browser {
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &browser{t: t, c: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

func (b *browser) do(req *http.Request) (*http.Response, string) {
	b.t.Helper()
	res, err := b.c.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		b.t.Fatal(err)
	}
	return res, string(body)
}

func (b *browser) get(u string) (*http.Response, string) {
	b.t.Helper()
	req, err := http.NewRequest(http.MethodGet, u, nil)
	if err != nil {
		b.t.Fatal(err)
	}
	return b.do(req)
}

func (b *browser) postForm(u string, form url.Values) (*http.Response, string) {
	b.t.Helper()
	req, err := http.NewRequest(http.MethodPost, u, strings.NewReader(form.Encode()))
	if err != nil {
		b.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return b.do(req)
}

func newSPAProvider(t *testing.T) *Provider {
	p := New(t, "spa-client", "spa-secret")
	p.SetApp(App{CallbackURLs: []string{callback}, LogoutURLs: []string{callback}, WebOrigins: []string{appOrigin}})
	p.AddUser(User{Sub: "auth0|ann", Email: "ann@example.com", Name: "Ann Example"})
	return p
}

func authorizeURL(p *Provider, extra url.Values) string {
	q := url.Values{
		"client_id":             {p.ClientID},
		"redirect_uri":          {callback},
		"response_type":         {"code"},
		"response_mode":         {"query"},
		"scope":                 {"openid profile email"},
		"state":                 {"st4te"},
		"nonce":                 {"n0nce"},
		"code_challenge":        {challengeOf(verifier)},
		"code_challenge_method": {"S256"},
		"auth0Client":           {"eyJuYW1lIjoidGVzdCJ9"},
	}
	for k, v := range extra {
		q[k] = v
	}
	return p.Server.URL + AuthorizePath + "?" + q.Encode()
}

var txRe = regexp.MustCompile(`name="tx" value="([0-9a-f]+)"`)

// login walks the form as a person would: open /authorize, pick a user, follow the redirect.
func login(t *testing.T, b *browser, p *Provider, form url.Values) url.Values {
	t.Helper()
	res, body := b.get(authorizeURL(p, nil))
	m := txRe.FindStringSubmatch(body)
	if res.StatusCode != 200 || m == nil {
		t.Fatalf("authorize: %d %s", res.StatusCode, body)
	}
	form.Set("tx", m[1])
	res, body = b.postForm(p.Server.URL+LoginPath, form)
	if res.StatusCode != http.StatusFound {
		t.Fatalf("login: %d %s", res.StatusCode, body)
	}
	loc, err := url.Parse(res.Header.Get("Location"))
	if err != nil || loc.Scheme+"://"+loc.Host+loc.Path != callback {
		t.Fatalf("login redirected to %q", res.Header.Get("Location"))
	}
	return loc.Query()
}

func exchange(t *testing.T, p *Provider, params map[string]string, origin string) (*http.Response, map[string]any) {
	t.Helper()
	raw, _ := json.Marshal(params)
	req, _ := http.NewRequest(http.MethodPost, p.Server.URL+TokenPath, strings.NewReader(string(raw)))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Auth0-Client", "eyJuYW1lIjoidGVzdCJ9")
	if origin != "" {
		req.Header.Set("Origin", origin)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var m map[string]any
	if err := json.NewDecoder(res.Body).Decode(&m); err != nil {
		t.Fatalf("token answer: %v", err)
	}
	return res, m
}

func TestBrowserLoginWithPKCE(t *testing.T) {
	p := newSPAProvider(t)
	b := newBrowser(t)
	q := login(t, b, p, url.Values{"sub": {"auth0|ann"}})
	if q.Get("state") != "st4te" || q.Get("code") == "" {
		t.Fatalf("callback query %v", q)
	}
	params := map[string]string{"grant_type": "authorization_code", "client_id": p.ClientID, "code": q.Get("code"), "redirect_uri": callback, "code_verifier": verifier}
	res, m := exchange(t, p, params, appOrigin)
	if res.StatusCode != 200 || res.Header.Get("Access-Control-Allow-Origin") != appOrigin {
		t.Fatalf("exchange: %d %v (ACAO %q)", res.StatusCode, m, res.Header.Get("Access-Control-Allow-Origin"))
	}
	idToken, _ := m["id_token"].(string)
	claims := jwt.MapClaims{}
	tok, err := jwt.ParseWithClaims(idToken, claims, func(tk *jwt.Token) (any, error) {
		return p.Key("RS256").Signer.Public(), nil
	}, jwt.WithValidMethods([]string{"RS256"}), jwt.WithIssuer(p.Issuer), jwt.WithAudience(p.ClientID))
	if err != nil || !tok.Valid {
		t.Fatalf("ID token: %v", err)
	}
	if claims["sub"] != "auth0|ann" || claims["email"] != "ann@example.com" || claims["name"] != "Ann Example" || claims["nonce"] != "n0nce" {
		t.Errorf("claims %v", claims)
	}
	if pic, _ := claims["picture"].(string); !strings.HasPrefix(pic, "data:image/svg+xml;base64,") {
		t.Errorf("picture %q", pic)
	}
	// The code is single-use.
	if res, m := exchange(t, p, params, appOrigin); res.StatusCode != http.StatusForbidden || m["error"] != "invalid_grant" {
		t.Errorf("second exchange: %d %v", res.StatusCode, m)
	}
	if p.Sessions() != 1 {
		t.Errorf("sessions %d, want 1", p.Sessions())
	}
}

func TestBrowserTokenRefusals(t *testing.T) {
	p := newSPAProvider(t)
	cases := map[string]struct {
		change     func(map[string]string)
		wantStatus int
		wantError  string
	}{
		"a wrong code_verifier is refused": {
			change:     func(m map[string]string) { m["code_verifier"] = strings.Repeat("x", 50) },
			wantStatus: 403, wantError: "invalid_grant",
		},
		"a missing code_verifier is refused": {
			change:     func(m map[string]string) { delete(m, "code_verifier") },
			wantStatus: 403, wantError: "invalid_grant",
		},
		"another redirect_uri is refused": {
			change:     func(m map[string]string) { m["redirect_uri"] = appOrigin + "/other" },
			wantStatus: 403, wantError: "invalid_grant",
		},
		"a wrong client secret is refused even with PKCE": {
			change:     func(m map[string]string) { m["client_secret"] = "wrong" },
			wantStatus: 401, wantError: "invalid_client",
		},
		"another client_id is refused": {
			change:     func(m map[string]string) { m["client_id"] = "other" },
			wantStatus: 401, wantError: "invalid_client",
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			q := login(t, newBrowser(t), p, url.Values{"sub": {"auth0|ann"}})
			params := map[string]string{"grant_type": "authorization_code", "client_id": p.ClientID, "code": q.Get("code"), "redirect_uri": callback, "code_verifier": verifier}
			tc.change(params)
			res, m := exchange(t, p, params, "")
			if res.StatusCode != tc.wantStatus || m["error"] != tc.wantError {
				t.Errorf("got %d %v, want %d %s", res.StatusCode, m, tc.wantStatus, tc.wantError)
			}
		})
	}
	t.Run("a code without PKCE needs the client secret", func(t *testing.T) {
		c := p.IssueCode("x.y.z", "")
		res, m := exchange(t, p, map[string]string{"grant_type": "authorization_code", "client_id": p.ClientID, "code": c}, "")
		if res.StatusCode != 401 || m["error"] != "invalid_client" {
			t.Errorf("got %d %v", res.StatusCode, m)
		}
	})
}

func TestBrowserTypedUserAndSilentAuth(t *testing.T) {
	p := newSPAProvider(t)
	b := newBrowser(t)
	// prompt=none without a session: login_required, delivered to the app.
	res, _ := b.get(authorizeURL(p, url.Values{"prompt": {"none"}}))
	loc, _ := url.Parse(res.Header.Get("Location"))
	if res.StatusCode != http.StatusFound || loc.Query().Get("error") != "login_required" || loc.Query().Get("state") != "st4te" {
		t.Fatalf("prompt=none without session: %d %q", res.StatusCode, res.Header.Get("Location"))
	}
	q := login(t, b, p, url.Values{"email": {"Cat@Example.com"}, "name": {"Cat Typed"}})
	if q.Get("code") == "" {
		t.Fatalf("typed login: %v", q)
	}
	// With the session, prompt=none in a hidden iframe answers by web_message to the app's origin.
	res, body := b.get(authorizeURL(p, url.Values{"prompt": {"none"}, "response_mode": {"web_message"}}))
	if res.StatusCode != 200 || !strings.Contains(body, `"authorization_response"`) || !strings.Contains(body, `}, "http://127.0.0.1:1")`) || !strings.Contains(body, `"code":`) {
		t.Fatalf("web_message: %d %s", res.StatusCode, body)
	}
	if csp := res.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'nonce-") {
		t.Errorf("web_message CSP %q", csp)
	}
	// The typed user is offered on the next form.
	_, body = newBrowser(t).get(authorizeURL(p, nil))
	if !strings.Contains(body, "Cat Typed") {
		t.Errorf("typed user missing from the form")
	}
	// Logout ends the session and returns to an allowed URL only.
	res, _ = b.get(p.Server.URL + LogoutPath + "?client_id=" + p.ClientID + "&returnTo=" + url.QueryEscape("https://evil.example/"))
	if res.StatusCode != 400 || p.Sessions() != 1 {
		t.Fatalf("logout to a foreign URL: %d, sessions %d", res.StatusCode, p.Sessions())
	}
	res, _ = b.get(p.Server.URL + LogoutPath + "?client_id=" + p.ClientID + "&returnTo=" + url.QueryEscape(callback))
	if res.StatusCode != http.StatusFound || res.Header.Get("Location") != callback || p.Sessions() != 0 {
		t.Fatalf("logout: %d %q, sessions %d", res.StatusCode, res.Header.Get("Location"), p.Sessions())
	}
	res, _ = b.get(authorizeURL(p, url.Values{"prompt": {"none"}}))
	if loc, _ := url.Parse(res.Header.Get("Location")); loc == nil || loc.Query().Get("error") != "login_required" {
		t.Errorf("prompt=none after logout: %q", res.Header.Get("Location"))
	}
}

func TestBrowserOIDCLogoutCarriesState(t *testing.T) {
	p := newSPAProvider(t)
	b := newBrowser(t)
	login(t, b, p, url.Values{"sub": {"auth0|ann"}})
	res, _ := b.get(p.Server.URL + OIDCLogoutPath + "?client_id=" + p.ClientID + "&state=xyz&post_logout_redirect_uri=" + url.QueryEscape(callback))
	if res.StatusCode != http.StatusFound || res.Header.Get("Location") != callback+"?state=xyz" || p.Sessions() != 0 {
		t.Fatalf("oidc logout: %d %q, sessions %d", res.StatusCode, res.Header.Get("Location"), p.Sessions())
	}
}

func TestBrowserAuthorizeRefusals(t *testing.T) {
	p := newSPAProvider(t)
	cases := map[string]struct {
		extra url.Values
		// shown: an error page (no redirect); else the error delivered to the callback.
		shown     bool
		wantError string
	}{
		"an unknown client is shown an error":              {extra: url.Values{"client_id": {"nope"}}, shown: true, wantError: "invalid_request"},
		"a callback not registered is never redirected to": {extra: url.Values{"redirect_uri": {"https://evil.example/"}}, shown: true, wantError: "invalid_request"},
		"form_post is not supported":                       {extra: url.Values{"response_mode": {"form_post"}}, shown: true, wantError: "unsupported_response_mode"},
		"the plain PKCE method is refused":                 {extra: url.Values{"code_challenge_method": {"plain"}}, wantError: "invalid_request"},
		"a scope without openid is refused":                {extra: url.Values{"scope": {"profile"}}, wantError: "invalid_scope"},
		"the implicit flow is refused":                     {extra: url.Values{"response_type": {"token"}}, wantError: "unsupported_response_type"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			res, body := newBrowser(t).get(authorizeURL(p, tc.extra))
			if tc.shown {
				if res.StatusCode != 400 || !strings.Contains(body, tc.wantError) {
					t.Errorf("got %d %s", res.StatusCode, body)
				}
				return
			}
			loc, _ := url.Parse(res.Header.Get("Location"))
			if res.StatusCode != http.StatusFound || loc.Query().Get("error") != tc.wantError || loc.Query().Get("state") != "st4te" {
				t.Errorf("got %d %q", res.StatusCode, res.Header.Get("Location"))
			}
		})
	}
	t.Run("web_message needs an allowed web origin", func(t *testing.T) {
		p.SetApp(App{CallbackURLs: []string{callback}})
		res, body := newBrowser(t).get(authorizeURL(p, url.Values{"response_mode": {"web_message"}}))
		if res.StatusCode != 400 || strings.Contains(body, "postMessage") {
			t.Errorf("got %d %s", res.StatusCode, body)
		}
	})
	t.Run("a preflight from another origin gets no CORS", func(t *testing.T) {
		req, _ := http.NewRequest(http.MethodOptions, p.Server.URL+TokenPath, nil)
		req.Header.Set("Origin", "https://evil.example")
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != 403 || res.Header.Get("Access-Control-Allow-Origin") != "" {
			t.Errorf("got %d, ACAO %q", res.StatusCode, res.Header.Get("Access-Control-Allow-Origin"))
		}
	})
}

func TestDiscoveryAnnouncesTheBrowserFlow(t *testing.T) {
	p := newSPAProvider(t)
	res, body := newBrowser(t).get(p.Server.URL + DiscoveryPath)
	var doc map[string]any
	if res.StatusCode != 200 || json.Unmarshal([]byte(body), &doc) != nil {
		t.Fatalf("discovery: %d %s", res.StatusCode, body)
	}
	for key, want := range map[string]string{
		"authorization_endpoint": p.Server.URL + AuthorizePath,
		"end_session_endpoint":   p.Server.URL + OIDCLogoutPath,
		"token_endpoint":         p.Server.URL + TokenPath,
		"jwks_uri":               p.Server.URL + JWKSPath,
	} {
		if doc[key] != want {
			t.Errorf("%s = %v, want %s", key, doc[key], want)
		}
	}
	if methods, _ := doc["code_challenge_methods_supported"].([]any); len(methods) != 1 || methods[0] != "S256" {
		t.Errorf("code_challenge_methods_supported = %v", doc["code_challenge_methods_supported"])
	}
}
