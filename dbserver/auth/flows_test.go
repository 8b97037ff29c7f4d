package auth

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/restkube/restkube/dbserver/auth/oidctest"
	"github.com/restkube/restkube/dbserver/settings"
	"github.com/restkube/restkube/dbserver/store"
)

func TestLoginWithIDTokenIssuesOurToken(t *testing.T) {
	for name, tc := range map[string]struct {
		sign func(e *env, c jwt.MapClaims) string
	}{
		"RS256 with a JWKS key":        {sign: func(e *env, c jwt.MapClaims) string { return e.prov.Sign(e.prov.Key("RS256"), c) }},
		"ES256 with a JWKS key":        {sign: func(e *env, c jwt.MapClaims) string { return e.prov.Sign(e.prov.Key("ES256"), c) }},
		"HS256 with the client secret": {sign: func(e *env, c jwt.MapClaims) string { return e.prov.SignHS256(c) }},
	} {
		t.Run(name, func(t *testing.T) {
			e := newEnv(t)
			idt := tc.sign(e, e.prov.Claims("auth0|alice", "alice@example.com"))
			resp, err := e.token(TokenRequest{Code: idt})
			wantErr(t, err, nil)
			if resp.ExpiresAt-resp.IssuedAt != 3600 || resp.IssuedAt != e.clock.Now().Unix() {
				t.Errorf("iat/exp = %d/%d, want now and now+1h", resp.IssuedAt, resp.ExpiresAt)
			}
			// Our token: HS256 with the signing key, carrying sub, email, roles, jti, iat, exp.
			var c ourClaims
			if _, err := jwt.ParseWithClaims(resp.Token, &c, func(*jwt.Token) (any, error) { return []byte(testSigningKey), nil },
				jwt.WithValidMethods([]string{"HS256"}), jwt.WithTimeFunc(e.clock.Now)); err != nil {
				t.Fatalf("our token does not verify with the signing key: %v", err)
			}
			if c.Email != "alice@example.com" || c.ID == "" || !reflect.DeepEqual(c.Roles, []string{"external"}) {
				t.Errorf("claims = %+v", c)
			}
			p, err := e.authenticate(resp.Token)
			wantErr(t, err, nil)
			if p.Kind != User || !p.Issued || p.Name != "alice@example.com" || p.UserID != c.Subject || p.TokenID != c.ID ||
				p.Subject != "auth0|alice" || !reflect.DeepEqual(p.Roles, []string{"external"}) {
				t.Errorf("principal = %+v", p)
			}
			doc := e.userDoc(p.UserID)
			want := map[string]any{"email": "alice@example.com", "displayname": "Name of alice@example.com",
				"image": "https://img.example/auth0|alice.png", "user_id": "auth0|alice", "roles": []any{"external"}, "active": true}
			for k, v := range want {
				if !reflect.DeepEqual(doc[k], v) {
					t.Errorf("user doc %s = %#v, want %#v", k, doc[k], v)
				}
			}
		})
	}
}

