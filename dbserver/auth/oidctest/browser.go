package oidctest

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
	"unicode/utf8"
)

// Paths of the browser flow.
const (
	AuthorizePath  = "/authorize"
	LoginPath      = "/u/login"
	LogoutPath     = "/v2/logout"
	OIDCLogoutPath = "/oidc/logout"
)

// SessionCookie is the name of the provider's session cookie.
const SessionCookie = "oidctest_session"

// Lifetimes and bounds of what the browser flow keeps in memory.
const (
	codeTTL     = 5 * time.Minute
	loginTTL    = 10 * time.Minute
	sessionTTL  = 24 * time.Hour
	maxPending  = 1000 // codes, pending logins and sessions, each
	maxFormBody = 64 << 10
)

// User is a person who can sign in at the login form.
type User struct {
	// Sub is the subject (Auth0's user_id), e.g. "auth0|ann".
	Sub string
	// Email and Name become the ID token's email (verified) and name claims.
	Email, Name string
}

// App is the browser application of the provider's client, registered as an Auth0
// application of type Single Page Application is. Every URL is matched exactly.
type App struct {
	// CallbackURLs are the allowed redirect_uri values of /authorize.
	CallbackURLs []string
	// LogoutURLs are the allowed returnTo (and post_logout_redirect_uri) values.
	LogoutURLs []string
	// WebOrigins may receive web_message answers and call /oauth/token from a browser (CORS).
	WebOrigins []string
}

// authRequest is a validated /authorize request waiting for its user.
type authRequest struct {
	redirectURI, responseMode, state, nonce, scope, challenge string
	expires                                                   time.Time
}

type session struct {
	sub     string
	expires time.Time
}

// SetApp registers the browser application; it replaces the one registered before.
func (p *Provider) SetApp(a App) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.app = App{
		CallbackURLs: slices.Clone(a.CallbackURLs),
		LogoutURLs:   slices.Clone(a.LogoutURLs),
		WebOrigins:   slices.Clone(a.WebOrigins),
	}
}

// AddUser offers u on the login form; a user with the same Sub is replaced.
func (p *Provider) AddUser(u User) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for i := range p.users {
		if p.users[i].Sub == u.Sub {
			p.users[i] = u
			return
		}
	}
	p.users = append(p.users, u)
}

// Sessions is how many login sessions are open.
func (p *Provider) Sessions() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.sessions)
}

