package settings

// The types in this file are the contract between the operator, which renders settings.json
// into the <name>-settings Secret, and the dbserver, which reads it. Both import them, so the
// two sides cannot drift. Every field is optional; Defaults fills the gaps.

// Settings is the content of settings.json.
type Settings struct {
	Auth        Auth         `json:"auth,omitempty"`
	APIKeys     APIKeys      `json:"apiKeys,omitempty"`
	CORS        CORS         `json:"cors,omitempty"`
	Collections []Collection `json:"collections,omitempty"`
	Limits      Limits       `json:"limits,omitempty"`
	Realtime    Realtime     `json:"realtime,omitempty"`
	Backup      Backup       `json:"backup,omitempty"`
	// Console configures the web console at /console/; absent means on (see ConsoleEnabled).
	Console *Console `json:"console,omitempty"`
}

// Console configures the web console the dbserver serves at /console/.
type Console struct {
	// Enabled serves the console; nil means on. The operator always writes it, false unless
	// the Database's spec.console.enabled is true.
	Enabled *bool `json:"enabled,omitempty"`
	// Roles are the roles whose external users may sign in to the console (with the same
	// OIDC login as apps, when auth is enabled). Empty: only the full-access key signs in.
	// The console uses the public API with the user's token, so what the user sees and
	// changes there is exactly what the user's roles allow anywhere else.
	Roles []string `json:"roles,omitempty"`
}

// ConsoleEnabled reports whether /console/ is served: on unless console.enabled is false, so
// a standalone dbserver (no settings.json) has its console.
func (s *Settings) ConsoleEnabled() bool {
	return s.Console == nil || s.Console.Enabled == nil || *s.Console.Enabled
}

// Auth configures access for external users (Auth0 or any OIDC issuer).
type Auth struct {
	// Enabled turns on /auth/* and Bearer tokens.
	Enabled bool `json:"enabled,omitempty"`
	// TokenTTL is the lifetime of the tokens the dbserver issues, as a Go duration ("1h").
	TokenTTL string `json:"tokenTTL,omitempty"`
	// DefaultRoles are given to a user on first login.
	DefaultRoles []string `json:"defaultRoles,omitempty"`
	// Auth0 names the identity provider.
	Auth0 *Auth0 `json:"auth0,omitempty"`
}

// Auth0 names an Auth0 tenant (or another OIDC issuer) and this database's client there.
type Auth0 struct {
	// Domain is the Auth0 tenant's domain; the issuer is https://<domain>/.
	Domain string `json:"domain,omitempty"`
	// ClientID is the audience that ID tokens must carry.
	ClientID string `json:"clientID,omitempty"`
	// Issuer, when set, overrides the issuer derived from Domain (full URL).
	Issuer string `json:"issuer,omitempty"`
}

// APIKeys lists restricted keys; the full-access key lives in its own file (api-key).
type APIKeys struct {
	Web []WebKey `json:"web,omitempty"`
}

// WebKey is a restricted key for web pages (restdb.io's "CORS keys").
type WebKey struct {
	Name string `json:"name"`
	// Key is the secret value; the operator resolves it from the Secret the Database names.
	Key string `json:"key"`
	// Paths are globs relative to /rest ("*" one segment, "**" any number, including none).
	Paths []string `json:"paths,omitempty"`
	// Methods the key may use; empty means GET only.
	Methods []string `json:"methods,omitempty"`
	// Origins the key may be used from; empty means anywhere.
	Origins []string `json:"origins,omitempty"`
	// Channels are the realtime events the key may hear at /realtime (and, for PUBLISH:<event>,
	// send), as restdb.io writes them: <METHOD>:<COLLECTION> ("POST:company"). Empty: none.
	Channels []string `json:"channels,omitempty"`
}

// CORS lists the origins allowed to call the API from a browser, besides web keys' origins.
type CORS struct {
	AllowedOrigins []string `json:"allowedOrigins,omitempty"`
}

