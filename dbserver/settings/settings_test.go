package settings

import (
	"strings"
	"testing"
	"time"
)

func TestParse(t *testing.T) {
	cases := map[string]struct {
		json    string
		wantErr []string // substrings the error must contain; empty means success
	}{
		"an empty file is all defaults": {json: ""},
		"the documented example parses": {json: `{
			"auth": {"enabled": true, "tokenTTL": "1h", "defaultRoles": ["external"],
			         "auth0": {"domain": "example.eu.auth0.com", "clientID": "Zx9", "issuer": ""}},
			"apiKeys": {"web": [{"name": "site", "key": "k", "paths": ["/tasks/**"], "methods": ["GET", "POST"],
			                     "origins": ["https://todo.example.com"]}]},
			"cors": {"allowedOrigins": ["https://todo.example.com"]},
			"collections": [{"name": "tasks", "indexes": ["done", "due"], "private": true,
			                 "access": {"external": {"read": true, "write": true}}}],
			"limits": {"maxBodyBytes": 1048576, "maxPageSize": 10000},
			"console": {"enabled": false}}`},
		"console.enabled must be a boolean":    {json: `{"console": {"enabled": "no"}}`, wantErr: []string{"console.enabled"}},
		"an unknown console field is named":    {json: `{"console": {"path": "/admin"}}`, wantErr: []string{`"path"`}},
		"console roles parse":                  {json: `{"console": {"enabled": true, "roles": ["admin", "support"]}}`},
		"an empty console role is named":       {json: `{"console": {"roles": ["admin", " "]}}`, wantErr: []string{"console.roles[1]"}},
		"an unknown field is named":            {json: `{"auth": {"enabeld": true}}`, wantErr: []string{`"enabeld"`}},
		"a wrong type is an error":             {json: `{"auth": {"enabled": "yes"}}`, wantErr: []string{"auth.enabled"}},
		"trailing data is an error":            {json: `{} {}`, wantErr: []string{"trailing"}},
		"a bad tokenTTL is named":              {json: `{"auth": {"tokenTTL": "forever"}}`, wantErr: []string{"auth.tokenTTL"}},
		"enabled auth needs a provider":        {json: `{"auth": {"enabled": true}}`, wantErr: []string{"auth.auth0"}},
		"enabled auth needs clientID":          {json: `{"auth": {"enabled": true, "auth0": {"domain": "x.auth0.com"}}}`, wantErr: []string{"auth.auth0.clientID"}},
		"issuer must be absolute":              {json: `{"auth": {"auth0": {"issuer": "not a url"}}}`, wantErr: []string{"auth.auth0.issuer"}},
		"web key needs a key and good methods": {json: `{"apiKeys": {"web": [{"name": "a", "key": " ", "methods": ["FETCH"], "paths": ["tasks"]}]}}`, wantErr: []string{"apiKeys.web[0].key", "apiKeys.web[0].methods[0]", "apiKeys.web[0].paths[0]"}},
		"duplicate web key names":              {json: `{"apiKeys": {"web": [{"name": "a", "key": "1"}, {"name": "a", "key": "2"}]}}`, wantErr: []string{"apiKeys.web[1].name"}},
		"bad origin":                           {json: `{"cors": {"allowedOrigins": ["todo.example.com"]}}`, wantErr: []string{"cors.allowedOrigins[0]"}},
		"bad collection name":                  {json: `{"collections": [{"name": "1abc"}]}`, wantErr: []string{"collections[0].name"}},
		"duplicate collection":                 {json: `{"collections": [{"name": "a"}, {"name": "a"}]}`, wantErr: []string{"collections[1].name"}},
		"bad index path":                       {json: `{"collections": [{"name": "a", "indexes": ["$x"]}]}`, wantErr: []string{"collections[0].indexes[0]"}},
		"negative limits":                      {json: `{"limits": {"maxBodyBytes": -1, "maxPageSize": -2}}`, wantErr: []string{"limits.maxBodyBytes", "limits.maxPageSize"}},
		"a negative media limit":               {json: `{"limits": {"maxMediaBytes": -1}}`, wantErr: []string{"limits.maxMediaBytes"}},
		"a media limit over 1 TiB":             {json: `{"limits": {"maxMediaBytes": 1099511627777}}`, wantErr: []string{"limits.maxMediaBytes"}},
		"document limit out of range":          {json: `{"limits": {"maxDocumentBytes": 10}}`, wantErr: []string{"limits.maxDocumentBytes"}},
		"realtime with channels parses": {json: `{"realtime": {"enabled": true, "maxSubscribers": 50, "userChannels": ["PUBLISH:chat", "*:*"]},
			"apiKeys": {"web": [{"name": "a", "key": "1", "channels": ["POST:company", "PUT:*", "PATCH:x", "DELETE:a_b-c", "PUBLISH:chat"]}]}}`},
		"a malformed channel is named": {json: `{"apiKeys": {"web": [{"name": "a", "key": "1", "channels": ["POST:company", "GET:company", "post:x", "POST:", "POST:1x", "POST:a:b"]}]}}`,
			wantErr: []string{"apiKeys.web[0].channels[1]", "apiKeys.web[0].channels[2]", "apiKeys.web[0].channels[3]", "apiKeys.web[0].channels[4]", "apiKeys.web[0].channels[5]"}},
		"a malformed user channel is named":  {json: `{"realtime": {"userChannels": ["chat"]}}`, wantErr: []string{"realtime.userChannels[0]"}},
		"maxSubscribers is bounded":          {json: `{"realtime": {"maxSubscribers": -1}}`, wantErr: []string{"realtime.maxSubscribers"}},
		"maxSubscribers has a ceiling":       {json: `{"realtime": {"maxSubscribers": 100001}}`, wantErr: []string{"realtime.maxSubscribers"}},
		"an unknown realtime field is named": {json: `{"realtime": {"global": true}}`, wantErr: []string{`"global"`}},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := Parse([]byte(tc.json))
			if len(tc.wantErr) == 0 {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("expected an error naming %v", tc.wantErr)
			}
			for _, want := range tc.wantErr {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not name %q", err, want)
				}
			}
		})
	}
}

