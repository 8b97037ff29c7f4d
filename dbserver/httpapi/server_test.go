package httpapi

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/restkube/restkube/dbserver/auth"
	"github.com/restkube/restkube/dbserver/settings"
	"github.com/restkube/restkube/dbserver/store"
	"github.com/restkube/restkube/internal/testutil"
)

const (
	fullKey    = "full-key-0123456789abcdef"
	readerKey  = "web-reader-key-0123456789"
	siteKey    = "web-site-key-0123456789"
	notesKey   = "web-notes-key-0123456789"
	siteOrigin = "https://site.example"
	appOrigin  = "https://app.example"
)

// testConfig is the config every scenario runs with, unless it changes it.
func testConfig() *settings.Config {
	return &settings.Config{
		APIKey:     fullKey,
		SigningKey: "signing-key-for-tests",
		Settings: settings.Settings{
			APIKeys: settings.APIKeys{Web: []settings.WebKey{
				{Name: "reader", Key: readerKey, Paths: []string{"/tasks/**"}},
				{Name: "site", Key: siteKey, Paths: []string{"/tasks/**"}, Methods: []string{"GET", "POST", "DELETE"}, Origins: []string{siteOrigin}},
				{Name: "notes", Key: notesKey, Paths: []string{"/notes/*"}},
			}},
			CORS: settings.CORS{AllowedOrigins: []string{appOrigin}},
			Collections: []settings.Collection{
				{Name: "tasks", Private: true, Access: map[string]settings.Rights{"external": {Read: true, Write: true}}},
				{Name: "public", Access: map[string]settings.Rights{"external": {Read: true}, "viewer": {Read: true}}},
				{Name: "shared", Access: map[string]settings.Rights{"external": {Read: true, Write: true}}},
				{Name: "secret"},
			},
			Limits: settings.Limits{MaxBodyBytes: 2048},
		},
	}
}

// fakeAuth stands in for package auth's Service: a Bearer token names a canned caller, and
// the /auth group answers canned values.
type fakeAuth struct{}

func (fakeAuth) Authenticate(_ context.Context, token string) (*auth.Principal, error) {
	user := func(name string, roles ...string) *auth.Principal {
		return &auth.Principal{Kind: auth.User, Name: name, Email: name, Roles: roles, UserID: name}
	}
	switch token {
	case "alice":
		return user("alice@example.com", "external"), nil
	case "bob":
		return user("bob@example.com", "external"), nil
	case "viewer":
		return user("vera@example.com", "viewer"), nil
	case "stranger":
		return user("sam@example.com", "nobody"), nil
	case "down":
		return nil, fmt.Errorf("%w: dial tcp: connection refused", auth.ErrUnavailable)
	case "inactive":
		return nil, fmt.Errorf("%w: user is not active", auth.ErrForbidden)
	}
	return nil, fmt.Errorf("%w: token expired", auth.ErrUnauthorized)
}

func (fakeAuth) Enabled() bool { return true }

func (fakeAuth) Token(_ context.Context, req auth.TokenRequest) (*auth.TokenResponse, error) {
	if req.Code == "" {
		return nil, fmt.Errorf("%w: send a code", auth.ErrBadRequest)
	}
	return &auth.TokenResponse{Token: "t"}, nil
}

func (fakeAuth) UserInfo(_ context.Context, p *auth.Principal) (map[string]any, error) {
	if p.Kind != auth.User {
		return nil, fmt.Errorf("%w: /auth/userinfo needs a user token, not an API key", auth.ErrBadRequest)
	}
	return map[string]any{"email": p.Email}, nil
}

func (fakeAuth) Logout(context.Context, *auth.Principal) error { return nil }

// env is one server over a fresh bbolt file, seeded with a few documents.
type env struct {
	t     *testing.T
	url   string
	st    *store.Store
	src   *settings.Source
	reg   *prometheus.Registry
	logs  *testutil.LockedBuffer
	ids   map[string]string
	ready error
}

