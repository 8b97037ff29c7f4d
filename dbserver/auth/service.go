package auth

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/restkube/restkube/dbserver/settings"
)

// Limits and timings of external-user authentication (API.md "Precise rules > Tokens and users").
const (
	// ClockSkew is the allowance for exp, nbf and iat, on our tokens and the provider's alike.
	ClockSkew = 60 * time.Second
	// MinJWKSRefresh is the least time between two fetches of the provider's keys, so that a
	// flood of tokens naming unknown kids cannot make us hammer the provider.
	MinJWKSRefresh = 5 * time.Second
	// DefaultProviderTimeout bounds all provider calls one request makes, leaving room to
	// answer within the 10 s the API promises.
	DefaultProviderTimeout = 8 * time.Second
	// MaxTokenBytes is the largest bearer token or code looked at; Auth0 ID tokens are ~1-2 KiB.
	MaxTokenBytes = 16 << 10
	// Issuer is the iss of the tokens the dbserver issues; it tells them from the provider's.
	Issuer = "restkube"
	// keysMaxAge is how long discovery and JWKS answers are trusted before a routine refetch.
	keysMaxAge = time.Hour
	// pruneEvery spaces out the pruning of expired revocations.
	pruneEvery = time.Minute
)

// Options configure a Service. Config, Users and Revocations are required.
type Options struct {
	// Config returns the current settings and keys; it is called on every operation, so a
	// changed signing-key, client secret or issuer applies without a restart.
	Config func() *settings.Config
	// Users finds and provisions the documents of the users collection.
	Users UserStore
	// Revocations remembers logged-out and refreshed tokens until they expire.
	Revocations RevocationStore
	// HTTPClient calls the identity provider; default a client with a 10 s timeout.
	HTTPClient *http.Client
	// ProviderTimeout bounds the provider calls of one operation; default DefaultProviderTimeout.
	ProviderTimeout time.Duration
	// Now is the clock; default time.Now.
	Now func() time.Time
	// Rand supplies token IDs; default crypto/rand.
	Rand io.Reader
	// Logger receives operational messages (never tokens or secrets); default slog.Default().
	Logger *slog.Logger
}

// Service verifies Bearer tokens and serves the logic of /auth/token, /auth/userinfo and
// /auth/logout. It is safe for concurrent use.
type Service struct {
	opts   Options
	now    func() time.Time
	logger *slog.Logger

	provMu sync.Mutex
	prov   *provider // of the issuer currently configured

	userMu sync.Mutex // serialises provisioning, so one identity never yields two users

	refreshMu sync.Mutex // makes check-and-revoke of a refresh atomic: a token refreshes once

	pruneMu   sync.Mutex
	lastPrune time.Time
}

// New returns a Service. It panics when a required option is missing, a programming error.
func New(opts Options) *Service {
	if opts.Config == nil || opts.Users == nil || opts.Revocations == nil {
		panic("auth.New: Config, Users and Revocations are required")
	}
	if opts.HTTPClient == nil {
		opts.HTTPClient = &http.Client{Timeout: 10 * time.Second}
	}
	if opts.ProviderTimeout <= 0 {
		opts.ProviderTimeout = DefaultProviderTimeout
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Rand == nil {
		opts.Rand = rand.Reader
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	return &Service{opts: opts, now: opts.Now, logger: opts.Logger}
}

// Enabled tells whether the current settings enable external users (auth.enabled).
func (s *Service) Enabled() bool {
	cfg := s.opts.Config()
	return cfg != nil && cfg.Settings.Auth.Enabled
}

// config returns the current config if external users are enabled.
func (s *Service) config() (*settings.Config, error) {
	cfg := s.opts.Config()
	if cfg == nil || !cfg.Settings.Auth.Enabled {
		return nil, fmt.Errorf("%w: external users are not enabled on this database", ErrUnauthorized)
	}
	return cfg, nil
}

// provider returns the discovery and JWKS cache of issuer, replacing the cache of an issuer
// the settings no longer name.
func (s *Service) provider(issuer string) *provider {
	s.provMu.Lock()
	defer s.provMu.Unlock()
	if s.prov == nil || s.prov.issuer != issuer {
		s.prov = newProvider(issuer, s.opts.HTTPClient, s.now, s.logger)
	}
	return s.prov
}

// providerCtx bounds the provider calls of one operation.
func (s *Service) providerCtx(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, s.opts.ProviderTimeout)
}

// maybePrune drops expired revocations, at most once a minute; a failure only logs, as the
// entries are harmless until pruned.
func (s *Service) maybePrune() {
	now := s.now()
	s.pruneMu.Lock()
	if now.Sub(s.lastPrune) < pruneEvery {
		s.pruneMu.Unlock()
		return
	}
	s.lastPrune = now
	s.pruneMu.Unlock()
	if err := s.opts.Revocations.Prune(now); err != nil {
		s.logger.Warn("pruning expired token revocations failed", "error", err)
	}
}

// isAuthError tells errors that already carry their HTTP meaning from unexpected ones.
func isAuthError(err error) bool {
	for _, e := range []error{ErrUnauthorized, ErrForbidden, ErrBadRequest, ErrUnavailable, ErrBadGateway} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}
