package httpapi

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/restkube/restkube/dbserver/auth"
	"github.com/restkube/restkube/dbserver/auth/oidctest"
	"github.com/restkube/restkube/dbserver/settings"
)

const (
	oidcClientID     = "client-e2e"
	oidcClientSecret = "client-secret-e2e-5f4e3d2c1b0a"
)

// authEnv is the real server with the real auth.Service, talking to a local OIDC provider.
type authEnv struct {
	*env
	prov *oidctest.Provider
	svc  *auth.Service
}

func newAuthEnv(t *testing.T) *authEnv {
	t.Helper()
	prov := oidctest.New(t, oidcClientID, oidcClientSecret)
	a := &authEnv{prov: prov}
	a.env = newEnv(t, func(o *Options) {
		a.svc = auth.New(auth.Options{
			Config:          o.Settings.Current,
			Users:           auth.NewStoreUsers(o.Store),
			Revocations:     auth.NewStoreRevocations(o.Store),
			ProviderTimeout: 500 * time.Millisecond,
			Logger:          o.Logger,
		})
		o.Auth = a.svc
	})
	a.setAuth(true)
	t.Cleanup(func() {
		for _, s := range []string{oidcClientSecret, "signing-key-for-tests"} {
			if strings.Contains(a.logs.String(), s) {
				t.Errorf("logs hold a secret: %s", a.logs.String())
			}
		}
	})
	return a
}

func (a *authEnv) setAuth(enabled bool) {
	cfg := testConfig()
	cfg.ClientSecret = oidcClientSecret
	cfg.Settings.Auth = settings.Auth{
		Enabled: enabled, TokenTTL: "1h", DefaultRoles: []string{"external"},
		Auth0: &settings.Auth0{ClientID: oidcClientID, Issuer: a.prov.Issuer},
	}
	a.src.Set(cfg)
}

func (a *authEnv) idToken(sub, email string) string {
	return a.prov.Sign(a.prov.Key("RS256"), a.prov.Claims(sub, email))
}

// login posts an ID token to /auth/token and returns our token.
func (a *authEnv) login(sub, email string) string {
	a.t.Helper()
	r := a.do("POST", "/auth/token", nil, `{"code":"`+a.idToken(sub, email)+`"}`)
	if r.status != http.StatusOK {
		a.t.Fatalf("login %s: %d %s", sub, r.status, r.body)
	}
	var tr auth.TokenResponse
	if err := json.Unmarshal([]byte(r.body), &tr); err != nil {
		a.t.Fatal(err)
	}
	// The logs must never hold a token.
	a.t.Cleanup(func() {
		if strings.Contains(a.logs.String(), tr.Token) {
			a.t.Errorf("logs hold a token")
		}
	})
	return tr.Token
}

func (a *authEnv) expect(method, url string, headers map[string]string, body string, status int, contains ...string) response {
	a.t.Helper()
	r := a.do(method, url, headers, body)
	if r.status != status {
		a.t.Fatalf("%s %s: %d %s, want %d", method, url, r.status, r.body, status)
	}
	for _, c := range contains {
		if !strings.Contains(r.body, a.expand(c)) {
			a.t.Errorf("%s %s: body lacks %q: %s", method, url, c, r.body)
		}
	}
	return r
}

