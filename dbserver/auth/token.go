package auth

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/restkube/restkube/dbserver/settings"
)

// TokenRequest is the body of POST /auth/token: a code (an ID token, or an authorization code
// with its redirect_uri and, when the login used PKCE, its code_verifier), or a RestKube
// token to refresh.
type TokenRequest struct {
	Code         string `json:"code,omitempty"`
	RedirectURI  string `json:"redirect_uri,omitempty"`
	CodeVerifier string `json:"code_verifier,omitempty"`
	Refresh      string `json:"refresh,omitempty"`
}

// validVerifier reports whether v is a PKCE code_verifier: 43 to 128 unreserved characters
// (RFC 7636 section 4.1).
func validVerifier(v string) bool {
	if len(v) < 43 || len(v) > 128 {
		return false
	}
	for i := 0; i < len(v); i++ {
		c := v[i]
		if !('A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '.' || c == '_' || c == '~') {
			return false
		}
	}
	return true
}

// TokenResponse is the answer of POST /auth/token.
type TokenResponse struct {
	Token     string `json:"token"`
	IssuedAt  int64  `json:"iat"`
	ExpiresAt int64  `json:"exp"`
}

// Token serves POST /auth/token. It needs no other credentials: the code or refresh token is
// the credential. A code shaped like a JWT is an ID token; anything else is an authorization
// code, exchanged at the provider's token endpoint with the client ID and secret.
func (s *Service) Token(ctx context.Context, req TokenRequest) (*TokenResponse, error) {
	cfg, err := s.config()
	if err != nil {
		return nil, err
	}
	req.Code, req.Refresh = strings.TrimSpace(req.Code), strings.TrimSpace(req.Refresh)
	switch {
	case req.Code != "" && req.Refresh != "":
		return nil, fmt.Errorf("%w: send either code or refresh, not both", ErrBadRequest)
	case req.Refresh != "":
		return s.refresh(ctx, cfg, req.Refresh)
	case req.Code == "":
		return nil, fmt.Errorf("%w: code or refresh is required", ErrBadRequest)
	case len(req.Code) > MaxTokenBytes || len(req.RedirectURI) > MaxTokenBytes:
		return nil, fmt.Errorf("%w: code too large", ErrBadRequest)
	case req.CodeVerifier != "" && !validVerifier(req.CodeVerifier):
		return nil, fmt.Errorf("%w: code_verifier must be 43 to 128 characters of A-Z, a-z, 0-9, -, ., _ and ~", ErrBadRequest)
	}
	idToken := req.Code
	if !looksLikeJWT(req.Code) {
		if idToken, err = s.exchange(ctx, cfg, req.Code, req.RedirectURI, req.CodeVerifier); err != nil {
			return nil, err
		}
	}
	c, err := s.verifyIDToken(ctx, cfg, idToken)
	if err != nil {
		return nil, err
	}
	if err := s.checkRevoked(tokenDigest(idToken)); err != nil {
		return nil, err
	}
	u, err := s.provision(ctx, cfg, c)
	if err != nil {
		return nil, err
	}
	resp, err := s.issue(cfg, u)
	if err != nil {
		return nil, err
	}
	s.logger.Info("external user logged in", "user", u.ID)
	return resp, nil
}

// exchange trades an authorization code for an ID token at the provider.
func (s *Service) exchange(ctx context.Context, cfg *settings.Config, code, redirectURI, verifier string) (string, error) {
	a := cfg.Settings.Auth.Auth0
	issuer := a.IssuerURL()
	if issuer == "" || a.ClientID == "" {
		return "", fmt.Errorf("%w: no identity provider is configured", ErrUnauthorized)
	}
	if cfg.ClientSecret == "" {
		return "", fmt.Errorf("%w: exchanging authorization codes needs the client secret, which is not configured", ErrUnavailable)
	}
	pctx, cancel := s.providerCtx(ctx)
	defer cancel()
	return s.provider(issuer).exchangeCode(pctx, a.ClientID, cfg.ClientSecret, code, redirectURI, verifier)
}

// Login says where a browser signs in for this database: the provider's authorization
// endpoint (from OIDC discovery) and the client ID, for the authorization code flow whose
// code POST /auth/token then exchanges. It fails when external users are not enabled or
// the provider cannot be reached.
func (s *Service) Login(ctx context.Context) (authorizeURL, clientID string, err error) {
	cfg, err := s.config()
	if err != nil {
		return "", "", err
	}
	a := cfg.Settings.Auth.Auth0
	if a == nil || a.IssuerURL() == "" || a.ClientID == "" {
		return "", "", fmt.Errorf("%w: no identity provider is configured", ErrUnauthorized)
	}
	pctx, cancel := s.providerCtx(ctx)
	defer cancel()
	endpoint, err := s.provider(a.IssuerURL()).authorizationEndpoint(pctx)
	if err != nil {
		return "", "", err
	}
	return endpoint, a.ClientID, nil
}