// serveAuthorize is the authorization endpoint (OpenID Connect Core 3.1.2, RFC 7636).
func (p *Provider) serveAuthorize(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet {
		errorPage(w, http.StatusMethodNotAllowed, "invalid_request", "use GET")
		return
	}
	q := r.URL.Query()
	p.mu.Lock()
	app := p.app
	p.mu.Unlock()
	// Until client_id and redirect_uri are known good, errors are shown, never redirected
	// (RFC 6749 section 4.1.2.1): an open redirector helps phishing.
	if q.Get("client_id") != p.ClientID {
		errorPage(w, http.StatusBadRequest, "invalid_request", "unknown client_id")
		return
	}
	req := authRequest{
		redirectURI:  q.Get("redirect_uri"),
		responseMode: q.Get("response_mode"),
		state:        q.Get("state"),
		nonce:        q.Get("nonce"),
		scope:        q.Get("scope"),
		challenge:    q.Get("code_challenge"),
		expires:      p.clock().Add(loginTTL),
	}
	if !slices.Contains(app.CallbackURLs, req.redirectURI) {
		errorPage(w, http.StatusBadRequest, "invalid_request", "redirect_uri is not an allowed callback URL of this application")
		return
	}
	switch req.responseMode {
	case "", "query":
		req.responseMode = "query"
	case "web_message":
		if !slices.Contains(app.WebOrigins, originOf(req.redirectURI)) {
			errorPage(w, http.StatusBadRequest, "invalid_request", "the origin of redirect_uri is not an allowed web origin of this application")
			return
		}
	default:
		errorPage(w, http.StatusBadRequest, "unsupported_response_mode", "response_mode must be query or web_message")
		return
	}
	for _, v := range []string{req.state, req.nonce, req.scope, req.challenge} {
		if len(v) > 2048 {
			p.deliver(w, r, req, url.Values{"error": {"invalid_request"}, "error_description": {"a parameter is too long"}})
			return
		}
	}
	fail := func(code, desc string) {
		p.deliver(w, r, req, url.Values{"error": {code}, "error_description": {desc}})
	}
	switch {
	case q.Get("response_type") != "code":
		fail("unsupported_response_type", "response_type must be code")
		return
	case !slices.Contains(strings.Fields(req.scope), "openid"):
		fail("invalid_scope", "scope must include openid")
		return
	case req.challenge != "" && q.Get("code_challenge_method") != "S256":
		fail("invalid_request", "code_challenge_method must be S256")
		return
	case req.challenge != "" && (len(req.challenge) != 43 || strings.ContainsAny(req.challenge, "+/=")):
		fail("invalid_request", "code_challenge must be a base64url SHA-256 digest")
		return
	}
	prompt := q.Get("prompt")
	if prompt != "login" {
		if sub, ok := p.sessionUser(r); ok {
			p.issueAndDeliver(w, r, req, sub)
			return
		}
	}
	if prompt == "none" {
		fail("login_required", "Login required")
		return
	}
	tx := randomHex(16)
	p.mu.Lock()
	p.pruneLocked()
	if len(p.logins) >= maxPending {
		p.mu.Unlock()
		fail("temporarily_unavailable", "too many logins in progress")
		return
	}
	p.logins[tx] = req
	users := slices.Clone(p.users)
	p.mu.Unlock()
	w.Header().Set("Cache-Control", "no-store")
	// form-action covers the redirect that follows the form's POST: the app's callbacks too.
	formAction := "'self'"
	for _, cb := range app.CallbackURLs {
		formAction += " " + originOf(cb)
	}
	w.Header().Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; img-src data:; form-action "+formAction+"; frame-ancestors 'none'")
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	_ = loginPage.Execute(w, map[string]any{"TX": tx, "Users": users})
}

// serveLogin takes the login form: a known user's sub, or an email and a name.
func (p *Provider) serveLogin(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		errorPage(w, http.StatusMethodNotAllowed, "invalid_request", "use POST")
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBody)
	if err := r.ParseForm(); err != nil {
		errorPage(w, http.StatusBadRequest, "invalid_request", "unreadable form")
		return
	}
	tx := r.PostForm.Get("tx")
	p.mu.Lock()
	req, ok := p.logins[tx]
	delete(p.logins, tx) // a login form is used once
	users := slices.Clone(p.users)
	p.mu.Unlock()
	if !ok || p.clock().After(req.expires) {
		errorPage(w, http.StatusBadRequest, "invalid_request", "this login has expired: start again from the application")
		return
	}
	var u User
	if sub := r.PostForm.Get("sub"); sub != "" {
		i := slices.IndexFunc(users, func(u User) bool { return u.Sub == sub })
		if i < 0 {
			errorPage(w, http.StatusBadRequest, "invalid_request", "unknown user")
			return
		}
		u = users[i]
	} else {
		email := strings.TrimSpace(r.PostForm.Get("email"))
		name := strings.TrimSpace(r.PostForm.Get("name"))
		at := strings.LastIndexByte(email, '@')
		if at < 1 || at == len(email)-1 || len(email) > 254 || strings.ContainsAny(email, " <>\"") || !utf8.ValidString(email) {
			errorPage(w, http.StatusBadRequest, "invalid_request", "type an email address such as ann@example.com")
			return
		}
		if name == "" {
			name = email[:at]
		}
		if len(name) > 100 || !utf8.ValidString(name) {
			errorPage(w, http.StatusBadRequest, "invalid_request", "the name is too long")
			return
		}
		sum := sha256.Sum256([]byte(strings.ToLower(email)))
		u = User{Sub: "oidctest|" + fmt.Sprintf("%x", sum[:8]), Email: email, Name: name}
		p.AddUser(u)
	}
	sid := randomHex(16)
	p.mu.Lock()
	p.pruneLocked()
	if len(p.sessions) >= maxPending {
		p.mu.Unlock()
		errorPage(w, http.StatusServiceUnavailable, "temporarily_unavailable", "too many sessions")
		return
	}
	p.sessions[sid] = session{sub: u.Sub, expires: p.now().Add(sessionTTL)}
	p.mu.Unlock()
	http.SetCookie(w, &http.Cookie{Name: SessionCookie, Value: sid, Path: "/", HttpOnly: true, SameSite: http.SameSiteLaxMode, MaxAge: int(sessionTTL / time.Second)})
	p.issueAndDeliver(w, r, req, u.Sub)
}