func TestAuthFlowsOverHTTP(t *testing.T) {
	a := newAuthEnv(t)

	// Login with an ID token.
	r := a.expect("POST", "/auth/token", nil, `{"code":"`+a.idToken("auth0|alice", "alice@example.com")+`"}`, 200, `"token":"eyJ`, `"iat":`, `"exp":`)
	var tr auth.TokenResponse
	if err := json.Unmarshal([]byte(r.body), &tr); err != nil || tr.ExpiresAt-tr.IssuedAt != 3600 {
		t.Fatalf("token answer %s: %v", r.body, err)
	}
	if cc := r.header.Get("Cache-Control"); cc != "no-store" {
		t.Errorf("Cache-Control = %q, want no-store", cc)
	}
	a.expect("GET", "/auth/userinfo", bearer(tr.Token), "", 200,
		`"email":"alice@example.com"`, `"displayname":"Name of alice@example.com"`, `"roles":["external"]`, `"_id":"`)
	// The seeded private task of alice@example.com is hers now.
	a.expect("GET", "/rest/tasks", bearer(tr.Token), "", 200, "mine")

	// Login with an authorization code.
	code := a.prov.IssueCode(a.idToken("auth0|bob", "bob@example.com"), "https://app.example/cb")
	r = a.expect("POST", "/auth/token", nil, `{"code":"`+code+`","redirect_uri":"https://app.example/cb"}`, 200, `"token"`)
	var bobTok auth.TokenResponse
	_ = json.Unmarshal([]byte(r.body), &bobTok)
	a.expect("GET", "/auth/userinfo", bearer(bobTok.Token), "", 200, `"email":"bob@example.com"`)
	a.expect("POST", "/auth/token", nil, `{"code":"`+code+`","redirect_uri":"https://app.example/cb"}`, 401, "Unauthorized")

	// Refresh: the new token works, the old one is refused.
	r = a.expect("POST", "/auth/token", nil, `{"refresh":"`+tr.Token+`"}`, 200, `"token"`)
	var fresh auth.TokenResponse
	_ = json.Unmarshal([]byte(r.body), &fresh)
	a.expect("GET", "/rest/tasks", bearer(fresh.Token), "", 200, "mine")
	a.expect("GET", "/rest/tasks", bearer(tr.Token), "", 401, "revoked")
	a.expect("POST", "/auth/token", nil, `{"refresh":"`+tr.Token+`"}`, 401)

	// Logout: refused from then on, on every endpoint.
	a.expect("POST", "/auth/logout", bearer(fresh.Token), "", 200, `{"result":"ok"}`)
	a.expect("GET", "/rest/tasks", bearer(fresh.Token), "", 401)
	a.expect("GET", "/auth/userinfo", bearer(fresh.Token), "", 401)
	a.expect("POST", "/auth/logout", bearer(fresh.Token), "", 401)

	// The provider's ID token works as a Bearer too, and can be logged out.
	idt := a.idToken("auth0|alice", "alice@example.com")
	a.expect("GET", "/rest/tasks", bearer(idt), "", 200, "mine")
	a.expect("POST", "/auth/logout", bearer(idt), "", 200)
	a.expect("GET", "/rest/tasks", bearer(idt), "", 401)
}

func TestAuthEndpointsRefuseBadRequests(t *testing.T) {
	a := newAuthEnv(t)
	tok := a.login("auth0|alice", "alice@example.com")
	none := oidctest.SignNone(a.prov.Claims("auth0|alice", "alice@example.com"))
	confused := oidctest.SignHS256With(a.prov.Key("RS256").PublicPEM(), map[string]any{"kid": a.prov.Key("RS256").ID}, a.prov.Claims("auth0|alice", "alice@example.com"))
	// RFC 7515: a header listing critical extensions we do not understand is refused.
	crit := oidctest.SignHS256With([]byte(oidcClientSecret), map[string]any{"crit": []string{"exp"}}, a.prov.Claims("auth0|alice", "alice@example.com"))
	expired := a.prov.Sign(a.prov.Key("ES256"), func() jwt.MapClaims {
		c := a.prov.Claims("auth0|alice", "alice@example.com")
		c["exp"] = time.Now().Add(-5 * time.Minute).Unix()
		return c
	}())
	for name, c := range map[string]struct {
		method, url string
		headers     map[string]string
		body        string
		status      int
		contains    string
	}{
		"GET /auth/token is 405":                   {"GET", "/auth/token", nil, "", 405, "MethodNotAllowed"},
		"PUT /auth/logout is 405":                  {"PUT", "/auth/logout", bearer(tok), "", 405, "MethodNotAllowed"},
		"POST /auth/userinfo is 405":               {"POST", "/auth/userinfo", bearer(tok), "", 405, "MethodNotAllowed"},
		"a token body that is not JSON is 400":     {"POST", "/auth/token", nil, "code=abc", 400, "ValidationError"},
		"a token body that is an array is 400":     {"POST", "/auth/token", nil, `["x"]`, 400, "ValidationError"},
		"a token body with neither field is 400":   {"POST", "/auth/token", nil, `{}`, 400, "ValidationError"},
		"a code that is not a string is 400":       {"POST", "/auth/token", nil, `{"code":5}`, 400, "ValidationError"},
		"a token body over the limit is 413":       {"POST", "/auth/token", nil, `{"code":"` + strings.Repeat("a", 70<<10) + `"}`, 413, "PayloadTooLarge"},
		"an unknown authorization code is 401":     {"POST", "/auth/token", nil, `{"code":"no-such-code"}`, 401, "Unauthorized"},
		"refreshing garbage is 401":                {"POST", "/auth/token", nil, `{"refresh":"a.b.c"}`, 401, "Unauthorized"},
		"an ID token with crit is 401 as a Bearer": {"GET", "/rest/tasks", bearer(crit), "", 401, "crit"},
		"an ID token with crit is 401 at login":    {"POST", "/auth/token", nil, `{"code":"` + crit + `"}`, 401, "crit"},
		"refreshing an ID token is 401":            {"POST", "/auth/token", nil, `{"refresh":"` + a.idToken("auth0|alice", "alice@example.com") + `"}`, 401, "Unauthorized"},
		"userinfo with the full key is 400":        {"GET", "/auth/userinfo", key(fullKey), "", 400, "ValidationError"},
		"logout with a web key is 400":             {"POST", "/auth/logout", key(readerKey), "", 400, "ValidationError"},
		"userinfo without credentials is 401":      {"GET", "/auth/userinfo", nil, "", 401, "Unauthorized"},
		"an alg none token is 401":                 {"GET", "/rest/tasks", bearer(none), "", 401, "Unauthorized"},
		"a key-confusion token is 401":             {"GET", "/rest/tasks", bearer(confused), "", 401, "Unauthorized"},
		"an expired ID token is 401":               {"GET", "/rest/tasks", bearer(expired), "", 401, "expired"},
		"an expired ID token cannot log in (401)":  {"POST", "/auth/token", nil, `{"code":"` + expired + `"}`, 401, "expired"},
	} {
		t.Run(name, func(t *testing.T) {
			r := a.do(c.method, c.url, c.headers, c.body)
			if r.status != c.status || !strings.Contains(r.body, c.contains) {
				t.Errorf("%d %s, want %d with %q", r.status, r.body, c.status, c.contains)
			}
			if !strings.HasPrefix(r.header.Get("Content-Type"), "application/json") {
				t.Errorf("Content-Type %q, want JSON", r.header.Get("Content-Type"))
			}
		})
	}
}

