package auth

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/MicahParks/jwkset"
	"github.com/MicahParks/keyfunc/v3"
	"github.com/golang-jwt/jwt/v5"
)

// maxProviderBody bounds what we read from the provider (discovery, JWKS, token answers).
const maxProviderBody = 1 << 20

// discovery is the part of an OIDC discovery document we use.
type discovery struct {
	Issuer                string `json:"issuer"`
	JWKSURI               string `json:"jwks_uri"`
	TokenEndpoint         string `json:"token_endpoint"`
	AuthorizationEndpoint string `json:"authorization_endpoint"`
}

// keySet is one fetched JWKS, parsed by jwkset and served through keyfunc.
type keySet struct {
	kf  keyfunc.Keyfunc
	gen uint64 // increases with every successful fetch
}

// provider caches the discovery document and JWKS of one issuer.
//
// We fetch and parse with our own client rather than jwkset's HTTP storage so that every
// fetch runs under the request's deadline, the 5 s refetch limit follows the injected clock,
// and a provider that is down shows as ErrUnavailable instead of an unknown kid (401).
type provider struct {
	issuer string
	client *http.Client
	now    func() time.Time
	logger *slog.Logger

	// fetching is a one-slot semaphore: one fetch at a time, waiters give up with their context.
	fetching chan struct{}

	mu        sync.Mutex
	meta      *discovery
	keys      *keySet
	fetchedAt time.Time // of the last successful fetch
	triedAt   time.Time // of the last attempt, successful or not
	lastErr   error     // of the last attempt
}

func newProvider(issuer string, client *http.Client, now func() time.Time, logger *slog.Logger) *provider {
	return &provider{issuer: issuer, client: client, now: now, logger: logger, fetching: make(chan struct{}, 1)}
}

func (p *provider) snapshot() (*discovery, *keySet, time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.meta, p.keys, p.fetchedAt
}

// current returns the cached keys, fetching them first when there are none or they are older
// than keysMaxAge. Stale keys are used when a routine refetch fails, as the provider's keys
// rarely change and a brief outage should not lock users out.
func (p *provider) current(ctx context.Context) (*discovery, *keySet, error) {
	meta, keys, at := p.snapshot()
	if keys != nil && p.now().Sub(at) < keysMaxAge {
		return meta, keys, nil
	}
	var gen uint64
	if keys != nil {
		gen = keys.gen
	}
	nmeta, nkeys, err := p.refresh(ctx, gen)
	if err != nil {
		if keys != nil {
			p.logger.Warn("using stale identity provider keys", "issuer", p.issuer, "error", err)
			return meta, keys, nil
		}
		return nil, nil, err
	}
	return nmeta, nkeys, nil
}

// refresh fetches discovery and JWKS unless someone else did since the caller saw generation
// seen, and at most once per MinJWKSRefresh. When the limit forbids a fetch it returns the
// cached keys (or, with none, the last failure) without calling the provider.
func (p *provider) refresh(ctx context.Context, seen uint64) (*discovery, *keySet, error) {
	select {
	case p.fetching <- struct{}{}:
		defer func() { <-p.fetching }()
	case <-ctx.Done():
		return nil, nil, fmt.Errorf("%w: timed out waiting for the identity provider", ErrUnavailable)
	}
	p.mu.Lock()
	meta, keys, tried, lastErr := p.meta, p.keys, p.triedAt, p.lastErr
	p.mu.Unlock()
	if keys != nil && keys.gen != seen {
		return meta, keys, nil // fetched while we waited
	}
	if !tried.IsZero() && p.now().Sub(tried) < MinJWKSRefresh {
		if keys != nil {
			return meta, keys, nil
		}
		return nil, nil, lastErr
	}
	nmeta, nkf, err := p.fetch(ctx)
	p.mu.Lock()
	defer p.mu.Unlock()
	p.triedAt = p.now()
	p.lastErr = err
	if err != nil {
		p.logger.Warn("fetching identity provider keys failed", "issuer", p.issuer, "error", err)
		return nil, nil, err
	}
	var gen uint64 = 1
	if p.keys != nil {
		gen = p.keys.gen + 1
	}
	p.meta, p.keys, p.fetchedAt = nmeta, &keySet{kf: nkf, gen: gen}, p.triedAt
	return p.meta, p.keys, nil
}

