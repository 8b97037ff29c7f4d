// Package httpapi is the dbserver's HTTP layer: it translates HTTP to the packages that do the
// work and back. It serves the restdb.io-compatible REST API under /rest, the external users'
// /auth endpoints, the media archive under /media, /healthz, /readyz and /metrics, with one
// credentials check, one error mapping, CORS, logs and metrics for all of them.
//
// # Shape
//
// New builds a Server (an http.Handler) from Options. Handlers are small and return errors;
// errorFor, in errors.go, is the one place that turns an error into a status code and the JSON
// body {"status","name","message","list"}. Store and query errors map by type
// (store.ErrNotFound → 404, store.ErrVersionMismatch → 412, *query.Error → 400), auth errors
// by the sentinels of package auth, and anything unknown is a 500 whose detail goes to the log
// only, never to the client.
//
// Handlers hold no domain logic: decoding a body is package jsondoc, deciding what a caller may
// do is auth.Authorize, reading documents (a query or one document by id) is package planner,
// writing them is package store.
//
// # Route groups
//
// Each group of endpoints registers itself from its own file, with a method bindX that New
// calls, and has its scenario tests in the matching _test.go file:
//
//	health.go      bindHealth  /healthz, /readyz, /metrics
//	rest.go        bindRest    /rest/...            (documents; it also calls the three below)
//	children.go    bindChildren /rest/<coll>/<id>/<sub>[/<childid>] (child collections)
//	meta.go        bindMeta    /rest/_meta, /rest/<coll>/_meta
//	jsapi.go       bindJSAPI   /rest/_jsapi.js      (no credentials; embedded assets/jsapi.js)
//	authroutes.go  bindAuth    /auth/...            (Options.Auth; external users)
//	media.go       bindMedia   /media/...           (Options.Media; the media archive)
//	console.go     bindConsole /console/            (no credentials; embedded assets/console and
//	                                                 signin.json; off when console.enabled is false)
//	realtime.go    bindRealtime GET, POST /realtime (Options.Realtime; Server-Sent Events)
//	backup.go      bindBackup  /admin/backups/...   (Options.Backup; full-access key only)
//
// Adding a group is one step of the same shape: its domain logic lives in a package of its own
// (dbserver/realtime, dbserver/media, dbserver/backup), its dependency comes in through a field
// of Options (nil: the group is not mounted, and its paths are a JSON 404), and a file
// httpapi/<group>.go holds bindX, which registers its patterns with Server.Handle (no
// credentials) or Server.HandleAuthenticated (a caller with valid credentials), plus the
// handlers, which only translate HTTP. New calls bindX when the Options field is set. A group
// that touches documents asks auth.Authorize for the caller's rights, as /rest does.
//
// Other files: server.go (New, Options, the JSON writer), bodies.go (JSON, empty and form
// bodies), credentials.go (who is calling),
// errors.go, middleware.go (logs, metrics, panics, CORS), metrics.go.
//
// # Credentials and rights
//
// A request carries an API key (x-apikey header or ?apikey=) or a Bearer token. Keys are
// matched by auth.Keys in constant time. Bearer tokens go to Options.Auth; without one, every
// token is 401. The order of checks under /rest is method (405), credentials (401), path
// (400), rights (403, auth.Authorize), then the document (404, 412). External users get the
// rights of their roles on the collection; in a private collection, another user's document is
// treated exactly as a missing one (404, absent from queries, skipped by bulk deletes), also
// for If-Match.
//
// # Media
//
// Reading a file (GET /media/<id>) needs no credentials: the archive's ids are 96 random bits,
// and the id is the capability, so that a page's <img src> works. Uploads, metadata and
// deletes are judged like /rest requests on the collection "media", with web key globs matched
// against /media, /media/<id> and /media/<id>/meta. Uploads are streamed part by part into the
// archive; files are served with nosniff, a sandboxing CSP, and as attachments unless their
// sniffed type is on the archive's inline allow-list.
//
// # Settings
//
// The settings are read from the settings.Source once per request, so a reload (new keys,
// origins, limits) applies to the next request without a restart.
//
// # Caveats
//
// Request logs hold the path but never the query string (it may carry ?apikey=) or any header.
// How a query was answered (index or scan, documents examined) is in the X-Restkube-Plan header
// of its answer; see package planner.
package httpapi