func TestPrivateDataIsolationBetweenRealUsers(t *testing.T) {
	a := newAuthEnv(t)
	alice := a.login("auth0|alice", "alice@example.com")
	bob := a.login("auth0|bob", "bob@example.com")

	r := a.expect("POST", "/rest/tasks", bearer(alice), `{"title":"alice-secret"}`, 201, `"_createdby":"alice@example.com"`)
	var doc map[string]any
	_ = json.Unmarshal([]byte(r.body), &doc)
	id := doc["_id"].(string)

	a.expect("GET", "/rest/tasks", bearer(alice), "", 200, "alice-secret", "mine")
	if r := a.do("GET", "/rest/tasks", bearer(bob), ""); r.status != 200 || strings.Contains(r.body, "alice-secret") || strings.Contains(r.body, "mine") || !strings.Contains(r.body, "theirs") {
		t.Errorf("bob's list: %d %s", r.status, r.body)
	}
	if r := a.do("GET", `/rest/tasks?q={"title":"alice-secret"}`, bearer(bob), ""); r.status != 200 || r.body != "[]\n" {
		t.Errorf("bob's query for alice's title: %d %q", r.status, r.body)
	}
	a.expect("GET", "/rest/tasks/"+id, bearer(bob), "", 404)
	a.expect("PUT", "/rest/tasks/"+id, bearer(bob), `{"title":"owned"}`, 404)
	a.expect("PATCH", "/rest/tasks/"+id, bearer(bob), `{"$set":{"title":"owned"}}`, 404)
	a.expect("DELETE", "/rest/tasks/"+id, bearer(bob), "", 404)
	r = a.expect("DELETE", "/rest/tasks/*", bearer(bob), `["`+id+`"]`, 200)
	if strings.Contains(r.body, id) {
		t.Errorf("bob's bulk delete reports alice's document: %s", r.body)
	}
	a.expect("GET", "/rest/tasks/"+id, bearer(alice), "", 200, `"title":"alice-secret"`)
	a.expect("PUT", "/rest/tasks/"+id, bearer(alice), `{"done":true}`, 200, `"_changedby":"alice@example.com"`)
	a.expect("DELETE", "/rest/tasks/"+id, bearer(alice), "", 200, id)
	a.expect("GET", "/rest/tasks/{tasks.1}", key(fullKey), "", 200, "theirs")
}