// fetch reads the discovery document, then the JWKS it names.
func (p *provider) fetch(ctx context.Context) (*discovery, keyfunc.Keyfunc, error) {
	u := strings.TrimSuffix(p.issuer, "/") + "/.well-known/openid-configuration"
	var meta discovery
	if err := p.getJSON(ctx, u, &meta); err != nil {
		return nil, nil, fmt.Errorf("OIDC discovery: %w", err)
	}
	// OpenID Connect Discovery 1.0 section 4.3: the announced issuer must be the one we asked.
	if meta.Issuer != p.issuer {
		return nil, nil, fmt.Errorf("%w: OIDC discovery announces issuer %q, expected %q", ErrBadGateway, meta.Issuer, p.issuer)
	}
	if !absoluteHTTPURL(meta.JWKSURI) {
		return nil, nil, fmt.Errorf("%w: OIDC discovery has no valid jwks_uri", ErrBadGateway)
	}
	var raw struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := p.getJSON(ctx, meta.JWKSURI, &raw); err != nil {
		return nil, nil, fmt.Errorf("JWKS: %w", err)
	}
	// Keys are parsed one by one so that a key of a type we do not know (the provider may
	// publish encryption keys too) does not discard the whole set.
	store := jwkset.NewMemoryStorage()
	usable := 0
	for _, k := range raw.Keys {
		jwk, err := jwkset.NewJWKFromRawJSON(k, jwkset.JWKMarshalOptions{}, jwkset.JWKValidateOptions{})
		if err != nil {
			p.logger.Debug("skipping a JWKS key that does not parse", "issuer", p.issuer, "error", err)
			continue
		}
		m := jwk.Marshal()
		if m.USE == jwkset.UseEnc || m.KID == "" {
			continue
		}
		if err := store.KeyWrite(ctx, jwk); err != nil {
			return nil, nil, fmt.Errorf("storing a JWKS key: %w", err)
		}
		usable++
	}
	if usable == 0 && len(raw.Keys) > 0 {
		return nil, nil, fmt.Errorf("%w: the JWKS holds no usable signing key", ErrBadGateway)
	}
	kf, err := keyfunc.New(keyfunc.Options{Ctx: context.Background(), Storage: store})
	if err != nil {
		return nil, nil, fmt.Errorf("building the key function: %w", err)
	}
	return &meta, kf, nil
}

// getJSON GETs u and decodes a JSON answer into v, mapping transport failures to
// ErrUnavailable and bad answers to ErrBadGateway.
func (p *provider) getJSON(ctx context.Context, u string, v any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return fmt.Errorf("%w: bad provider URL", ErrBadGateway)
	}
	req.Header.Set("Accept", "application/json")
	resp, err := p.client.Do(req)
	if err != nil {
		return p.transportError(err)
	}
	defer func() { _ = resp.Body.Close() }()
	if resp.StatusCode != http.StatusOK {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxProviderBody))
		if resp.StatusCode == http.StatusServiceUnavailable || resp.StatusCode == http.StatusTooManyRequests {
			return fmt.Errorf("%w: %s answered %d", ErrUnavailable, u, resp.StatusCode)
		}
		return fmt.Errorf("%w: %s answered %d", ErrBadGateway, u, resp.StatusCode)
	}
	if err := decodeJSON(resp, v); err != nil {
		return fmt.Errorf("%w: %s: %w", ErrBadGateway, u, err)
	}
	return nil
}

// transportError maps a failed request (refused, reset, timed out) to ErrUnavailable. The
// detail (URL and network error, never a body) goes to the log; clients get a plain message,
// as addresses of the network the provider is reached through are none of their business.
func (p *provider) transportError(err error) error {
	p.logger.Warn("identity provider request failed", "issuer", p.issuer, "error", err)
	if errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("%w: the identity provider did not answer in time", ErrUnavailable)
	}
	return fmt.Errorf("%w: the identity provider cannot be reached", ErrUnavailable)
}

func decodeJSON(resp *http.Response, v any) error {
	if ct := resp.Header.Get("Content-Type"); ct != "" {
		if mt, _, err := mime.ParseMediaType(ct); err != nil || (mt != "application/json" && !strings.HasSuffix(mt, "+json")) {
			return fmt.Errorf("content type %q is not JSON", ct)
		}
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxProviderBody+1))
	if err != nil {
		return fmt.Errorf("reading the answer: %w", err)
	}
	if len(body) > maxProviderBody {
		return errors.New("answer too large")
	}
	if err := json.Unmarshal(body, v); err != nil {
		return errors.New("answer is not valid JSON")
	}
	return nil
}

func absoluteHTTPURL(s string) bool {
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "https" || u.Scheme == "http") && u.Host != ""
}

// verificationKey is the jwt.Keyfunc part for RS256 and ES256: the JWKS key the token's kid
// names, refetching the JWKS once (rate-limited) when the kid is unknown. The key type must
// fit the algorithm, so a key published for one use cannot verify another.
func (p *provider) verificationKey(ctx context.Context, t *jwt.Token) (any, error) {
	_, keys, err := p.current(ctx)
	if err != nil {
		return nil, err
	}
	key, err := lookupKey(ctx, keys, t)
	if errors.Is(err, jwkset.ErrKeyNotFound) {
		// Maybe the provider rotated its keys: refetch, unless we did within MinJWKSRefresh.
		_, fresh, rerr := p.refresh(ctx, keys.gen)
		if rerr != nil {
			return nil, rerr
		}
		if fresh.gen != keys.gen {
			key, err = lookupKey(ctx, fresh, t)
		}
	}
	if err != nil {
		if errors.Is(err, jwkset.ErrKeyNotFound) {
			return nil, fmt.Errorf("%w: the token's signing key is not in the provider's JWKS", ErrUnauthorized)
		}
		return nil, fmt.Errorf("%w: no usable key for the token: %w", ErrUnauthorized, err)
	}
	return key, nil
}