// issueAndDeliver mints the ID token of sub for req, registers a code for it and answers the app.
func (p *Provider) issueAndDeliver(w http.ResponseWriter, r *http.Request, req authRequest, sub string) {
	p.mu.Lock()
	i := slices.IndexFunc(p.users, func(u User) bool { return u.Sub == sub })
	var u User
	if i >= 0 {
		u = p.users[i]
	}
	p.mu.Unlock()
	if i < 0 {
		p.deliver(w, r, req, url.Values{"error": {"login_required"}, "error_description": {"the session's user is gone"}, "state": {req.state}})
		return
	}
	claims := p.Claims(u.Sub, u.Email)
	claims["name"] = u.Name
	claims["nickname"] = strings.SplitN(u.Email, "@", 2)[0]
	claims["picture"] = Avatar(u.Name, u.Sub)
	claims["auth_time"] = claims["iat"]
	if req.nonce != "" {
		claims["nonce"] = req.nonce
	}
	idToken := p.Sign(p.Key("RS256"), claims)
	c := randomHex(16)
	p.mu.Lock()
	p.pruneLocked()
	if len(p.codes) >= maxPending {
		p.mu.Unlock()
		p.deliver(w, r, req, url.Values{"error": {"temporarily_unavailable"}, "error_description": {"too many codes outstanding"}})
		return
	}
	p.codes[c] = code{idToken: idToken, redirectURI: req.redirectURI, challenge: req.challenge, public: true, scope: req.scope, expires: p.now().Add(codeTTL)}
	p.mu.Unlock()
	p.deliver(w, r, req, url.Values{"code": {c}})
}

// deliver answers the app at its redirect_uri in req's response mode; state is always added.
func (p *Provider) deliver(w http.ResponseWriter, r *http.Request, req authRequest, params url.Values) {
	if req.state != "" {
		params.Set("state", req.state)
	}
	w.Header().Set("Cache-Control", "no-store")
	if req.responseMode == "web_message" {
		resp := map[string]string{}
		for k := range params {
			resp[k] = params.Get(k)
		}
		nonce := randomHex(16)
		w.Header().Set("Content-Security-Policy", "default-src 'none'; script-src 'nonce-"+nonce+"'")
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_ = webMessagePage.Execute(w, map[string]any{"Nonce": nonce, "Origin": originOf(req.redirectURI), "Response": resp})
		return
	}
	u, err := url.Parse(req.redirectURI)
	if err != nil {
		errorPage(w, http.StatusBadRequest, "invalid_request", "redirect_uri is not a URL")
		return
	}
	q := u.Query()
	for k := range params {
		q.Set(k, params.Get(k))
	}
	u.RawQuery = q.Encode()
	http.Redirect(w, r, u.String(), http.StatusFound)
}