func newEnv(t *testing.T, modify ...func(*Options)) *env {
	t.Helper()
	st, err := store.Open(filepath.Join(t.TempDir(), "restkube.db"), store.Options{})
	if err != nil {
		t.Fatalf("opening store: %v", err)
	}
	t.Cleanup(func() { st.Close() })
	e := &env{t: t, st: st, src: settings.StaticSource(testConfig()), reg: prometheus.NewRegistry(), logs: &testutil.LockedBuffer{}, ids: map[string]string{}}
	opts := Options{
		Store:    st,
		Settings: e.src,
		Logger:   slog.New(slog.NewJSONHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Registry: e.reg,
		Auth:     fakeAuth{},
		Ready:    func() error { return e.ready },
	}
	for _, m := range modify {
		m(&opts)
	}
	srv, err := New(opts)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	hs := httptest.NewServer(srv)
	t.Cleanup(hs.Close)
	e.url = hs.URL
	e.seed("items", "api", `{"name":"apple","n":1,"tags":["red"]}`, `{"name":"banana","n":2}`, `{"name":"cherry","n":3}`)
	e.seed("tasks", "alice@example.com", `{"title":"mine"}`)
	e.seed("tasks", "bob@example.com", `{"title":"theirs"}`)
	e.seed("public", "api", `{"title":"notice"}`)
	e.seed("shared", "bob@example.com", `{"title":"common"}`)
	return e
}

// seed inserts docs, naming their ids {coll.N} in insertion order per collection.
func (e *env) seed(coll, user string, docs ...string) {
	e.t.Helper()
	for _, raw := range docs {
		var d store.Doc
		if err := json.Unmarshal([]byte(raw), &d); err != nil {
			e.t.Fatalf("seed: %v", err)
		}
		out, err := e.st.Insert(coll, []store.Doc{d}, user)
		if err != nil {
			e.t.Fatalf("seed: %v", err)
		}
		n := 0
		for e.ids[fmt.Sprintf("%s.%d", coll, n)] != "" {
			n++
		}
		e.ids[fmt.Sprintf("%s.%d", coll, n)] = out[0]["_id"].(string)
	}
}

// expand replaces {coll.N} by seeded ids.
func (e *env) expand(s string) string {
	for k, v := range e.ids {
		s = strings.ReplaceAll(s, "{"+k+"}", v)
	}
	return s
}

type response struct {
	status int
	header http.Header
	body   string
}

func (e *env) do(method, url string, headers map[string]string, body string) response {
	e.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(e.expand(body))
	}
	req, err := http.NewRequest(method, e.url+e.expand(url), rd)
	if err != nil {
		e.t.Fatalf("request: %v", err)
	}
	for k, v := range headers {
		req.Header.Set(k, e.expand(v))
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatalf("%s %s: %v", method, url, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		e.t.Fatalf("reading body: %v", err)
	}
	return response{status: res.StatusCode, header: res.Header, body: string(b)}
}

// scenario is one HTTP exchange and what its answer must (and must not) hold.
type scenario struct {
	name       string
	method     string
	url        string
	headers    map[string]string
	body       string
	status     int
	contains   []string
	absent     []string
	header     map[string]string
	noHeader   []string
	after      func(t *testing.T, e *env, r response)
	beforeEach func(e *env)
}

func key(k string) map[string]string { return map[string]string{"x-apikey": k} }
func bearer(tok string) map[string]string {
	return map[string]string{"Authorization": "Bearer " + tok}
}
func with(h map[string]string, k, v string) map[string]string {
	out := map[string]string{k: v}
	for a, b := range h {
		out[a] = b
	}
	return out
}

func runScenarios(t *testing.T, scenarios []scenario) {
	t.Helper()
	for _, sc := range scenarios {
		t.Run(sc.name, func(t *testing.T) {
			e := newEnv(t)
			if sc.beforeEach != nil {
				sc.beforeEach(e)
			}
			r := e.do(sc.method, sc.url, sc.headers, sc.body)
			if r.status != sc.status {
				t.Fatalf("status %d, want %d; body %s", r.status, sc.status, r.body)
			}
			for _, c := range sc.contains {
				if c = e.expand(c); !strings.Contains(r.body, c) {
					t.Errorf("body lacks %q: %s", c, r.body)
				}
			}
			for _, c := range sc.absent {
				if c = e.expand(c); strings.Contains(r.body, c) {
					t.Errorf("body holds %q: %s", c, r.body)
				}
			}
			for k, v := range sc.header {
				if got := r.header.Get(k); got != v {
					t.Errorf("header %s = %q, want %q", k, got, v)
				}
			}
			for _, k := range sc.noHeader {
				if got := r.header.Get(k); got != "" {
					t.Errorf("header %s = %q, want none", k, got)
				}
			}
			// Every answer outside the probes is JSON, errors included, and never a 500.
			if r.status != http.StatusNoContent {
				if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
					t.Errorf("Content-Type %q, want JSON", ct)
				}
				if !json.Valid([]byte(r.body)) {
					t.Errorf("body is not JSON: %s", r.body)
				}
			}
			if r.status >= 400 && r.status != http.StatusNoContent {
				var eb Error
				if err := json.Unmarshal([]byte(r.body), &eb); err != nil || eb.Status != r.status || eb.Name == "" || eb.Message == "" {
					t.Errorf("error body %s does not have the shape {status,name,message}", r.body)
				}
			}
			if sc.after != nil {
				sc.after(t, e, r)
			}
		})
	}
}