// Collection declares a collection's indexes and who may access it.
type Collection struct {
	Name    string   `json:"name"`
	Indexes []string `json:"indexes,omitempty"`
	// Private limits external users to the documents they created.
	Private bool `json:"private,omitempty"`
	// Access maps a role name to its rights on this collection.
	Access map[string]Rights `json:"access,omitempty"`
}

// Rights are what a role may do on a collection.
type Rights struct {
	Read  bool `json:"read,omitempty"`
	Write bool `json:"write,omitempty"`
}

// Limits bound what one request may ask of the server.
type Limits struct {
	// MaxBodyBytes is the largest request body accepted (default 1 MiB).
	MaxBodyBytes int64 `json:"maxBodyBytes,omitempty"`
	// MaxPageSize is the largest max a query may ask for (default 10000).
	MaxPageSize int `json:"maxPageSize,omitempty"`
	// MaxMediaBytes is the largest media upload accepted: each file and the sum of the files
	// of one request (default 64 MiB, at most MaxMediaBytesLimit).
	MaxMediaBytes int64 `json:"maxMediaBytes,omitempty"`
	// MaxDocumentBytes is the largest stored document, after any update (default 4 MiB).
	MaxDocumentBytes int `json:"maxDocumentBytes,omitempty"`
}

// Realtime configures the Server-Sent Events stream at /realtime (restdb.io's realtime
// messaging). It is off unless Enabled.
type Realtime struct {
	// Enabled serves /realtime; off, the path answers 404 (restdb.io's global switch).
	Enabled bool `json:"enabled,omitempty"`
	// MaxSubscribers caps the streams open at once (default DefaultMaxSubscribers); one more is
	// answered 503 at once.
	MaxSubscribers int `json:"maxSubscribers,omitempty"`
	// UserChannels are the channels every external user may hear (and publish on), in the web
	// keys' form; each collection event is also subject to the user's read rights. Default:
	// POST:*, PUT:*, DELETE:* (every collection the user may read, no published messages).
	UserChannels []string `json:"userChannels,omitempty"`
}

// Backup configures the backups the admin endpoint takes: where they go and how many are kept.
// The object store's credentials are files in the config dir (BackupAccessKeyFile,
// BackupSecretKeyFile, and BackupCAFile for a private CA), never part of settings.json.
type Backup struct {
	// Database is the name written into each archive's manifest; default "restkube".
	Database string `json:"database,omitempty"`
	// ObjectStore is where backups are written; without it the admin endpoint refuses to start one.
	ObjectStore *ObjectStore `json:"objectStore,omitempty"`
	// Retention bounds the backups kept under the prefix; applied after each successful backup.
	Retention Retention `json:"retention,omitempty"`
}

// ObjectStore names an S3-compatible bucket and the prefix of this database's backups in it.
type ObjectStore struct {
	// Bucket is the bucket's name.
	Bucket string `json:"bucket"`
	// Prefix is prepended to every object key (e.g. "restkube/apps/todo/"); it ends with "/"
	// when it names a folder.
	Prefix string `json:"prefix,omitempty"`
	// Endpoint is the store's URL ("https://s3.eu-west-1.amazonaws.com", "http://minio:9000");
	// default https://s3.amazonaws.com.
	Endpoint string `json:"endpoint,omitempty"`
	// Region is the bucket's region; default us-east-1.
	Region string `json:"region,omitempty"`
	// PathStyle addresses the bucket in the path (endpoint/bucket/key) rather than the host name,
	// as most self-hosted stores need.
	PathStyle bool `json:"pathStyle,omitempty"`
}

// Retention says which backups to keep. A backup is deleted when it is beyond the newest
// KeepLast, or older than MaxAgeDays; the newest backup is never deleted. Zero means no limit.
type Retention struct {
	KeepLast   int `json:"keepLast,omitempty"`
	MaxAgeDays int `json:"maxAgeDays,omitempty"`
}
