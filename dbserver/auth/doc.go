// Package auth decides who is calling the dbserver: API keys (keys.go) and external users
// holding Bearer tokens (Service); and what that caller may do (Authorize, access.go).
//
// # Access rules
//
// Authorize answers, for one request, whether a caller may read (GET) or write (any other
// method) a collection at a path under /rest: the full-access key may do anything, a web key
// what its path globs and methods allow, an external user what the rights of its roles on the
// collection allow. Its Grant tells whether the caller sees only its own documents (a private
// collection): Grant.Sees hides the others, and every route group that touches documents
// (/rest now; realtime and media later) asks the same question, so the rules live here once.
//
// # External users
//
// A Service verifies two kinds of Bearer token:
//
//   - tokens the dbserver issues at POST /auth/token: JWTs signed HS256 with the signing-key,
//     with iss "restkube", sub (the user's _id), email, roles, jti, iat and exp;
//   - ID tokens of the configured OIDC issuer (Auth0 or any other): exact iss, aud holding the
//     clientID, exp required, signed HS256 with the client secret or RS256/ES256 with a key
//     of the issuer's JWKS. The JWKS is found through discovery, parsed by jwkset, cached for
//     an hour and refetched on an unknown kid, at most once every MinJWKSRefresh.
//
// The iss claim, read before anything is verified, picks the path; each path has its own key,
// so no key ever verifies the other kind (and the client secret never verifies RS256/ES256
// tokens, nor JWKS keys HS256 ones: no key confusion). alg none and every other algorithm are
// refused. Clock skew of ClockSkew applies to exp, nbf and iat.
//
// Every request loads the user's document (UserStore), so a change of roles or active applies
// at once. Logout and refresh record the token's ID in a RevocationStore until it expires;
// StoreRevocations keeps them in the store file, so they survive a restart.
//
// # Errors
//
// Errors wrap the sentinels of errors.go: ErrUnauthorized (401), ErrForbidden (403),
// ErrBadRequest (400), ErrUnavailable (503: the provider is down, slow or overloaded) and
// ErrBadGateway (502: the provider answered badly or refused our client credentials). Their
// text reaches clients and logs, so it never holds a token, code or key. Anything else is an
// internal error (the store failed).
//
// # Caveats
//
//   - The settings are read on every call (Options.Config): a new signing-key invalidates the
//     tokens signed with the old one; a new issuer starts a fresh discovery and JWKS cache.
//   - Provider calls of one request share ProviderTimeout (8 s by default), so an answer comes
//     within the 10 s the API promises. After a failed fetch the provider is not called again
//     for MinJWKSRefresh; requests meanwhile fail fast. Known keys keep verifying while a
//     routine refetch fails.
//   - An email the provider marks email_verified: false is ignored: it neither links to a user
//     created with the full key nor becomes _createdby. An email already linked to another
//     sub is refused (403), so a second account at the provider cannot take over the first.
//   - The oidctest subpackage is a local provider for tests.
package auth