// refresh exchanges a still-valid RestKube token for a new one and revokes the old one. The
// whole step holds refreshMu, so one token refreshes once even when sent twice at once.
func (s *Service) refresh(ctx context.Context, cfg *settings.Config, raw string) (*TokenResponse, error) {
	s.refreshMu.Lock()
	defer s.refreshMu.Unlock()
	if iss, err := peekIssuer(raw); err != nil || iss != Issuer {
		return nil, fmt.Errorf("%w: only a token issued by this database can be refreshed", ErrUnauthorized)
	}
	c, u, err := s.verifyOurs(ctx, cfg, raw)
	if err != nil {
		return nil, err
	}
	resp, err := s.issue(cfg, u)
	if err != nil {
		return nil, err
	}
	// Revoke before answering: if this fails the new token is never handed out.
	if err := s.opts.Revocations.Revoke(c.ID, c.ExpiresAt.Add(ClockSkew)); err != nil {
		return nil, fmt.Errorf("revoking the refreshed token: %w", err)
	}
	s.maybePrune()
	return resp, nil
}

// issue signs a new RestKube token for u with the current signing key and tokenTTL.
func (s *Service) issue(cfg *settings.Config, u *UserDoc) (*TokenResponse, error) {
	if cfg.SigningKey == "" {
		return nil, errors.New("issuing a token: no signing key is configured")
	}
	var b [16]byte
	if _, err := io.ReadFull(s.opts.Rand, b[:]); err != nil {
		return nil, fmt.Errorf("issuing a token: reading randomness: %w", err)
	}
	jti := hex.EncodeToString(b[:])
	now := s.now().Truncate(time.Second)
	exp := now.Add(cfg.Settings.TokenTTLDuration())
	roles := append([]string{}, u.Roles...)
	claims := ourClaims{
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer:    Issuer,
			Subject:   u.ID,
			ID:        jti,
			IssuedAt:  jwt.NewNumericDate(now),
			ExpiresAt: jwt.NewNumericDate(exp),
		},
		Email: u.Email,
		Roles: roles,
	}
	signed, err := jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString([]byte(cfg.SigningKey))
	if err != nil {
		return nil, fmt.Errorf("issuing a token: signing: %w", err)
	}
	return &TokenResponse{Token: signed, IssuedAt: now.Unix(), ExpiresAt: exp.Unix()}, nil
}

// UserInfo serves GET /auth/userinfo for an external user; API keys are ErrBadRequest.
func (s *Service) UserInfo(ctx context.Context, p *Principal) (map[string]any, error) {
	if p == nil || p.Kind != User {
		return nil, fmt.Errorf("%w: /auth/userinfo needs a user's Bearer token, not an API key", ErrBadRequest)
	}
	u, err := s.opts.Users.ByID(ctx, p.UserID)
	if err != nil {
		return nil, fmt.Errorf("loading the user: %w", err)
	}
	if u == nil {
		return nil, fmt.Errorf("%w: the user no longer exists", ErrUnauthorized)
	}
	return map[string]any{
		"_id":         u.ID,
		"email":       u.Email,
		"displayname": u.DisplayName,
		"image":       u.Image,
		"roles":       append([]string{}, u.Roles...),
	}, nil
}

// Logout serves POST /auth/logout: the presented token (ours or the provider's ID token) is
// refused from now until it expires, also after a restart. API keys are ErrBadRequest.
func (s *Service) Logout(ctx context.Context, p *Principal) error {
	if p == nil || p.Kind != User {
		return fmt.Errorf("%w: /auth/logout needs a user's Bearer token, not an API key", ErrBadRequest)
	}
	if p.TokenID == "" || p.ExpiresAt.IsZero() {
		return fmt.Errorf("%w: the token cannot be revoked", ErrBadRequest)
	}
	// We accept a token up to ClockSkew past its exp, so remember the revocation that long.
	if err := s.opts.Revocations.Revoke(p.TokenID, p.ExpiresAt.Add(ClockSkew)); err != nil {
		return fmt.Errorf("revoking the token: %w", err)
	}
	s.logger.Info("external user logged out", "user", p.UserID)
	s.maybePrune()
	return nil
}
