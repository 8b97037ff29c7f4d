package settings

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"time"
)

// Defaults applied to fields that settings.json leaves out.
const (
	DefaultTokenTTL     = time.Hour
	DefaultMaxBodyBytes = 1 << 20
	DefaultMaxPageSize  = 10000
	// DefaultMaxMediaBytes is limits.maxMediaBytes when settings.json leaves it out.
	DefaultMaxMediaBytes = 64 << 20
	// MaxMediaBytesLimit is the largest limits.maxMediaBytes accepted (1 TiB).
	MaxMediaBytesLimit = 1 << 40
	// DefaultMaxDocumentBytes matches store.DefaultMaxDocumentBytes (4 MiB).
	DefaultMaxDocumentBytes = 4 << 20
	// MaxMaxDocumentBytes bounds limits.maxDocumentBytes: a document is decoded whole on
	// reads that need it, so one must stay well inside a pod's memory.
	MaxMaxDocumentBytes = 64 << 20
	DefaultRole         = "external"
	// DefaultMaxSubscribers is realtime.maxSubscribers when unset.
	DefaultMaxSubscribers = 1000
	// MaxMaxSubscribers bounds realtime.maxSubscribers.
	MaxMaxSubscribers = 100000
	// MaxChannels bounds the channels of one web key and realtime.userChannels.
	MaxChannels = 64
)

// ChannelPattern is the form of a realtime channel: <METHOD>:<NAME>, METHOD one of POST, PUT,
// PATCH (the same as PUT), DELETE, PUBLISH (messages sent to POST /realtime) or * (any), NAME
// a collection (an event name for PUBLISH) or * (any). The CRD uses the same pattern.
const ChannelPattern = `^(\*|POST|PUT|PATCH|DELETE|PUBLISH):(\*|[A-Za-z][A-Za-z0-9_-]{0,63})$`

// Channel matches a realtime channel (ChannelPattern).
var Channel = regexp.MustCompile(ChannelPattern)

// DefaultUserChannels are what external users hear when realtime.userChannels is unset.
var DefaultUserChannels = []string{"POST:*", "PUT:*", "DELETE:*"}

