package auth

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/restkube/restkube/dbserver/auth/oidctest"
)

// TestAttacksAreRefused: every forged, misdirected or stale token is 401 (403 for a deactivated
// user), and the positive controls show the same construction is accepted when sound.
func TestAttacksAreRefused(t *testing.T) {
	const sub, email = "auth0|zed", "zed@example.com"
	rs := func(e *env, change func(jwt.MapClaims)) string {
		return e.prov.Sign(e.prov.Key("RS256"), withClaims(e.prov.Claims(sub, email), change))
	}
	ours := func(e *env, key string, method jwt.SigningMethod, change func(jwt.MapClaims)) string {
		resp := e.login(sub, email)
		var c jwt.MapClaims
		if _, _, err := jwt.NewParser().ParseUnverified(resp.Token, &c); err != nil {
			t.Fatal(err)
		}
		change(c)
		tok := jwt.NewWithClaims(method, c)
		var k any = []byte(key)
		if method == jwt.SigningMethodNone {
			k = jwt.UnsafeAllowNoneSignatureType
		}
		s, err := tok.SignedString(k)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	keep := func(jwt.MapClaims) {}
	now := func(e *env) time.Time { return e.clock.Now() }

	for name, tc := range map[string]struct {
		token func(e *env) string
		want  error
	}{
		"control: a sound RS256 ID token is accepted": {token: func(e *env) string { return rs(e, keep) }},
		"control: exp 30 s ago is within the clock skew": {token: func(e *env) string {
			return rs(e, func(c jwt.MapClaims) { c["exp"] = now(e).Add(-30 * time.Second).Unix() })
		}},
		"control: iat 30 s ahead is within the clock skew": {token: func(e *env) string {
			return rs(e, func(c jwt.MapClaims) { c["iat"] = now(e).Add(30 * time.Second).Unix() })
		}},
		"control: aud as a list holding the clientID": {token: func(e *env) string {
			return rs(e, func(c jwt.MapClaims) { c["aud"] = []string{"https://api.example", testClientID} })
		}},
		"alg none": {want: ErrUnauthorized, token: func(e *env) string {
			return oidctest.SignNone(e.prov.Claims(sub, email))
		}},
		"alg none claiming to be ours": {want: ErrUnauthorized, token: func(e *env) string {
			return ours(e, "", jwt.SigningMethodNone, keep)
		}},
		"HS256 signed with the RSA public key (key confusion)": {want: ErrUnauthorized, token: func(e *env) string {
			k := e.prov.Key("RS256")
			return oidctest.SignHS256With(k.PublicPEM(), map[string]any{"kid": k.ID}, e.prov.Claims(sub, email))
		}},
		"HS256 signed with the EC public key (key confusion)": {want: ErrUnauthorized, token: func(e *env) string {
			k := e.prov.Key("ES256")
			return oidctest.SignHS256With(k.PublicPEM(), map[string]any{"kid": k.ID}, e.prov.Claims(sub, email))
		}},
		"control: HS256 ID token with the client secret": {token: func(e *env) string {
			return oidctest.SignHS256With([]byte(testClientSecret), nil, e.prov.Claims(sub, email))
		}},
		"ID token with a crit header": {want: ErrUnauthorized, token: func(e *env) string {
			return oidctest.SignHS256With([]byte(testClientSecret), map[string]any{"crit": []string{"exp"}}, e.prov.Claims(sub, email))
		}},
		"our token with a crit header": {want: ErrUnauthorized, token: func(e *env) string {
			resp := e.login(sub, email)
			var c jwt.MapClaims
			if _, _, err := jwt.NewParser().ParseUnverified(resp.Token, &c); err != nil {
				t.Fatal(err)
			}
			return oidctest.SignHS256With([]byte(testSigningKey), map[string]any{"crit": []string{"exp"}}, c)
		}},
		"HS256 with a guessed secret": {want: ErrUnauthorized, token: func(e *env) string {
			return oidctest.SignHS256With([]byte("secret"), nil, e.prov.Claims(sub, email))
		}},
		"HS384 with the client secret (algorithm not listed)": {want: ErrUnauthorized, token: func(e *env) string {
			s, _ := jwt.NewWithClaims(jwt.SigningMethodHS384, e.prov.Claims(sub, email)).SignedString([]byte(testClientSecret))
			return s
		}},
		"RS256 header on an ES256 key": {want: ErrUnauthorized, token: func(e *env) string {
			// Signed by the RSA key but naming the EC key's kid: the key type must fit the alg.
			return e.prov.SignWithKID(e.prov.Key("RS256"), e.prov.Key("ES256").ID, e.prov.Claims(sub, email))
		}},
		"wrong iss": {want: ErrUnauthorized, token: func(e *env) string {
			return rs(e, func(c jwt.MapClaims) { c["iss"] = "https://evil.example/" })
		}},
		"iss without the trailing slash": {want: ErrUnauthorized, token: func(e *env) string {
			return rs(e, func(c jwt.MapClaims) { c["iss"] = strings.TrimSuffix(e.prov.Issuer, "/") })
		}},
		"missing iss": {want: ErrUnauthorized, token: func(e *env) string {
			return rs(e, func(c jwt.MapClaims) { delete(c, "iss") })
		}},
		"wrong aud": {want: ErrUnauthorized, token: func(e *env) string {
			return rs(e, func(c jwt.MapClaims) { c["aud"] = "another-client" })
		}},
		"missing aud": {want: ErrUnauthorized, token: func(e *env) string {
			return rs(e, func(c jwt.MapClaims) { delete(c, "aud") })
		}},
		"expired beyond the skew": {want: ErrUnauthorized, token: func(e *env) string {
			return rs(e, func(c jwt.MapClaims) { c["exp"] = now(e).Add(-2 * time.Minute).Unix() })
		}},
		"no exp": {want: ErrUnauthorized, token: func(e *env) string {
			return rs(e, func(c jwt.MapClaims) { delete(c, "exp") })
		}},
		"nbf in the future": {want: ErrUnauthorized, token: func(e *env) string {
			return rs(e, func(c jwt.MapClaims) { c["nbf"] = now(e).Add(2 * time.Minute).Unix() })
		}},
		"iat in the future": {want: ErrUnauthorized, token: func(e *env) string {
			return rs(e, func(c jwt.MapClaims) { c["iat"] = now(e).Add(2 * time.Minute).Unix() })
		}},
		"no sub": {want: ErrUnauthorized, token: func(e *env) string {
			return rs(e, func(c jwt.MapClaims) { delete(c, "sub") })
		}},
		"kid not in the JWKS": {want: ErrUnauthorized, token: func(e *env) string {
			k := e.prov.AddKey("RS256")
			e.prov.Unpublish(k)
			return e.prov.Sign(k, e.prov.Claims(sub, email))
		}},
		"no kid": {want: ErrUnauthorized, token: func(e *env) string {
			return e.prov.SignWithKID(e.prov.Key("RS256"), "", e.prov.Claims(sub, email))
		}},
		"tampered payload": {want: ErrUnauthorized, token: func(e *env) string {
			good := strings.Split(rs(e, keep), ".")
			evil := strings.Split(rs(e, func(c jwt.MapClaims) { c["sub"] = "auth0|admin" }), ".")
			return good[0] + "." + evil[1] + "." + good[2]
		}},
		"garbage":   {want: ErrUnauthorized, token: func(*env) string { return "eyJhbGciOi.not.a-token" }},
		"oversized": {want: ErrUnauthorized, token: func(*env) string { return strings.Repeat("a", MaxTokenBytes+1) }},
		"our token signed with another key": {want: ErrUnauthorized, token: func(e *env) string {
			return ours(e, "not-the-signing-key", jwt.SigningMethodHS256, keep)
		}},
		"our token signed with the client secret": {want: ErrUnauthorized, token: func(e *env) string {
			return ours(e, testClientSecret, jwt.SigningMethodHS256, keep)
		}},
		"our token expired": {want: ErrUnauthorized, token: func(e *env) string {
			return ours(e, testSigningKey, jwt.SigningMethodHS256, func(c jwt.MapClaims) { c["exp"] = now(e).Add(-2 * time.Minute).Unix() })
		}},
		"our token without exp": {want: ErrUnauthorized, token: func(e *env) string {
			return ours(e, testSigningKey, jwt.SigningMethodHS256, func(c jwt.MapClaims) { delete(c, "exp") })
		}},
		"our token without jti": {want: ErrUnauthorized, token: func(e *env) string {
			return ours(e, testSigningKey, jwt.SigningMethodHS256, func(c jwt.MapClaims) { delete(c, "jti") })
		}},
		"our token for a user that does not exist": {want: ErrUnauthorized, token: func(e *env) string {
			return ours(e, testSigningKey, jwt.SigningMethodHS256, func(c jwt.MapClaims) { c["sub"] = "aaaaaaaaaaaaaaaaaaaaaaaa" })
		}},
		"our token after logout": {want: ErrUnauthorized, token: func(e *env) string {
			resp := e.login(sub, email)
			p, err := e.authenticate(resp.Token)
			if err != nil {
				t.Fatal(err)
			}
			if err := e.svc.Logout(context.Background(), p); err != nil {
				t.Fatal(err)
			}
			return resp.Token
		}},
		"our token after refresh": {want: ErrUnauthorized, token: func(e *env) string {
			resp := e.login(sub, email)
			if _, err := e.token(TokenRequest{Refresh: resp.Token}); err != nil {
				t.Fatal(err)
			}
			return resp.Token
		}},
		"deactivated user": {want: ErrForbidden, token: func(e *env) string {
			resp := e.login(sub, email)
			p, err := e.authenticate(resp.Token)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := e.st.Update(UsersCollection, p.UserID, -1, APIUser, func(d map[string]any) error {
				d["active"] = false
				return nil
			}); err != nil {
				t.Fatal(err)
			}
			return resp.Token
		}},
	} {
		t.Run(name, func(t *testing.T) {
			e := newEnv(t)
			tok := tc.token(e)
			p, err := e.authenticate(tok)
			wantErr(t, err, tc.want)
			if tc.want != nil && p != nil {
				t.Errorf("a principal came with the error: %+v", p)
			}
		})
	}
}