// serveLogout ends the session: Auth0's /v2/logout (client_id, returnTo) and OpenID Connect
// RP-initiated logout at /oidc/logout (client_id, post_logout_redirect_uri, state).
func (p *Provider) serveLogout(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodPost {
		errorPage(w, http.StatusMethodNotAllowed, "invalid_request", "use GET")
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBody)
	if err := r.ParseForm(); err != nil {
		errorPage(w, http.StatusBadRequest, "invalid_request", "unreadable parameters")
		return
	}
	returnTo, state := r.Form.Get("returnTo"), ""
	if r.URL.Path == OIDCLogoutPath {
		returnTo, state = r.Form.Get("post_logout_redirect_uri"), r.Form.Get("state")
	}
	if id := r.Form.Get("client_id"); id != "" && id != p.ClientID {
		errorPage(w, http.StatusBadRequest, "invalid_request", "unknown client_id")
		return
	}
	p.mu.Lock()
	app := p.app
	p.mu.Unlock()
	if returnTo != "" && !slices.Contains(app.LogoutURLs, returnTo) {
		errorPage(w, http.StatusBadRequest, "invalid_request", "the return URL is not an allowed logout URL of this application")
		return
	}
	if c, err := r.Cookie(SessionCookie); err == nil {
		p.mu.Lock()
		delete(p.sessions, c.Value)
		p.mu.Unlock()
	}
	http.SetCookie(w, &http.Cookie{Name: SessionCookie, Value: "", Path: "/", HttpOnly: true, SameSite: http.SameSiteLaxMode, MaxAge: -1})
	w.Header().Set("Cache-Control", "no-store")
	if returnTo == "" {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = w.Write([]byte("<!doctype html><title>Signed out</title><p>You are signed out.</p>\n"))
		return
	}
	if state != "" {
		u, err := url.Parse(returnTo)
		if err == nil {
			q := u.Query()
			q.Set("state", state)
			u.RawQuery = q.Encode()
			returnTo = u.String()
		}
	}
	http.Redirect(w, r, returnTo, http.StatusFound)
}

