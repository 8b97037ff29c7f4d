package auth

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/golang-jwt/jwt/v5"

	"github.com/restkube/restkube/dbserver/settings"
)

// idClaims are the claims of a provider's ID token that we read.
type idClaims struct {
	jwt.RegisteredClaims
	Email string `json:"email,omitempty"`
	// EmailVerified is a bool at Auth0, a string at some other providers.
	EmailVerified any    `json:"email_verified,omitempty"`
	Name          string `json:"name,omitempty"`
	Picture       string `json:"picture,omitempty"`
}

// verifiedEmail is the email claim unless the provider says it is unverified: an unverified
// email must not link to (or be the _createdby of) anybody's data.
func (c *idClaims) verifiedEmail() string {
	switch v := c.EmailVerified.(type) {
	case bool:
		if !v {
			return ""
		}
	case string:
		if strings.EqualFold(v, "false") {
			return ""
		}
	}
	return strings.TrimSpace(c.Email)
}

// ourClaims are the claims of the tokens the dbserver issues.
type ourClaims struct {
	jwt.RegisteredClaims
	Email string   `json:"email,omitempty"`
	Roles []string `json:"roles"`
}

// Authenticate verifies a Bearer token: one the dbserver issued (HS256 with signing-key, not
// revoked) or an ID token of the configured provider. It loads the user's document on every
// call, so roles and active apply at once. Errors wrap ErrUnauthorized (bad token),
// ErrForbidden (inactive user), ErrUnavailable or ErrBadGateway (provider trouble), or are
// internal (the store failed).
func (s *Service) Authenticate(ctx context.Context, bearer string) (*Principal, error) {
	cfg, err := s.config()
	if err != nil {
		return nil, err
	}
	bearer = strings.TrimSpace(bearer)
	if bearer == "" {
		return nil, fmt.Errorf("%w: empty bearer token", ErrUnauthorized)
	}
	iss, err := peekIssuer(bearer)
	if err != nil {
		return nil, err
	}
	if iss == Issuer {
		c, u, err := s.verifyOurs(ctx, cfg, bearer)
		if err != nil {
			return nil, err
		}
		return userPrincipal(u, c.ID, c.ExpiresAt.Time, true), nil
	}
	c, err := s.verifyIDToken(ctx, cfg, bearer)
	if err != nil {
		return nil, err
	}
	id := tokenDigest(bearer)
	if err := s.checkRevoked(id); err != nil {
		return nil, err
	}
	u, err := s.provision(ctx, cfg, c)
	if err != nil {
		return nil, err
	}
	return userPrincipal(u, id, c.ExpiresAt.Time, false), nil
}

// verifyOurs checks a token the dbserver issued, that it is not revoked, and that its user
// still exists and is active.
func (s *Service) verifyOurs(ctx context.Context, cfg *settings.Config, raw string) (*ourClaims, *UserDoc, error) {
	if len(raw) > MaxTokenBytes {
		return nil, nil, fmt.Errorf("%w: token too large", ErrUnauthorized)
	}
	if cfg.SigningKey == "" {
		return nil, nil, fmt.Errorf("%w: no signing key is configured", ErrUnauthorized)
	}
	if err := refuseCrit(raw); err != nil {
		return nil, nil, err
	}
	parser := jwt.NewParser(
		jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}),
		jwt.WithIssuer(Issuer),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
		jwt.WithLeeway(ClockSkew),
		jwt.WithTimeFunc(s.now),
	)
	var c ourClaims
	if _, err := parser.ParseWithClaims(raw, &c, func(*jwt.Token) (any, error) {
		return []byte(cfg.SigningKey), nil
	}); err != nil {
		return nil, nil, tokenError(err, nil)
	}
	if c.ID == "" || c.Subject == "" {
		return nil, nil, fmt.Errorf("%w: token lacks jti or sub", ErrUnauthorized)
	}
	if err := s.checkRevoked(c.ID); err != nil {
		return nil, nil, err
	}
	u, err := s.opts.Users.ByID(ctx, c.Subject)
	if err != nil {
		return nil, nil, fmt.Errorf("loading the token's user: %w", err)
	}
	if u == nil {
		return nil, nil, fmt.Errorf("%w: the token's user no longer exists", ErrUnauthorized)
	}
	if !u.Active {
		return nil, nil, fmt.Errorf("%w: this user is deactivated", ErrForbidden)
	}
	return &c, u, nil
}

