package oidctest

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/subtle"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"mime"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/MicahParks/jwkset"
	"github.com/golang-jwt/jwt/v5"
)

// Paths the provider serves.
const (
	DiscoveryPath = "/.well-known/openid-configuration"
	JWKSPath      = "/.well-known/jwks.json"
	TokenPath     = "/oauth/token"
)

// Key is one signing key of the provider.
type Key struct {
	// ID is the key's kid.
	ID string
	// Alg is RS256 or ES256.
	Alg string
	// Signer is the private key.
	Signer crypto.Signer
}

// PublicPEM is the key's public half in PEM form, the secret a key-confusion attacker uses
// to sign HS256 tokens.
func (k *Key) PublicPEM() []byte {
	der, err := x509.MarshalPKIXPublicKey(k.Signer.Public())
	if err != nil {
		panic(fmt.Sprintf("oidctest: marshal public key: %v", err))
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
}

type code struct {
	idToken     string
	redirectURI string
	challenge   string    // PKCE S256 code_challenge; "" when none was sent
	public      bool      // issued by /authorize: the client may omit its secret when PKCE is used
	scope       string    // the scope granted
	expires     time.Time // zero: never (codes of IssueCode)
}

// Provider is a running local OIDC provider. All methods are safe for concurrent use.
type Provider struct {
	// Server is the underlying loopback server.
	Server *httptest.Server
	// Issuer is the provider's issuer URL (the server URL with a trailing slash, as Auth0 has it).
	Issuer string
	// ClientID and ClientSecret are the one client the provider knows.
	ClientID, ClientSecret string

	mu        sync.Mutex
	now       func() time.Time
	keys      []*Key          // every key ever made, by creation order
	published map[string]bool // kids served in the JWKS
	codes     map[string]code
	hits      map[string]int
	status    int           // when non-zero, every endpoint answers this status
	hang      chan struct{} // when non-nil, endpoints block until it is closed or the request ends
	issuerDoc string        // when non-empty, discovery announces this issuer instead

	// The browser flow (browser.go).
	app      App
	users    []User
	logins   map[string]authRequest // pending login forms by transaction ID
	sessions map[string]session     // login sessions by cookie value
}

// New starts a provider with one RS256 and one ES256 key published, and stops it when the
// test ends. Register a browser app with SetApp before using the browser flow.
func New(t testing.TB, clientID, clientSecret string) *Provider {
	t.Helper()
	p := &Provider{
		ClientID:     clientID,
		ClientSecret: clientSecret,
		now:          time.Now,
		published:    map[string]bool{},
		codes:        map[string]code{},
		hits:         map[string]int{},
		logins:       map[string]authRequest{},
		sessions:     map[string]session{},
	}
	mux := http.NewServeMux()
	mux.HandleFunc(DiscoveryPath, p.serveDiscovery)
	mux.HandleFunc(JWKSPath, p.serveJWKS)
	mux.HandleFunc(TokenPath, p.serveToken)
	mux.HandleFunc(AuthorizePath, p.serveAuthorize)
	mux.HandleFunc(LoginPath, p.serveLogin)
	mux.HandleFunc(LogoutPath, p.serveLogout)
	mux.HandleFunc(OIDCLogoutPath, p.serveLogout)
	p.Server = httptest.NewServer(p.gate(mux))
	p.Issuer = p.Server.URL + "/"
	p.AddKey("RS256")
	p.AddKey("ES256")
	t.Cleanup(p.Close)
	return p
}

// Close releases hanging requests and stops the server; later requests fail to connect.
func (p *Provider) Close() {
	p.SetHang(false)
	p.Server.CloseClientConnections()
	p.Server.Close()
}

// SetClock makes the provider stamp iat and exp from now (tests that fake the verifier's clock).
func (p *Provider) SetClock(now func() time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.now = now
}

// SetStatus makes every endpoint answer status with a non-JSON body; 0 restores normal answers.
func (p *Provider) SetStatus(status int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.status = status
}

// SetHang makes every endpoint block until the client gives up (or SetHang(false) or Close).
func (p *Provider) SetHang(on bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	switch {
	case on && p.hang == nil:
		p.hang = make(chan struct{})
	case !on && p.hang != nil:
		close(p.hang)
		p.hang = nil
	}
}

// SetDiscoveryIssuer makes discovery announce another issuer (a misconfigured or hostile provider).
func (p *Provider) SetDiscoveryIssuer(iss string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.issuerDoc = iss
}

// Hits is how many requests path has received.
func (p *Provider) Hits(path string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.hits[path]
}

// AddKey makes a new key of alg (RS256 or ES256), publishes it and returns it.
func (p *Provider) AddKey(alg string) *Key {
	var signer crypto.Signer
	var err error
	switch alg {
	case "RS256":
		signer, err = rsa.GenerateKey(rand.Reader, 2048)
	case "ES256":
		signer, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	default:
		panic("oidctest: unsupported key algorithm " + alg)
	}
	if err != nil {
		panic(fmt.Sprintf("oidctest: generate %s key: %v", alg, err))
	}
	k := &Key{ID: randomHex(8), Alg: alg, Signer: signer}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.keys = append(p.keys, k)
	p.published[k.ID] = true
	return k
}

// Key returns the newest published key of alg.
func (p *Provider) Key(alg string) *Key {
	p.mu.Lock()
	defer p.mu.Unlock()
	for i := len(p.keys) - 1; i >= 0; i-- {
		if k := p.keys[i]; k.Alg == alg && p.published[k.ID] {
			return k
		}
	}
	panic("oidctest: no published key for " + alg)
}

// Unpublish removes a key from the JWKS (the end of a rotation).
func (p *Provider) Unpublish(k *Key) {
	p.mu.Lock()
	defer p.mu.Unlock()
	delete(p.published, k.ID)
}

// Rotate publishes a new key of alg and unpublishes the previous ones of that alg.
func (p *Provider) Rotate(alg string) *Key {
	p.mu.Lock()
	for _, k := range p.keys {
		if k.Alg == alg {
			delete(p.published, k.ID)
		}
	}
	p.mu.Unlock()
	return p.AddKey(alg)
}

// Claims returns the claims of a valid ID token for sub: iss, aud, sub, email, name, picture,
// iat and exp (one hour). Tests change or delete entries to build bad tokens.
func (p *Provider) Claims(sub, email string) jwt.MapClaims {
	p.mu.Lock()
	now := p.now()
	p.mu.Unlock()
	c := jwt.MapClaims{
		"iss": p.Issuer,
		"aud": p.ClientID,
		"sub": sub,
		"iat": now.Unix(),
		"exp": now.Add(time.Hour).Unix(),
	}
	if email != "" {
		c["email"] = email
		c["email_verified"] = true
		c["name"] = "Name of " + email
		c["picture"] = "https://img.example/" + sub + ".png"
	}
	return c
}

// Sign signs claims with k (RS256 or ES256), with k's kid in the header.
func (p *Provider) Sign(k *Key, claims jwt.MapClaims) string {
	t := jwt.NewWithClaims(jwt.GetSigningMethod(k.Alg), claims)
	t.Header["kid"] = k.ID
	s, err := t.SignedString(k.Signer)
	if err != nil {
		panic(fmt.Sprintf("oidctest: sign %s: %v", k.Alg, err))
	}
	return s
}

// SignHS256 signs claims with the client secret, as Auth0 does for HS256 clients.
func (p *Provider) SignHS256(claims jwt.MapClaims) string {
	return SignHS256With([]byte(p.ClientSecret), nil, claims)
}

// SignHS256With signs claims HS256 with any secret and extra header fields: the tool of
// key-confusion and forged-token tests.
func SignHS256With(secret []byte, header map[string]any, claims jwt.MapClaims) string {
	t := jwt.NewWithClaims(jwt.SigningMethodHS256, claims)
	for k, v := range header {
		t.Header[k] = v
	}
	s, err := t.SignedString(secret)
	if err != nil {
		panic(fmt.Sprintf("oidctest: sign HS256: %v", err))
	}
	return s
}

// SignNone builds an unsigned token (alg "none"), which no verifier may accept.
func SignNone(claims jwt.MapClaims) string {
	t := jwt.NewWithClaims(jwt.SigningMethodNone, claims)
	s, err := t.SignedString(jwt.UnsafeAllowNoneSignatureType)
	if err != nil {
		panic(fmt.Sprintf("oidctest: sign none: %v", err))
	}
	return s
}

// SignWithKID signs claims with k but announces another kid (a kid the JWKS lacks).
func (p *Provider) SignWithKID(k *Key, kid string, claims jwt.MapClaims) string {
	t := jwt.NewWithClaims(jwt.GetSigningMethod(k.Alg), claims)
	t.Header["kid"] = kid
	s, err := t.SignedString(k.Signer)
	if err != nil {
		panic(fmt.Sprintf("oidctest: sign %s: %v", k.Alg, err))
	}
	return s
}

// IssueCode registers an authorization code that /oauth/token exchanges, once, for idToken.
// A non-empty redirectURI must be repeated in the exchange.
func (p *Provider) IssueCode(idToken, redirectURI string) string {
	return p.IssueCodePKCE(idToken, redirectURI, "")
}

// IssueCodePKCE is IssueCode for a login that sent the PKCE code_challenge (S256): the
// exchange must then send the matching code_verifier.
func (p *Provider) IssueCodePKCE(idToken, redirectURI, challenge string) string {
	c := randomHex(16)
	p.mu.Lock()
	defer p.mu.Unlock()
	p.codes[c] = code{idToken: idToken, redirectURI: redirectURI, challenge: challenge}
	return c
}

// gate counts requests and applies SetStatus and SetHang before the real handlers.
func (p *Provider) gate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p.mu.Lock()
		p.hits[r.URL.Path]++
		status, hang := p.status, p.hang
		p.mu.Unlock()
		if hang != nil {
			select {
			case <-hang:
			case <-r.Context().Done():
				return
			}
		}
		if status != 0 {
			http.Error(w, "provider trouble", status)
			return
		}
		next.ServeHTTP(w, r)
	})
}