// lookupKey runs keyfunc (which checks the JWK's alg against the token's) and then checks
// that the key's type and size fit the token's algorithm.
func lookupKey(ctx context.Context, keys *keySet, t *jwt.Token) (any, error) {
	if _, ok := t.Header["kid"].(string); !ok {
		// Without a kid, keyfunc would offer every key; we insist on one, as Auth0 always sends it.
		return nil, fmt.Errorf("%w: token has no kid", jwkset.ErrKeyNotFound)
	}
	key, err := keys.kf.KeyfuncCtx(ctx)(t)
	if err != nil {
		return nil, err
	}
	switch t.Method.Alg() {
	case "RS256":
		k, ok := key.(*rsa.PublicKey)
		if !ok || k.N.BitLen() < 2048 {
			return nil, errors.New("RS256 needs an RSA key of at least 2048 bits")
		}
	case "ES256":
		k, ok := key.(*ecdsa.PublicKey)
		if !ok || k.Curve != elliptic.P256() {
			return nil, errors.New("ES256 needs a P-256 key")
		}
	default:
		return nil, fmt.Errorf("algorithm %s is not accepted", t.Method.Alg())
	}
	return key, nil
}

// tokenEndpoint returns the provider's token endpoint from discovery.
func (p *provider) tokenEndpoint(ctx context.Context) (string, error) {
	meta, _, err := p.current(ctx)
	if err != nil {
		return "", err
	}
	if !absoluteHTTPURL(meta.TokenEndpoint) {
		return "", fmt.Errorf("%w: OIDC discovery has no valid token_endpoint", ErrBadGateway)
	}
	return meta.TokenEndpoint, nil
}

// authorizationEndpoint returns the provider's authorization endpoint from discovery.
func (p *provider) authorizationEndpoint(ctx context.Context) (string, error) {
	meta, _, err := p.current(ctx)
	if err != nil {
		return "", err
	}
	if !absoluteHTTPURL(meta.AuthorizationEndpoint) {
		return "", fmt.Errorf("%w: OIDC discovery has no valid authorization_endpoint", ErrBadGateway)
	}
	return meta.AuthorizationEndpoint, nil
}

// exchangeCode trades an authorization code for an ID token at the token endpoint
// (RFC 6749 section 4.1.3, client_secret_post as Auth0 expects), with the PKCE code_verifier
// (RFC 7636) when the browser that started the login sent one.
func (p *provider) exchangeCode(ctx context.Context, clientID, clientSecret, code, redirectURI, verifier string) (string, error) {
	endpoint, err := p.tokenEndpoint(ctx)
	if err != nil {
		return "", err
	}
	form := url.Values{
		"grant_type":    {"authorization_code"},
		"code":          {code},
		"client_id":     {clientID},
		"client_secret": {clientSecret},
	}
	if redirectURI != "" {
		form.Set("redirect_uri", redirectURI)
	}
	if verifier != "" {
		form.Set("code_verifier", verifier)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, strings.NewReader(form.Encode()))
	if err != nil {
		return "", fmt.Errorf("%w: bad token endpoint", ErrBadGateway)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	resp, err := p.client.Do(req)
	if err != nil {
		return "", p.transportError(err)
	}
	defer func() { _ = resp.Body.Close() }()
	var answer struct {
		IDToken string `json:"id_token"`
		Error   string `json:"error"`
	}
	derr := decodeJSON(resp, &answer)
	switch {
	case resp.StatusCode == http.StatusOK && derr == nil && answer.IDToken != "":
		return answer.IDToken, nil
	case resp.StatusCode == http.StatusOK:
		return "", fmt.Errorf("%w: the token endpoint answered without an id_token", ErrBadGateway)
	case (resp.StatusCode == http.StatusBadRequest || resp.StatusCode == http.StatusForbidden) && answer.Error == "invalid_grant":
		// The client's code is wrong, used or expired: the client's fault, not ours.
		return "", fmt.Errorf("%w: the authorization code was refused by the identity provider", ErrUnauthorized)
	case resp.StatusCode == http.StatusServiceUnavailable || resp.StatusCode == http.StatusTooManyRequests:
		return "", fmt.Errorf("%w: the token endpoint answered %d", ErrUnavailable, resp.StatusCode)
	default:
		// invalid_client and the like: our client ID or secret is wrong, a configuration problem.
		return "", fmt.Errorf("%w: the token endpoint answered %d %s", ErrBadGateway, resp.StatusCode, safeOAuthError(answer.Error))
	}
}

// safeOAuthError keeps an OAuth error code only if it looks like one, so provider text never
// reaches clients or logs unchecked.
func safeOAuthError(s string) string {
	if len(s) > 64 {
		return ""
	}
	for _, r := range s {
		if r != '_' && (r < 'a' || r > 'z') {
			return ""
		}
	}
	return s
}