// verifyIDToken checks an ID token of the configured provider: exact issuer, audience holding
// the clientID, exp required, 60 s skew, and a signature by HS256 with the client secret or
// RS256/ES256 with a key of the provider's JWKS. Nothing else is accepted.
func (s *Service) verifyIDToken(ctx context.Context, cfg *settings.Config, raw string) (*idClaims, error) {
	a := cfg.Settings.Auth.Auth0
	issuer := a.IssuerURL()
	if issuer == "" || a.ClientID == "" {
		return nil, fmt.Errorf("%w: no identity provider is configured", ErrUnauthorized)
	}
	if len(raw) > MaxTokenBytes {
		return nil, fmt.Errorf("%w: token too large", ErrUnauthorized)
	}
	if err := refuseCrit(raw); err != nil {
		return nil, err
	}
	// Check the issuer before any key lookup, so tokens of strangers never make us call the provider.
	iss, err := peekIssuer(raw)
	if err != nil {
		return nil, err
	}
	if iss != issuer {
		return nil, fmt.Errorf("%w: token is not from the configured issuer", ErrUnauthorized)
	}
	pctx, cancel := s.providerCtx(ctx)
	defer cancel()
	parser := jwt.NewParser(
		jwt.WithValidMethods([]string{"HS256", "RS256", "ES256"}),
		jwt.WithIssuer(issuer),
		jwt.WithAudience(a.ClientID),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
		jwt.WithLeeway(ClockSkew),
		jwt.WithTimeFunc(s.now),
	)
	var keyErr error
	var c idClaims
	_, err = parser.ParseWithClaims(raw, &c, func(t *jwt.Token) (any, error) {
		var key any
		switch t.Method.Alg() {
		case "HS256":
			// The client secret verifies HS256 only; an RS256/ES256 key never does (key confusion).
			if cfg.ClientSecret == "" {
				keyErr = fmt.Errorf("%w: HS256 ID tokens need the client secret, which is not configured", ErrUnauthorized)
			} else {
				key = []byte(cfg.ClientSecret)
			}
		case "RS256", "ES256":
			key, keyErr = s.provider(issuer).verificationKey(pctx, t)
		default:
			keyErr = fmt.Errorf("%w: algorithm not accepted", ErrUnauthorized)
		}
		return key, keyErr
	})
	if err != nil {
		return nil, tokenError(err, keyErr)
	}
	if c.Subject == "" {
		return nil, fmt.Errorf("%w: token lacks sub", ErrUnauthorized)
	}
	return &c, nil
}

// tokenError turns a jwt error into one of ours with a message safe to show: the key lookup's
// own error when it failed (it may be ErrUnavailable), else a description of what was wrong.
func tokenError(err, keyErr error) error {
	if keyErr != nil && isAuthError(keyErr) {
		return keyErr
	}
	var msg string
	switch {
	case errors.Is(err, jwt.ErrTokenMalformed):
		msg = "malformed token"
	case errors.Is(err, jwt.ErrTokenSignatureInvalid):
		msg = "invalid signature or algorithm not accepted"
	case errors.Is(err, jwt.ErrTokenExpired):
		msg = "token expired"
	case errors.Is(err, jwt.ErrTokenNotValidYet), errors.Is(err, jwt.ErrTokenUsedBeforeIssued):
		msg = "token not valid yet"
	case errors.Is(err, jwt.ErrTokenInvalidAudience):
		msg = "token is not for this client"
	case errors.Is(err, jwt.ErrTokenInvalidIssuer):
		msg = "token is not from the expected issuer"
	case errors.Is(err, jwt.ErrTokenRequiredClaimMissing):
		msg = "token lacks a required claim"
	default:
		msg = "invalid token"
	}
	return fmt.Errorf("%w: %s", ErrUnauthorized, msg)
}

// peekIssuer reads the iss claim without verifying anything, to tell our tokens from the
// provider's and to refuse strangers' before any key lookup.
func peekIssuer(raw string) (string, error) {
	if len(raw) > MaxTokenBytes {
		return "", fmt.Errorf("%w: token too large", ErrUnauthorized)
	}
	var c jwt.RegisteredClaims
	if _, _, err := jwt.NewParser().ParseUnverified(raw, &c); err != nil {
		return "", fmt.Errorf("%w: malformed token", ErrUnauthorized)
	}
	return c.Issuer, nil
}

// refuseCrit refuses a token whose JOSE header has "crit": RFC 7515 (4.1.11) says a recipient
// that does not understand every extension listed there must reject the token, and we
// understand none (the JWT library ignores the parameter).
func refuseCrit(raw string) error {
	head, _, ok := strings.Cut(raw, ".")
	if !ok {
		return nil // not a JWS; the parser says what is wrong with it
	}
	b, err := base64.RawURLEncoding.DecodeString(head)
	if err != nil {
		return nil
	}
	var h map[string]json.RawMessage
	if json.Unmarshal(b, &h) != nil {
		return nil
	}
	if _, has := h["crit"]; has {
		return fmt.Errorf("%w: the token header lists critical extensions (crit), which are not supported", ErrUnauthorized)
	}
	return nil
}

// looksLikeJWT tells an ID token (three base64url segments) from an authorization code.
func looksLikeJWT(s string) bool {
	parts := strings.Split(s, ".")
	if len(parts) != 3 {
		return false
	}
	for _, p := range parts[:2] {
		if p == "" || strings.TrimLeft(p, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") != "" {
			return false
		}
	}
	return true
}

// tokenDigest identifies a provider's ID token for revocation without storing the token.
func tokenDigest(raw string) string {
	d := sha256.Sum256([]byte(raw))
	return "idt-" + hex.EncodeToString(d[:])
}

// checkRevoked refuses a revoked token; a store failure is an internal error (fail closed).
func (s *Service) checkRevoked(id string) error {
	revoked, err := s.opts.Revocations.IsRevoked(id)
	if err != nil {
		return fmt.Errorf("checking token revocation: %w", err)
	}
	if revoked {
		return fmt.Errorf("%w: token has been revoked", ErrUnauthorized)
	}
	return nil
}