func TestDefaults(t *testing.T) {
	s := Settings{}.WithDefaults()
	if s.Auth.TokenTTL != "1h0m0s" || s.TokenTTLDuration() != time.Hour {
		t.Errorf("tokenTTL default = %q", s.Auth.TokenTTL)
	}
	if len(s.Auth.DefaultRoles) != 1 || s.Auth.DefaultRoles[0] != "external" {
		t.Errorf("defaultRoles = %v", s.Auth.DefaultRoles)
	}
	if s.Limits.MaxMediaBytes != 64<<20 {
		t.Errorf("default maxMediaBytes = %d, want 64 MiB", s.Limits.MaxMediaBytes)
	}
	if s.Limits.MaxBodyBytes != 1<<20 || s.Limits.MaxPageSize != 10000 {
		t.Errorf("limits = %+v", s.Limits)
	}
	if s.Realtime.Enabled || s.Realtime.MaxSubscribers != DefaultMaxSubscribers || strings.Join(s.Realtime.UserChannels, ",") != "POST:*,PUT:*,DELETE:*" {
		t.Errorf("realtime = %+v", s.Realtime)
	}
	kept := Settings{Auth: Auth{TokenTTL: "5m"}, Limits: Limits{MaxBodyBytes: 10}}.WithDefaults()
	if kept.TokenTTLDuration() != 5*time.Minute || kept.Limits.MaxBodyBytes != 10 {
		t.Errorf("explicit values were overwritten: %+v", kept)
	}
}

func TestConsoleEnabled(t *testing.T) {
	cases := map[string]bool{
		``:                                true,
		`{"console": {}}`:                 true,
		`{"console": {"enabled": true}}`:  true,
		`{"console": {"enabled": false}}`: false,
	}
	for raw, want := range cases {
		s, err := Parse([]byte(raw))
		if err != nil {
			t.Fatalf("Parse(%s): %v", raw, err)
		}
		if got := s.ConsoleEnabled(); got != want {
			t.Errorf("ConsoleEnabled(%s) = %v, want %v", raw, got, want)
		}
	}
}

func TestIssuerURL(t *testing.T) {
	cases := map[string]struct {
		a    *Auth0
		want string
	}{
		"nil":                    {nil, ""},
		"domain gives https URL": {&Auth0{Domain: "x.eu.auth0.com"}, "https://x.eu.auth0.com/"},
		"issuer overrides":       {&Auth0{Domain: "x", Issuer: "http://127.0.0.1:9/"}, "http://127.0.0.1:9/"},
	}
	for name, tc := range cases {
		if got := tc.a.IssuerURL(); got != tc.want {
			t.Errorf("%s: got %q, want %q", name, got, tc.want)
		}
	}
}