// CollectionName is the pattern every collection name must match.
var CollectionName = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_-]{0,63}$`)

// Parse reads settings.json strictly: unknown fields and invalid values are errors that name them.
func Parse(data []byte) (Settings, error) {
	var s Settings
	if len(bytes.TrimSpace(data)) == 0 {
		return s, nil
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&s); err != nil {
		return Settings{}, fmt.Errorf("settings.json: %w", err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return Settings{}, errors.New("settings.json: trailing data after the JSON object")
	}
	if err := s.Validate(); err != nil {
		return Settings{}, fmt.Errorf("settings.json: %w", err)
	}
	return s, nil
}

// Validate checks every field and reports all problems at once, each naming its field.
func (s *Settings) Validate() error {
	var errs []error
	bad := func(field, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", field, fmt.Sprintf(format, args...)))
	}
	if s.Auth.TokenTTL != "" {
		if d, err := time.ParseDuration(s.Auth.TokenTTL); err != nil || d <= 0 {
			bad("auth.tokenTTL", "%q is not a positive Go duration such as \"1h\"", s.Auth.TokenTTL)
		}
	}
	for i, r := range s.Auth.DefaultRoles {
		if strings.TrimSpace(r) == "" {
			bad(fmt.Sprintf("auth.defaultRoles[%d]", i), "must not be empty")
		}
	}
	if a := s.Auth.Auth0; a != nil && a.Issuer != "" {
		if u, err := url.Parse(a.Issuer); err != nil || u.Scheme == "" || u.Host == "" {
			bad("auth.auth0.issuer", "%q is not an absolute URL", a.Issuer)
		}
	}
	if s.Auth.Enabled {
		if a := s.Auth.Auth0; a == nil {
			bad("auth.auth0", "required when auth.enabled is true")
		} else {
			if a.Domain == "" && a.Issuer == "" {
				bad("auth.auth0.domain", "domain or issuer is required when auth.enabled is true")
			}
			if a.ClientID == "" {
				bad("auth.auth0.clientID", "required when auth.enabled is true")
			}
		}
	}
	names := map[string]bool{}
	for i, k := range s.APIKeys.Web {
		field := fmt.Sprintf("apiKeys.web[%d]", i)
		if k.Name == "" {
			bad(field+".name", "must not be empty")
		} else if names[k.Name] {
			bad(field+".name", "%q is used twice", k.Name)
		}
		names[k.Name] = true
		if strings.TrimSpace(k.Key) == "" {
			bad(field+".key", "must not be empty")
		}
		for j, p := range k.Paths {
			if !strings.HasPrefix(p, "/") {
				bad(fmt.Sprintf("%s.paths[%d]", field, j), "%q must start with /", p)
			}
		}
		for j, m := range k.Methods {
			if !validMethod(m) {
				bad(fmt.Sprintf("%s.methods[%d]", field, j), "%q is not one of GET, POST, PUT, PATCH, DELETE", m)
			}
		}
		for j, o := range k.Origins {
			if !validOrigin(o) {
				bad(fmt.Sprintf("%s.origins[%d]", field, j), "%q is not an origin such as https://app.example.com", o)
			}
		}
		checkChannels(field+".channels", k.Channels, bad)
	}
	if n := s.Realtime.MaxSubscribers; n < 0 || n > MaxMaxSubscribers {
		bad("realtime.maxSubscribers", "%d is not between 0 (the default, %d) and %d", n, DefaultMaxSubscribers, MaxMaxSubscribers)
	}
	checkChannels("realtime.userChannels", s.Realtime.UserChannels, bad)
	for i, o := range s.CORS.AllowedOrigins {
		if !validOrigin(o) {
			bad(fmt.Sprintf("cors.allowedOrigins[%d]", i), "%q is not an origin such as https://app.example.com", o)
		}
	}
	colls := map[string]bool{}
	for i, c := range s.Collections {
		field := fmt.Sprintf("collections[%d]", i)
		if !CollectionName.MatchString(c.Name) {
			bad(field+".name", "%q must match %s", c.Name, CollectionName)
		} else if colls[c.Name] {
			bad(field+".name", "%q is declared twice", c.Name)
		}
		colls[c.Name] = true
		seen := map[string]bool{}
		for j, ix := range c.Indexes {
			if ix == "" || strings.HasPrefix(ix, "$") || strings.Contains(ix, "..") || strings.HasPrefix(ix, ".") || strings.HasSuffix(ix, ".") {
				bad(fmt.Sprintf("%s.indexes[%d]", field, j), "%q is not a field path", ix)
			} else if seen[ix] {
				bad(fmt.Sprintf("%s.indexes[%d]", field, j), "%q is listed twice", ix)
			}
			seen[ix] = true
		}
		for role := range c.Access {
			if strings.TrimSpace(role) == "" {
				bad(field+".access", "a role name must not be empty")
			}
		}
	}
	validateBackup(&s.Backup, bad)
	if s.Console != nil {
		for i, r := range s.Console.Roles {
			if strings.TrimSpace(r) == "" {
				bad(fmt.Sprintf("console.roles[%d]", i), "must not be empty")
			}
		}
	}
	if s.Limits.MaxBodyBytes < 0 {
		bad("limits.maxBodyBytes", "must not be negative")
	}
	if s.Limits.MaxPageSize < 0 {
		bad("limits.maxPageSize", "must not be negative")
	}
	if s.Limits.MaxMediaBytes < 0 || s.Limits.MaxMediaBytes > MaxMediaBytesLimit {
		bad("limits.maxMediaBytes", "must be between 0 (the default, %d) and %d", DefaultMaxMediaBytes, MaxMediaBytesLimit)
	}
	if d := s.Limits.MaxDocumentBytes; d != 0 && (d < 1024 || d > MaxMaxDocumentBytes) {
		bad("limits.maxDocumentBytes", "must be from 1024 to %d", MaxMaxDocumentBytes)
	}
	return errors.Join(errs...)
}

// checkChannels reports channels that do not match ChannelPattern, and more than MaxChannels.
func checkChannels(field string, list []string, bad func(field, format string, args ...any)) {
	if len(list) > MaxChannels {
		bad(field, "%d channels, at most %d", len(list), MaxChannels)
	}
	for j, c := range list {
		if !Channel.MatchString(c) {
			bad(fmt.Sprintf("%s[%d]", field, j), "%q is not a channel such as POST:company (METHOD:COLLECTION; METHOD POST, PUT, PATCH, DELETE, PUBLISH or *)", c)
		}
	}
}

func validMethod(m string) bool {
	switch m {
	case http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete:
		return true
	}
	return false
}

func validOrigin(o string) bool {
	if o == "*" {
		return true
	}
	u, err := url.Parse(o)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != "" && (u.Path == "" || u.Path == "/") && u.RawQuery == ""
}

// WithDefaults returns a copy with every omitted field set to its default.
func (s Settings) WithDefaults() Settings {
	if s.Auth.TokenTTL == "" {
		s.Auth.TokenTTL = DefaultTokenTTL.String()
	}
	if len(s.Auth.DefaultRoles) == 0 {
		s.Auth.DefaultRoles = []string{DefaultRole}
	}
	if s.Limits.MaxBodyBytes == 0 {
		s.Limits.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if s.Limits.MaxPageSize == 0 {
		s.Limits.MaxPageSize = DefaultMaxPageSize
	}
	if s.Limits.MaxMediaBytes == 0 {
		s.Limits.MaxMediaBytes = DefaultMaxMediaBytes
	}
	if s.Limits.MaxDocumentBytes == 0 {
		s.Limits.MaxDocumentBytes = DefaultMaxDocumentBytes
	}
	if s.Realtime.MaxSubscribers == 0 {
		s.Realtime.MaxSubscribers = DefaultMaxSubscribers
	}
	if len(s.Realtime.UserChannels) == 0 {
		s.Realtime.UserChannels = append([]string(nil), DefaultUserChannels...)
	}
	return s
}

// TokenTTLDuration is auth.tokenTTL as a duration (DefaultTokenTTL when unset or invalid).
func (s *Settings) TokenTTLDuration() time.Duration {
	d, err := time.ParseDuration(s.Auth.TokenTTL)
	if err != nil || d <= 0 {
		return DefaultTokenTTL
	}
	return d
}

// Collection returns the declared collection of that name, or nil.
func (s *Settings) Collection(name string) *Collection {
	for i := range s.Collections {
		if s.Collections[i].Name == name {
			return &s.Collections[i]
		}
	}
	return nil
}

// IssuerURL is the OIDC issuer: Issuer when set, else https://<domain>/.
func (a *Auth0) IssuerURL() string {
	if a == nil {
		return ""
	}
	if a.Issuer != "" {
		return a.Issuer
	}
	if a.Domain == "" {
		return ""
	}
	return "https://" + strings.TrimSuffix(a.Domain, "/") + "/"
}

// BucketName is the pattern of an S3 bucket name (the common subset every S3 store accepts).
var BucketName = regexp.MustCompile(`^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$`)

// MaxBackupPrefix bounds backup.objectStore.prefix (S3 keys are at most 1024 bytes).
const MaxBackupPrefix = 512

func validateBackup(b *Backup, bad func(field, format string, args ...any)) {
	if len(b.Database) > 253 {
		bad("backup.database", "must be at most 253 characters")
	}
	if b.Retention.KeepLast < 0 {
		bad("backup.retention.keepLast", "must not be negative")
	}
	if b.Retention.MaxAgeDays < 0 {
		bad("backup.retention.maxAgeDays", "must not be negative")
	}
	o := b.ObjectStore
	if o == nil {
		return
	}
	if !BucketName.MatchString(o.Bucket) {
		bad("backup.objectStore.bucket", "%q is not a bucket name (3-63 of a-z, 0-9, '.', '-')", o.Bucket)
	}
	if len(o.Prefix) > MaxBackupPrefix {
		bad("backup.objectStore.prefix", "must be at most %d characters", MaxBackupPrefix)
	} else if strings.HasPrefix(o.Prefix, "/") || strings.Contains(o.Prefix, "..") || strings.Contains(o.Prefix, "//") {
		bad("backup.objectStore.prefix", "%q must not start with /, nor hold .. or //", o.Prefix)
	}
	if o.Endpoint != "" {
		if u, err := url.Parse(o.Endpoint); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || (u.Path != "" && u.Path != "/") || u.User != nil || u.RawQuery != "" {
			bad("backup.objectStore.endpoint", "%q is not an http(s) URL of a host such as https://s3.example.com", o.Endpoint)
		}
	}
	if len(o.Region) > 64 || strings.ContainsAny(o.Region, " /") {
		bad("backup.objectStore.region", "%q is not a region name", o.Region)
	}
}