func TestLaterLoginsUpdateProfileOnlyAndRolesApplyAtOnce(t *testing.T) {
	e := newEnv(t)
	first := e.login("auth0|bob", "bob@example.com")
	p, err := e.authenticate(first.Token)
	wantErr(t, err, nil)
	// An admin changes roles with the full key; the token already issued sees it at once.
	if _, err := e.st.Update(UsersCollection, p.UserID, store.AnyVersion, APIUser, func(d store.Doc) error {
		d["roles"] = []any{"editor", "external"}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	p, err = e.authenticate(first.Token)
	wantErr(t, err, nil)
	if !reflect.DeepEqual(p.Roles, []string{"editor", "external"}) {
		t.Errorf("roles after change = %v", p.Roles)
	}
	c := e.prov.Claims("auth0|bob", "bob@example.com")
	c["name"], c["picture"] = "Bobby", "https://img.example/new.png"
	if _, err := e.token(TokenRequest{Code: e.prov.Sign(e.prov.Key("ES256"), c)}); err != nil {
		t.Fatal(err)
	}
	doc := e.userDoc(p.UserID)
	if doc["displayname"] != "Bobby" || doc["image"] != "https://img.example/new.png" || !reflect.DeepEqual(doc["roles"], []any{"editor", "external"}) {
		t.Errorf("user doc after second login = %v", doc)
	}
	n := 0
	_ = e.st.Scan(UsersCollection, func(store.Doc) bool { n++; return true })
	if n != 1 {
		t.Errorf("users = %d, want 1", n)
	}
}

func TestLoginLinksUserCreatedByAPIKeyByEmail(t *testing.T) {
	e := newEnv(t)
	docs, err := e.st.Insert(UsersCollection, []store.Doc{{"email": "Carol@Example.com", "roles": []any{"admin"}}}, APIUser)
	if err != nil {
		t.Fatal(err)
	}
	resp := e.login("auth0|carol", "carol@example.com")
	p, err := e.authenticate(resp.Token)
	wantErr(t, err, nil)
	if p.UserID != docs[0]["_id"] || !reflect.DeepEqual(p.Roles, []string{"admin"}) {
		t.Errorf("principal = %+v, want linked to %v with roles [admin]", p, docs[0]["_id"])
	}
	if got := e.userDoc(p.UserID)["user_id"]; got != "auth0|carol" {
		t.Errorf("user_id = %v", got)
	}
	// Another identity at the provider with the same email cannot take the account over.
	_, err = e.token(TokenRequest{Code: e.prov.Sign(e.prov.Key("RS256"), e.prov.Claims("google|carol", "carol@example.com"))})
	wantErr(t, err, ErrForbidden)
}

func TestUnverifiedEmailIsNotTrusted(t *testing.T) {
	e := newEnv(t)
	if _, err := e.st.Insert(UsersCollection, []store.Doc{{"email": "dave@example.com", "roles": []any{"admin"}}}, APIUser); err != nil {
		t.Fatal(err)
	}
	c := e.prov.Claims("auth0|mallory", "dave@example.com")
	c["email_verified"] = false
	resp, err := e.token(TokenRequest{Code: e.prov.Sign(e.prov.Key("RS256"), c)})
	wantErr(t, err, nil)
	p, err := e.authenticate(resp.Token)
	wantErr(t, err, nil)
	if p.Name != "auth0|mallory" || p.Email != "" || !reflect.DeepEqual(p.Roles, []string{"external"}) {
		t.Errorf("principal = %+v, want a new user named by sub", p)
	}
}

func TestLoginWithAuthorizationCode(t *testing.T) {
	e := newEnv(t)
	idt := e.prov.Sign(e.prov.Key("RS256"), e.prov.Claims("auth0|erin", "erin@example.com"))
	e.secret(idt)
	code := e.prov.IssueCode(idt, "https://app.example/callback")
	resp, err := e.token(TokenRequest{Code: code, RedirectURI: "https://app.example/callback"})
	wantErr(t, err, nil)
	p, err := e.authenticate(resp.Token)
	wantErr(t, err, nil)
	if p.Email != "erin@example.com" {
		t.Errorf("principal = %+v", p)
	}
	// Codes are single-use, and a code with the wrong redirect_uri is refused: both 401.
	_, err = e.token(TokenRequest{Code: code, RedirectURI: "https://app.example/callback"})
	wantErr(t, err, ErrUnauthorized)
	code2 := e.prov.IssueCode(idt, "https://app.example/callback")
	_, err = e.token(TokenRequest{Code: code2, RedirectURI: "https://evil.example/"})
	wantErr(t, err, ErrUnauthorized)
	// A wrong client secret is our misconfiguration: 502, not the client's 401.
	e.setConfig(func(c *settings.Config) { c.ClientSecret = "wrong-secret-123" })
	_, err = e.token(TokenRequest{Code: e.prov.IssueCode(idt, ""), RedirectURI: ""})
	wantErr(t, err, ErrBadGateway)
	// The ID token the provider returns is verified like any other.
	e.setConfig(func(c *settings.Config) { c.ClientSecret = testClientSecret })
	bad := e.prov.Sign(e.prov.Key("RS256"), withClaims(e.prov.Claims("auth0|erin", "erin@example.com"), func(c jwt.MapClaims) { c["aud"] = "other" }))
	_, err = e.token(TokenRequest{Code: e.prov.IssueCode(bad, "")})
	wantErr(t, err, ErrUnauthorized)
	if n := e.prov.Hits("/oauth/token"); n != 5 {
		t.Errorf("token endpoint hits = %d, want 5", n)
	}
}

func TestIDTokenAsBearer(t *testing.T) {
	e := newEnv(t)
	idt := e.prov.Sign(e.prov.Key("ES256"), e.prov.Claims("auth0|fay", "fay@example.com"))
	p, err := e.authenticate(idt)
	wantErr(t, err, nil)
	if p.Issued || p.Name != "fay@example.com" || p.UserID == "" || p.TokenID != tokenDigest(idt) {
		t.Errorf("principal = %+v", p)
	}
	// Seen again: same user, no second document.
	p2, err := e.authenticate(idt)
	wantErr(t, err, nil)
	if p2.UserID != p.UserID {
		t.Errorf("second use made user %s, first %s", p2.UserID, p.UserID)
	}
}

func TestRefresh(t *testing.T) {
	e := newEnv(t)
	old := e.login("auth0|gus", "gus@example.com")
	e.clock.Advance(10 * time.Minute)
	fresh, err := e.token(TokenRequest{Refresh: old.Token})
	wantErr(t, err, nil)
	if fresh.IssuedAt != e.clock.Now().Unix() || fresh.Token == old.Token {
		t.Errorf("refresh answer = %+v", fresh)
	}
	if _, err := e.authenticate(fresh.Token); err != nil {
		t.Errorf("new token refused: %v", err)
	}
	_, err = e.authenticate(old.Token)
	wantErr(t, err, ErrUnauthorized)
	_, err = e.token(TokenRequest{Refresh: old.Token})
	wantErr(t, err, ErrUnauthorized)
	// Only our tokens refresh; an ID token or garbage is 401.
	_, err = e.token(TokenRequest{Refresh: e.prov.Sign(e.prov.Key("RS256"), e.prov.Claims("auth0|gus", "gus@example.com"))})
	wantErr(t, err, ErrUnauthorized)
	_, err = e.token(TokenRequest{Refresh: "not-a-token"})
	wantErr(t, err, ErrUnauthorized)
	_, err = e.token(TokenRequest{})
	wantErr(t, err, ErrBadRequest)
	_, err = e.token(TokenRequest{Code: "x", Refresh: fresh.Token})
	wantErr(t, err, ErrBadRequest)
}

func TestLogoutRevokesUntilExpiryAcrossRestart(t *testing.T) {
	e := newEnv(t)
	ours := e.login("auth0|hal", "hal@example.com")
	idt := e.prov.Sign(e.prov.Key("RS256"), e.prov.Claims("auth0|hal", "hal@example.com"))
	for _, tok := range []string{ours.Token, idt} {
		p, err := e.authenticate(tok)
		wantErr(t, err, nil)
		wantErr(t, e.svc.Logout(context.Background(), p), nil)
		_, err = e.authenticate(tok)
		wantErr(t, err, ErrUnauthorized)
	}
	// A logged-out ID token cannot be exchanged either.
	_, err := e.token(TokenRequest{Code: idt})
	wantErr(t, err, ErrUnauthorized)

	e.reopen()
	for _, tok := range []string{ours.Token, idt} {
		_, err := e.authenticate(tok)
		wantErr(t, err, ErrUnauthorized)
	}
	e.clock.Advance(time.Second) // a new ID token (the old one, byte for byte, stays revoked)
	other := e.login("auth0|hal", "hal@example.com")
	if _, err := e.authenticate(other.Token); err != nil {
		t.Errorf("a new token after logout is refused: %v", err)
	}

	// Once the tokens have expired (plus skew), pruning drops their revocations.
	countRevocations := func() int {
		n := 0
		_ = e.st.ScanMeta(RevocationsBucket, func(string, []byte) bool { n++; return true })
		return n
	}
	if n := countRevocations(); n != 2 {
		t.Fatalf("revocations = %d, want 2", n)
	}
	e.clock.Advance(time.Hour + ClockSkew + time.Second)
	if err := e.svc.opts.Revocations.Prune(e.clock.Now()); err != nil {
		t.Fatal(err)
	}
	if n := countRevocations(); n != 0 {
		t.Errorf("revocations after prune = %d, want 0", n)
	}
}

func TestUserInfoAndKeysOnUserEndpoints(t *testing.T) {
	e := newEnv(t)
	resp := e.login("auth0|ivy", "ivy@example.com")
	p, err := e.authenticate(resp.Token)
	wantErr(t, err, nil)
	info, err := e.svc.UserInfo(context.Background(), p)
	wantErr(t, err, nil)
	want := map[string]any{"_id": p.UserID, "email": "ivy@example.com", "displayname": "Name of ivy@example.com",
		"image": "https://img.example/auth0|ivy.png", "roles": []string{"external"}}
	if !reflect.DeepEqual(info, want) {
		t.Errorf("userinfo = %v, want %v", info, want)
	}
	for _, key := range []*Principal{{Kind: FullKey, Name: APIUser}, {Kind: WebKey, Name: APIUser}, nil} {
		_, err := e.svc.UserInfo(context.Background(), key)
		wantErr(t, err, ErrBadRequest)
		wantErr(t, e.svc.Logout(context.Background(), key), ErrBadRequest)
	}
}

func TestDeactivatedUserIsForbidden(t *testing.T) {
	e := newEnv(t)
	resp := e.login("auth0|jo", "jo@example.com")
	idt := e.prov.Sign(e.prov.Key("RS256"), e.prov.Claims("auth0|jo", "jo@example.com"))
	p, err := e.authenticate(resp.Token)
	wantErr(t, err, nil)
	if _, err := e.st.Update(UsersCollection, p.UserID, store.AnyVersion, APIUser, func(d store.Doc) error {
		d["active"] = false
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	_, err = e.authenticate(resp.Token)
	wantErr(t, err, ErrForbidden)
	_, err = e.authenticate(idt)
	wantErr(t, err, ErrForbidden)
	_, err = e.token(TokenRequest{Code: idt})
	wantErr(t, err, ErrForbidden)
	_, err = e.token(TokenRequest{Refresh: resp.Token})
	wantErr(t, err, ErrForbidden)
}

func TestSettingsChangesApplyWithoutRestart(t *testing.T) {
	e := newEnv(t)
	resp := e.login("auth0|kim", "kim@example.com")

	// A new signing key: old tokens stop verifying, new ones use it.
	e.setConfig(func(c *settings.Config) { c.SigningKey = "rotated-signing-key-5566" })
	e.secret("rotated-signing-key-5566")
	_, err := e.authenticate(resp.Token)
	wantErr(t, err, ErrUnauthorized)
	resp2 := e.login("auth0|kim", "kim@example.com")
	_, err = e.authenticate(resp2.Token)
	wantErr(t, err, nil)

	// A new client secret: HS256 ID tokens follow it.
	hs := e.prov.SignHS256(e.prov.Claims("auth0|kim", "kim@example.com"))
	e.setConfig(func(c *settings.Config) { c.ClientSecret = "rotated-client-secret-7788" })
	e.secret("rotated-client-secret-7788")
	_, err = e.authenticate(hs)
	wantErr(t, err, ErrUnauthorized)

	// A new tokenTTL applies to the next token.
	e.setConfig(func(c *settings.Config) { c.Settings.Auth.TokenTTL = "15m" })
	if r := e.login("auth0|kim", "kim@example.com"); r.ExpiresAt-r.IssuedAt != 900 {
		t.Errorf("ttl = %d, want 900", r.ExpiresAt-r.IssuedAt)
	}

	// Auth switched off: every token is refused.
	e.setConfig(func(c *settings.Config) { c.Settings.Auth.Enabled = false })
	_, err = e.authenticate(resp2.Token)
	wantErr(t, err, ErrUnauthorized)
}

func TestIssuerChangeUsesTheNewProvider(t *testing.T) {
	e := newEnv(t)
	first := e.prov
	if _, err := e.authenticate(first.Sign(first.Key("RS256"), first.Claims("auth0|lu", "lu@example.com"))); err != nil {
		t.Fatal(err)
	}
	second := oidctest.New(t, testClientID, testClientSecret) // other keys
	second.SetClock(e.clock.Now)
	e.setConfig(func(c *settings.Config) { c.Settings.Auth.Auth0.Issuer = second.Issuer })
	_, err := e.authenticate(second.Sign(second.Key("ES256"), second.Claims("auth0|lu", "lu@example.com")))
	wantErr(t, err, nil)
	_, err = e.authenticate(first.Sign(first.Key("RS256"), first.Claims("auth0|lu", "lu@example.com")))
	wantErr(t, err, ErrUnauthorized)
	if second.Hits("/.well-known/openid-configuration") != 1 {
		t.Errorf("the new issuer's discovery was not used")
	}
}

func TestATokenRefreshesOnceEvenWhenSentTwiceAtOnce(t *testing.T) {
	e := newEnv(t)
	old := e.login("auth0|pat", "pat@example.com")
	const n = 8
	errs := make(chan error, n)
	for i := 0; i < n; i++ {
		go func() {
			_, err := e.svc.Token(context.Background(), TokenRequest{Refresh: old.Token})
			errs <- err
		}()
	}
	ok := 0
	for i := 0; i < n; i++ {
		if err := <-errs; err == nil {
			ok++
		} else if !errors.Is(err, ErrUnauthorized) {
			t.Errorf("unexpected error: %v", err)
		}
	}
	if ok != 1 {
		t.Errorf("%d refreshes succeeded, want exactly 1", ok)
	}
}

func TestLoginNamesTheProvidersAuthorizationEndpoint(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	// A provider that cannot be reached is 503/502, not a sign-in link that leads nowhere.
	e.prov.SetStatus(500)
	if _, _, err := e.svc.Login(ctx); !errors.Is(err, ErrUnavailable) && !errors.Is(err, ErrBadGateway) {
		t.Errorf("provider down: %v, want ErrUnavailable or ErrBadGateway", err)
	}
	e.prov.SetStatus(0)
	e.clock.Advance(MinJWKSRefresh + time.Second)
	endpoint, clientID, err := e.svc.Login(ctx)
	wantErr(t, err, nil)
	if endpoint != strings.TrimSuffix(e.prov.Issuer, "/")+oidctest.AuthorizePath {
		t.Errorf("authorization endpoint = %q, want the provider's %s", endpoint, oidctest.AuthorizePath)
	}
	if clientID != testClientID {
		t.Errorf("client ID = %q", clientID)
	}
	// Without external users there is nothing to sign in to.
	e.setConfig(func(c *settings.Config) { c.Settings.Auth.Enabled = false })
	_, _, err = e.svc.Login(ctx)
	wantErr(t, err, ErrUnauthorized)
}

func TestLoginWithAuthorizationCodeAndPKCE(t *testing.T) {
	e := newEnv(t)
	idt := e.prov.Sign(e.prov.Key("RS256"), e.prov.Claims("auth0|erin", "erin@example.com"))
	e.secret(idt)
	verifier := strings.Repeat("v3rifier-", 5) // 45 unreserved characters
	sum := sha256.Sum256([]byte(verifier))
	challenge := base64.RawURLEncoding.EncodeToString(sum[:])
	const cb = "https://app.example/console/"

	// The verifier is passed on to the provider, which checks it against the challenge.
	_, err := e.token(TokenRequest{Code: e.prov.IssueCodePKCE(idt, cb, challenge), RedirectURI: cb, CodeVerifier: strings.Repeat("wrong-one", 5)})
	wantErr(t, err, ErrUnauthorized)
	_, err = e.token(TokenRequest{Code: e.prov.IssueCodePKCE(idt, cb, challenge), RedirectURI: cb})
	wantErr(t, err, ErrUnauthorized)
	resp, err := e.token(TokenRequest{Code: e.prov.IssueCodePKCE(idt, cb, challenge), RedirectURI: cb, CodeVerifier: verifier})
	wantErr(t, err, nil)
	if p, err := e.authenticate(resp.Token); err != nil || p.Email != "erin@example.com" {
		t.Errorf("principal = %+v, %v", p, err)
	}
	// A malformed verifier is refused before the provider is called.
	hits := e.prov.Hits("/oauth/token")
	for _, bad := range []string{"short", strings.Repeat("a", 129), strings.Repeat("a", 42) + " ", strings.Repeat("é", 30)} {
		_, err = e.token(TokenRequest{Code: "some-code", RedirectURI: cb, CodeVerifier: bad})
		wantErr(t, err, ErrBadRequest)
	}
	if e.prov.Hits("/oauth/token") != hits {
		t.Error("a malformed verifier reached the provider")
	}
}
