// Package httpapi is the dbserver's HTTP layer: the restdb.io-compatible REST API under /rest,
// the seam where /auth/* plugs in, CORS, /healthz, /readyz and /metrics.
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
// One file per concern: rest.go (the /rest endpoints), credentials.go (who is calling),
// access.go (what that caller may do), middleware.go (logs, metrics, panics, CORS), metrics.go.
//
// # Credentials and rights
//
// A request under /rest carries an API key (x-apikey header or ?apikey=) or a Bearer token.
// Keys are matched by auth.Keys in constant time. Bearer tokens go to Options.Bearer; without
// one, every token is 401. The order of checks is method (405), credentials (401), path (400),
// rights (403), then the document (404, 412). External users get the rights of their roles on
// the collection; in a private collection, another user's document is treated exactly as a
// missing one (404, absent from queries, skipped by bulk deletes), also for If-Match.
//
// # Settings
//
// The settings are read from the settings.Source once per request, so a reload (new keys,
// origins, limits) applies to the next request without a restart.
//
// # Caveats
//
// A query reads the whole collection and filters in memory; indexes come later. Request logs
// hold the path but never the query string (it may carry ?apikey=) or any header.
package httpapi
