// Package oidctest runs a local OpenID Connect provider for tests that speaks Auth0's protocol,
// so that code written for Auth0 runs against it unchanged, only the domain differs.
//
// # Server side (provider.go)
//
// Discovery, a JWKS with key rotation (RS256 and ES256 keys), an /oauth/token endpoint that
// exchanges authorization codes for ID tokens, and helpers that mint ID tokens, good ones and
// deliberately bad ones, plus switches that make the provider fail or hang.
//
// # Browser side (browser.go)
//
// The flow a single page app using Auth0's SPA SDK (@auth0/auth0-spa-js) needs:
//
//   - GET /authorize: the authorization code flow with PKCE (code_challenge_method S256),
//     response_mode query (a redirect) or web_message (a page that posts the answer to the
//     opener or parent window, used by the SDK's silent authentication in a hidden iframe),
//     prompt=none (login_required without a session) and prompt=login;
//   - a login form (GET /authorize shows it, POST /u/login takes it): pick one of the users
//     added with AddUser, or type an email and a name;
//   - POST /oauth/token for those codes, JSON or form encoded, from a public client (no
//     secret: the code_verifier proves the caller), with CORS for the app's web origins;
//   - GET /v2/logout (Auth0's logout, returnTo) and GET /oidc/logout (OpenID Connect
//     RP-initiated logout, post_logout_redirect_uri and state), which end the session.
//
// The app is registered with SetApp, as an Auth0 application of type Single Page Application:
// allowed callback URLs, logout URLs and web origins, each matched exactly. A login starts a
// session kept in a cookie of the provider's origin (SameSite=Lax: the tests run every server
// on 127.0.0.1, one site, so the SDK's hidden iframe sends it).
//
// It speaks real HTTP over loopback (httptest), so the code under test runs its real client.
// It is for tests only: keys are generated per provider and nothing is persisted; sessions,
// pending logins and codes expire and are bounded in number.
package oidctest