func (p *Provider) serveDiscovery(w http.ResponseWriter, r *http.Request) {
	p.mu.Lock()
	iss := p.Issuer
	if p.issuerDoc != "" {
		iss = p.issuerDoc
	}
	p.mu.Unlock()
	base := strings.TrimSuffix(p.Issuer, "/")
	writeJSON(w, http.StatusOK, map[string]any{
		"issuer":                                iss,
		"jwks_uri":                              base + JWKSPath,
		"token_endpoint":                        base + TokenPath,
		"authorization_endpoint":                base + AuthorizePath,
		"end_session_endpoint":                  base + OIDCLogoutPath,
		"id_token_signing_alg_values_supported": []string{"HS256", "RS256", "ES256"},
		"response_types_supported":              []string{"code"},
		"response_modes_supported":              []string{"query", "web_message"},
		"grant_types_supported":                 []string{"authorization_code"},
		"code_challenge_methods_supported":      []string{"S256"},
		"token_endpoint_auth_methods_supported": []string{"client_secret_basic", "client_secret_post", "none"},
		"scopes_supported":                      []string{"openid", "profile", "email"},
		"claims_supported":                      []string{"sub", "iss", "aud", "exp", "iat", "auth_time", "nonce", "name", "nickname", "picture", "email", "email_verified"},
		"subject_types_supported":               []string{"public"},
	})
}