// count is the number of documents in coll.
func count(t *testing.T, e *env, coll string) int {
	t.Helper()
	n := 0
	if err := e.st.Scan(coll, func(store.Doc) bool { n++; return true }); err != nil {
		t.Fatalf("scan: %v", err)
	}
	return n
}

func expectStatus(method, url string, headers map[string]string, want int) func(*testing.T, *env, response) {
	return func(t *testing.T, e *env, _ response) {
		t.Helper()
		if r := e.do(method, url, headers, ""); r.status != want {
			t.Errorf("then %s %s: status %d, want %d (%s)", method, url, r.status, want, r.body)
		}
	}
}

func TestSettingsReloadApplies(t *testing.T) {
	e := newEnv(t)
	if r := e.do("GET", "/rest/items", key(fullKey), ""); r.status != 200 {
		t.Fatalf("old key: %d", r.status)
	}
	cfg := testConfig()
	cfg.APIKey = "a-brand-new-key-0123456789"
	cfg.Settings.CORS.AllowedOrigins = []string{"https://new.example"}
	e.src.Set(cfg)
	if r := e.do("GET", "/rest/items", key(fullKey), ""); r.status != 401 {
		t.Errorf("old key after reload: %d, want 401", r.status)
	}
	if r := e.do("GET", "/rest/items", key(cfg.APIKey), ""); r.status != 200 {
		t.Errorf("new key after reload: %d, want 200", r.status)
	}
	pre := map[string]string{"Origin": "https://new.example", "Access-Control-Request-Method": "GET"}
	if r := e.do("OPTIONS", "/rest/items", pre, ""); r.status != 204 {
		t.Errorf("preflight from the new origin: %d, want 204", r.status)
	}
	pre["Origin"] = appOrigin
	if r := e.do("OPTIONS", "/rest/items", pre, ""); r.status != 403 {
		t.Errorf("preflight from the dropped origin: %d, want 403", r.status)
	}
}

// Every JSON answer carries its exact length (no chunked encoding) and a body that is JSON on
// its own, also when a large answer's recycled buffer is reused by a small one next.
func TestAnswersCarryTheirLength(t *testing.T) {
	e := newEnv(t)
	var big []string
	for i := range 60 {
		big = append(big, fmt.Sprintf(`{"name":"item %d","note":"%s"}`, i, strings.Repeat("x", 200)))
	}
	e.seed("many", "api", big...)
	for _, c := range []struct {
		method, url, body string
		status            int
	}{
		{"GET", "/rest/many?max=60", "", 200},
		{"GET", "/rest/items/{items.0}", "", 200},
		{"GET", "/rest/many?max=60&totals=true", "", 200},
		{"GET", "/rest/items?q={\"n\":2}", "", 200},
		{"POST", "/rest/items", `{"name":"date","n":4}`, 201},
		{"GET", "/rest/many?max=60&metafields=true", "", 200},
		{"GET", "/rest/items/000000000000000000000000", "", 404},
		{"PUT", "/rest/items/{items.1}", `{"n":20}`, 200},
		{"GET", "/rest/nope/zzz", "", 400},
	} {
		r := e.do(c.method, c.url, key(fullKey), c.body)
		if r.status != c.status {
			t.Fatalf("%s %s: status %d, want %d: %s", c.method, c.url, r.status, c.status, r.body)
		}
		if got := r.header.Get("Content-Length"); got != fmt.Sprint(len(r.body)) {
			t.Errorf("%s %s: Content-Length %q for a body of %d bytes", c.method, c.url, got, len(r.body))
		}
		if ct := r.header.Get("Content-Type"); ct != "application/json; charset=utf-8" {
			t.Errorf("%s %s: Content-Type %q", c.method, c.url, ct)
		}
		if !strings.HasSuffix(r.body, "\n") || !json.Valid([]byte(r.body)) {
			t.Errorf("%s %s: body is not one JSON value and a newline: %.300q", c.method, c.url, r.body)
		}
	}
}
