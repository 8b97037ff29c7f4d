package auth

import (
	"context"
	"errors"
	"log/slog"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/restkube/restkube/dbserver/auth/oidctest"
	"github.com/restkube/restkube/dbserver/settings"
	"github.com/restkube/restkube/dbserver/store"
	"github.com/restkube/restkube/internal/testutil"
)

const (
	testClientID     = "client-4f2a"
	testClientSecret = "client-secret-9a8b7c6d5e4f3a2b1c0d"
	testSigningKey   = "signing-key-0f1e2d3c4b5a69788796a5b4"
	testAPIKey       = "api-key-77aa88bb99cc"
)

// env is one Service over a real store file, talking to a local provider over loopback.
type env struct {
	t       *testing.T
	prov    *oidctest.Provider
	clock   *testutil.Clock
	dbPath  string
	st      *store.Store
	cfg     atomic.Pointer[settings.Config]
	svc     *Service
	logs    *testutil.LockedBuffer
	secrets []string // strings that must never show in logs or error messages
	timeout time.Duration
}

func newEnv(t *testing.T) *env {
	t.Helper()
	e := &env{
		t:       t,
		clock:   testutil.NewClock(time.Now().Truncate(time.Second)),
		dbPath:  filepath.Join(t.TempDir(), "db.bolt"),
		logs:    &testutil.LockedBuffer{},
		timeout: 2 * time.Second,
	}
	e.prov = oidctest.New(t, testClientID, testClientSecret)
	e.prov.SetClock(e.clock.Now)
	e.cfg.Store(&settings.Config{
		Settings: settings.Settings{Auth: settings.Auth{
			Enabled: true, TokenTTL: "1h", DefaultRoles: []string{"external"},
			Auth0: &settings.Auth0{ClientID: testClientID, Issuer: e.prov.Issuer},
		}},
		APIKey: testAPIKey, SigningKey: testSigningKey, ClientSecret: testClientSecret,
	})
	e.secret(testClientSecret, testSigningKey, testAPIKey)
	e.openStore()
	e.newService()
	t.Cleanup(func() {
		_ = e.st.Close()
		e.assertNoSecretsLogged()
	})
	return e
}

func (e *env) openStore() {
	e.t.Helper()
	st, err := store.Open(e.dbPath, store.Options{Logger: slog.New(slog.NewTextHandler(e.logs, nil))})
	if err != nil {
		e.t.Fatalf("open store: %v", err)
	}
	e.st = st
}

// reopen simulates a restart: the store is closed and opened again, the Service rebuilt.
func (e *env) reopen() {
	e.t.Helper()
	if err := e.st.Close(); err != nil {
		e.t.Fatalf("close store: %v", err)
	}
	e.openStore()
	e.newService()
}

func (e *env) newService() {
	e.svc = New(Options{
		Config:          e.cfg.Load,
		Users:           NewStoreUsers(e.st),
		Revocations:     NewStoreRevocations(e.st),
		ProviderTimeout: e.timeout,
		Now:             e.clock.Now,
		Logger:          slog.New(slog.NewJSONHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	})
}

// secret registers strings that must never appear in logs or error messages.
// Strings under 8 bytes (test codes like "x") are too short to mean anything in a log.
func (e *env) secret(s ...string) {
	for _, x := range s {
		if len(x) >= 8 {
			e.secrets = append(e.secrets, x)
		}
	}
}

func (e *env) assertNoSecretsLogged() {
	e.t.Helper()
	logs := e.logs.String()
	for _, s := range e.secrets {
		if s != "" && strings.Contains(logs, s) {
			e.t.Errorf("logs leak a secret or token (%.12s…):\n%s", s, logs)
		}
	}
}

func (e *env) checkErrText(err error) {
	e.t.Helper()
	if err == nil {
		return
	}
	for _, s := range e.secrets {
		if s != "" && strings.Contains(err.Error(), s) {
			e.t.Errorf("error message leaks a secret or token: %v", err)
		}
	}
}

func (e *env) authenticate(tok string) (*Principal, error) {
	e.t.Helper()
	e.secret(tok)
	p, err := e.svc.Authenticate(context.Background(), tok)
	e.checkErrText(err)
	return p, err
}

func (e *env) token(req TokenRequest) (*TokenResponse, error) {
	e.t.Helper()
	e.secret(req.Code, req.Refresh)
	resp, err := e.svc.Token(context.Background(), req)
	e.checkErrText(err)
	if resp != nil {
		e.secret(resp.Token)
	}
	return resp, err
}

// login exchanges a fresh RS256 ID token of sub/email for a RestKube token.
func (e *env) login(sub, email string) *TokenResponse {
	e.t.Helper()
	idt := e.prov.Sign(e.prov.Key("RS256"), e.prov.Claims(sub, email))
	resp, err := e.token(TokenRequest{Code: idt})
	if err != nil {
		e.t.Fatalf("login %s: %v", sub, err)
	}
	return resp
}

func (e *env) setConfig(change func(c *settings.Config)) {
	c := *e.cfg.Load()
	a := *c.Settings.Auth.Auth0
	c.Settings.Auth.Auth0 = &a
	change(&c)
	e.cfg.Store(&c)
}

func (e *env) userDoc(id string) store.Doc {
	e.t.Helper()
	d, err := e.st.Get(UsersCollection, id)
	if err != nil {
		e.t.Fatalf("get user %s: %v", id, err)
	}
	return d
}

func wantErr(t *testing.T, err, want error) {
	t.Helper()
	if want == nil {
		if err != nil {
			t.Fatalf("unexpected error: %v", err)
		}
		return
	}
	if !errors.Is(err, want) {
		t.Fatalf("error = %v, want %v", err, want)
	}
}

func withClaims(c jwt.MapClaims, change func(jwt.MapClaims)) jwt.MapClaims {
	change(c)
	return c
}