func (p *Provider) serveJWKS(w http.ResponseWriter, r *http.Request) {
	set := jwkset.NewMemoryStorage()
	p.mu.Lock()
	var keys []*Key
	for _, k := range p.keys {
		if p.published[k.ID] {
			keys = append(keys, k)
		}
	}
	p.mu.Unlock()
	for _, k := range keys {
		jwk, err := jwkset.NewJWKFromKey(k.Signer.Public(), jwkset.JWKOptions{
			Metadata: jwkset.JWKMetadataOptions{KID: k.ID, ALG: jwkset.ALG(k.Alg), USE: jwkset.UseSig},
		})
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		if err := set.KeyWrite(r.Context(), jwk); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
	}
	raw, err := set.JSONPublic(r.Context())
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(raw)
}

// serveToken is the authorization-code grant of RFC 6749 section 4.1.3. A confidential client
// authenticates by client_secret_post or client_secret_basic; a public client (a single page
// app) sends only its client_id and proves itself with the PKCE code_verifier of a code that
// /authorize issued with a code_challenge. Bodies may be form or JSON encoded (Auth0 takes
// both; auth0-spa-js sends JSON). Browsers at the app's origins get CORS headers.
func (p *Provider) serveToken(w http.ResponseWriter, r *http.Request) {
	if origin, ok := p.corsOrigin(r); ok {
		w.Header().Set("Access-Control-Allow-Origin", origin)
		w.Header().Add("Vary", "Origin")
		if r.Method == http.MethodOptions {
			w.Header().Set("Access-Control-Allow-Methods", "POST")
			w.Header().Set("Access-Control-Allow-Headers", "content-type, auth0-client, authorization")
			w.Header().Set("Access-Control-Max-Age", "600")
			w.WriteHeader(http.StatusNoContent)
			return
		}
	} else if r.Method == http.MethodOptions {
		writeJSON(w, http.StatusForbidden, map[string]string{"error": "invalid_request", "error_description": "origin not allowed"})
		return
	}
	if r.Method != http.MethodPost {
		writeJSON(w, http.StatusMethodNotAllowed, map[string]string{"error": "invalid_request"})
		return
	}
	form, err := readTokenForm(w, r)
	if err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "invalid_request", "error_description": err.Error()})
		return
	}
	id, secret, basic := r.BasicAuth()
	if !basic {
		id, secret = form.Get("client_id"), form.Get("client_secret")
	}
	hasSecret := basic || form.Has("client_secret")
	if id != p.ClientID || (hasSecret && subtle.ConstantTimeCompare([]byte(secret), []byte(p.ClientSecret)) != 1) {
		writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "invalid_client"})
		return
	}
	if form.Get("grant_type") != "authorization_code" {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "unsupported_grant_type"})
		return
	}
	p.mu.Lock()
	c, ok := p.codes[form.Get("code")]
	delete(p.codes, form.Get("code")) // codes are single-use, also when the exchange fails
	expired := ok && !c.expires.IsZero() && p.now().After(c.expires)
	p.mu.Unlock()
	switch {
	case !ok || expired || (c.redirectURI != "" && c.redirectURI != form.Get("redirect_uri")):
		writeJSON(w, http.StatusForbidden, map[string]string{"error": "invalid_grant", "error_description": "Invalid authorization code"})
		return
	case c.challenge != "" && !verifyPKCE(form.Get("code_verifier"), c.challenge):
		writeJSON(w, http.StatusForbidden, map[string]string{"error": "invalid_grant", "error_description": "Failed to verify code verifier"})
		return
	case !hasSecret && (!c.public || c.challenge == ""):
		// Without PKCE only the secret proves who is exchanging the code.
		writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "invalid_client", "error_description": "client authentication or PKCE is required"})
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	resp := map[string]any{
		"access_token": randomHex(16),
		"id_token":     c.idToken,
		"token_type":   "Bearer",
		"expires_in":   86400,
	}
	if c.scope != "" {
		resp["scope"] = c.scope
	}
	writeJSON(w, http.StatusOK, resp)
}

// readTokenForm reads a token request's parameters from a form or a JSON object of strings.
func readTokenForm(w http.ResponseWriter, r *http.Request) (url.Values, error) {
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBody)
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if mt != "application/json" {
		if err := r.ParseForm(); err != nil {
			return nil, fmt.Errorf("unreadable form: %w", err)
		}
		return r.PostForm, nil
	}
	var m map[string]any
	if err := json.NewDecoder(r.Body).Decode(&m); err != nil {
		return nil, fmt.Errorf("unreadable JSON body: %w", err)
	}
	form := url.Values{}
	for k, v := range m {
		s, ok := v.(string)
		if !ok {
			return nil, fmt.Errorf("parameter %q is not a string", k)
		}
		form.Set(k, s)
	}
	return form, nil
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func randomHex(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return hex.EncodeToString(b)
}