func TestRoleRightsPerMethodWithRealTokens(t *testing.T) {
	a := newAuthEnv(t)
	alice := a.login("auth0|alice", "alice@example.com")
	for _, c := range []struct {
		method, url, body string
		status            int
	}{
		{"GET", "/rest/public", "", 200},
		{"GET", "/rest/public/{public.0}", "", 200},
		{"POST", "/rest/public", `{"x":1}`, 403},
		{"PUT", "/rest/public/{public.0}", `{"x":1}`, 403},
		{"PATCH", "/rest/public/{public.0}", `{"x":1}`, 403},
		{"DELETE", "/rest/public/{public.0}", "", 403},
		{"GET", "/rest/shared", "", 200},
		{"POST", "/rest/shared", `{"x":1}`, 201},
		{"PUT", "/rest/shared/{shared.0}", `{"x":2}`, 200},
		{"PATCH", "/rest/shared/{shared.0}", `{"x":3}`, 200},
		{"GET", "/rest/secret", "", 403},
		{"POST", "/rest/secret", `{"x":1}`, 403},
		{"GET", "/rest/users", "", 403},
		{"DELETE", "/rest/shared/{shared.0}", "", 200},
	} {
		if r := a.do(c.method, c.url, bearer(alice), c.body); r.status != c.status {
			t.Errorf("%s %s: %d %s, want %d", c.method, c.url, r.status, r.body, c.status)
		}
	}

	// Roles are read on every request: the full key makes alice a viewer, her token follows.
	info := a.expect("GET", "/auth/userinfo", bearer(alice), "", 200)
	var u map[string]any
	_ = json.Unmarshal([]byte(info.body), &u)
	uid := u["_id"].(string)
	a.expect("PUT", "/rest/users/"+uid, key(fullKey), `{"roles":["viewer"]}`, 200)
	a.expect("GET", "/rest/public", bearer(alice), "", 200)
	a.expect("GET", "/rest/shared", bearer(alice), "", 403)
	a.expect("GET", "/auth/userinfo", bearer(alice), "", 200, `"roles":["viewer"]`)

	// Deactivated: 403 everywhere, including a new login.
	a.expect("PUT", "/rest/users/"+uid, key(fullKey), `{"active":false}`, 200)
	a.expect("GET", "/rest/public", bearer(alice), "", 403, "deactivated")
	a.expect("GET", "/auth/userinfo", bearer(alice), "", 403)
	a.expect("POST", "/auth/token", nil, `{"code":"`+a.idToken("auth0|alice", "alice@example.com")+`"}`, 403)
}

func TestProviderDownIsServiceUnavailableOverHTTP(t *testing.T) {
	a := newAuthEnv(t)
	idt := a.idToken("auth0|alice", "alice@example.com")
	a.prov.SetHang(true)
	start := time.Now()
	a.expect("POST", "/auth/token", nil, `{"code":"`+idt+`"}`, 503, "ServiceUnavailable")
	a.expect("GET", "/rest/tasks", bearer(idt), "", 503, "ServiceUnavailable")
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("took %v with a 500ms provider timeout", d)
	}
	// Our own tokens do not depend on the provider.
	a.prov.SetHang(false)
	a.prov.Close()
	hs := a.prov.SignHS256(a.prov.Claims("auth0|bob", "bob@example.com"))
	a.expect("GET", "/rest/tasks", bearer(hs), "", 200, "theirs")
}

func TestAuthRoutesAre404WhileAuthIsDisabled(t *testing.T) {
	a := newAuthEnv(t)
	tok := a.login("auth0|alice", "alice@example.com")
	a.setAuth(false)
	a.expect("POST", "/auth/token", nil, `{"code":"x"}`, 404, "NotFound")
	a.expect("GET", "/auth/token", nil, "", 404, "NotFound")
	a.expect("GET", "/rest/tasks", bearer(tok), "", 401)
	a.setAuth(true)
	a.expect("GET", "/rest/tasks", bearer(tok), "", 200, "mine")
}

// The /auth group gets the server's credentials and JSON error mapping (with the fake service
// of newEnv), and is not mounted without Options.Auth.
func TestAuthGroupMapsCredentialsAndErrors(t *testing.T) {
	e := newEnv(t)
	unmounted := newEnv(t, func(o *Options) { o.Auth = nil })
	cases := map[string]struct {
		e           *env
		method, url string
		headers     map[string]string
		body        string
		status      int
		contains    string
	}{
		"a public auth route answers":              {e, "POST", "/auth/token", nil, `{"code":"c"}`, 200, `"token"`},
		"the service's errors map to statuses":     {e, "POST", "/auth/token", nil, `{}`, 400, "ValidationError"},
		"a wrong method is a JSON 405":             {e, "GET", "/auth/token", nil, "", 405, "MethodNotAllowed"},
		"an authenticated route needs credentials": {e, "GET", "/auth/userinfo", nil, "", 401, "Unauthorized"},
		"an authenticated route sees the user":     {e, "GET", "/auth/userinfo", bearer("alice"), "", 200, "alice@example.com"},
		"an API key can be refused with 400":       {e, "GET", "/auth/userinfo", key(fullKey), "", 400, "ValidationError"},
		"other auth paths stay a JSON 404":         {e, "GET", "/auth/nothing", nil, "", 404, "NotFound"},
		"without Options.Auth the group is absent": {unmounted, "POST", "/auth/token", nil, `{}`, 404, "NotFound"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			r := c.e.do(c.method, c.url, c.headers, c.body)
			if r.status != c.status || !strings.Contains(r.body, c.contains) {
				t.Errorf("%d %s, want %d with %q", r.status, r.body, c.status, c.contains)
			}
		})
	}
}