// sessionUser is the user of the request's session cookie, if it names a live session.
func (p *Provider) sessionUser(r *http.Request) (string, bool) {
	c, err := r.Cookie(SessionCookie)
	if err != nil {
		return "", false
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	s, ok := p.sessions[c.Value]
	if !ok || p.now().After(s.expires) {
		return "", false
	}
	return s.sub, true
}

// corsOrigin is the request's Origin when the app may call the token endpoint from it.
func (p *Provider) corsOrigin(r *http.Request) (string, bool) {
	origin := r.Header.Get("Origin")
	if origin == "" {
		return "", false
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if slices.Contains(p.app.WebOrigins, origin) {
		return origin, true
	}
	for _, cb := range p.app.CallbackURLs {
		if originOf(cb) == origin {
			return origin, true
		}
	}
	return "", false
}

// pruneLocked drops expired codes, logins and sessions; p.mu is held.
func (p *Provider) pruneLocked() {
	now := p.now()
	for k, c := range p.codes {
		if !c.expires.IsZero() && now.After(c.expires) {
			delete(p.codes, k)
		}
	}
	for k, l := range p.logins {
		if now.After(l.expires) {
			delete(p.logins, k)
		}
	}
	for k, s := range p.sessions {
		if now.After(s.expires) {
			delete(p.sessions, k)
		}
	}
}

func (p *Provider) clock() time.Time {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.now()
}

// verifyPKCE checks a code_verifier against an S256 code_challenge (RFC 7636 section 4.6).
func verifyPKCE(verifier, challenge string) bool {
	if len(verifier) < 43 || len(verifier) > 128 {
		return false
	}
	sum := sha256.Sum256([]byte(verifier))
	got := base64.RawURLEncoding.EncodeToString(sum[:])
	return subtle.ConstantTimeCompare([]byte(got), []byte(challenge)) == 1
}

// Avatar is a picture for name as a data: URL (an SVG of its initials on a colour taken from
// seed), so that a page showing it fetches nothing from outside.
func Avatar(name, seed string) string {
	initials := ""
	for _, w := range strings.Fields(name) {
		r, _ := utf8.DecodeRuneInString(w)
		initials += strings.ToUpper(string(r))
		if utf8.RuneCountInString(initials) == 2 {
			break
		}
	}
	if initials == "" {
		initials = "?"
	}
	sum := sha256.Sum256([]byte(seed))
	hue := int(sum[0]) * 360 / 256
	svg := fmt.Sprintf(`<svg xmlns="http://www.w3.org/2000/svg" width="64" height="64" viewBox="0 0 64 64">`+
		`<circle cx="32" cy="32" r="32" fill="hsl(%d,55%%,45%%)"/>`+
		`<text x="32" y="41" text-anchor="middle" font-family="sans-serif" font-size="26" fill="#fff">%s</text></svg>`,
		hue, template.HTMLEscapeString(initials))
	return "data:image/svg+xml;base64," + base64.StdEncoding.EncodeToString([]byte(svg))
}

// originOf is scheme://host[:port] of a URL, or "" when it has none.
func originOf(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Scheme == "" || u.Host == "" {
		return ""
	}
	return u.Scheme + "://" + u.Host
}

func errorPage(w http.ResponseWriter, status int, code, desc string) {
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Content-Security-Policy", "default-src 'none'")
	w.WriteHeader(status)
	_ = errorTemplate.Execute(w, map[string]string{"Code": code, "Desc": desc})
}

var errorTemplate = template.Must(template.New("error").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Sign-in error</title></head>
<body><h1>Sign-in error</h1><p id="error"><b>{{.Code}}</b>: {{.Desc}}</p></body></html>
`))

// webMessagePage hands the answer to the window that opened the login (a popup's opener, or
// the parent of the SDK's hidden iframe), for that window's origin only.
var webMessagePage = template.Must(template.New("wm").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Authorization response</title></head><body>
<script nonce="{{.Nonce}}">
(function () {
  var target = window.opener || window.parent;
  target.postMessage({type: "authorization_response", response: {{.Response}}}, {{.Origin}});
})();
</script></body></html>
`))

var loginPage = template.Must(template.New("login").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Sign in</title><link rel="icon" href="data:,">
<style>
body{font-family:system-ui,sans-serif;background:#eef1f6;margin:0;display:flex;min-height:100vh;align-items:center;justify-content:center}
main{background:#fff;border-radius:12px;box-shadow:0 4px 24px rgba(0,0,0,.08);padding:32px;width:340px}
h1{font-size:20px;margin:0 0 4px}p{color:#555;margin:0 0 20px;font-size:14px}
button{width:100%;padding:10px;margin:4px 0;border:1px solid #ccd;border-radius:8px;background:#fff;font-size:15px;cursor:pointer;text-align:left}
button:hover{background:#f4f6fb}
label{display:block;font-size:13px;color:#444;margin-top:10px}
input{width:100%;box-sizing:border-box;padding:9px;border:1px solid #ccd;border-radius:8px;font-size:15px}
.primary{background:#3b5bdb;color:#fff;border:none;text-align:center;margin-top:14px}
hr{border:none;border-top:1px solid #e3e6ee;margin:18px 0}
</style></head>
<body><main>
<h1>Sign in</h1><p>Local OpenID Connect provider (test stand-in for Auth0)</p>
{{if .Users}}<form method="post" action="/u/login">
<input type="hidden" name="tx" value="{{.TX}}">
{{range .Users}}<button type="submit" name="sub" value="{{.Sub}}" data-email="{{.Email}}">{{.Name}} &lt;{{.Email}}&gt;</button>
{{end}}</form><hr>{{end}}
<form method="post" action="/u/login" id="typed">
<input type="hidden" name="tx" value="{{.TX}}">
<label for="email">Email</label><input id="email" name="email" type="email" required autocomplete="email">
<label for="name">Name</label><input id="name" name="name" autocomplete="name">
<button class="primary" type="submit">Continue</button>
</form>
</main></body></html>
`))
