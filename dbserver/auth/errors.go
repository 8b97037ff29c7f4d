package auth

import "errors"

// Sentinel errors that authentication code wraps (fmt.Errorf("%w: token expired", ErrUnauthorized))
// and that the HTTP layer turns into status codes in one place. The text after the sentinel is
// shown to the client, so it must never carry a secret.
var (
	// ErrUnauthorized: missing, malformed, expired, revoked or wrongly signed credentials (401).
	ErrUnauthorized = errors.New("unauthorized")
	// ErrForbidden: valid credentials that lack the right, or an inactive user (403).
	ErrForbidden = errors.New("forbidden")
	// ErrBadRequest: a request the auth endpoints cannot serve as asked, e.g. /auth/userinfo with an API key (400).
	ErrBadRequest = errors.New("bad request")
	// ErrUnavailable: the identity provider cannot be reached (503).
	ErrUnavailable = errors.New("identity provider unavailable")
	// ErrBadGateway: the identity provider answered badly (502).
	ErrBadGateway = errors.New("identity provider answered badly")
)
