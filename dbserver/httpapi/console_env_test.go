package httpapi

import (
	"log/slog"
	"net/http/httptest"
	"path/filepath"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/restkube/restkube/dbserver/auth"
	"github.com/restkube/restkube/dbserver/auth/oidctest"
	"github.com/restkube/restkube/dbserver/backup"
	"github.com/restkube/restkube/dbserver/media"
	"github.com/restkube/restkube/dbserver/realtime"
	"github.com/restkube/restkube/dbserver/settings"
	"github.com/restkube/restkube/dbserver/store"
	"github.com/restkube/restkube/internal/testutil"
)

const (
	consoleClientID     = "console-client"
	consoleClientSecret = "console-client-secret-0123456789"
)

// consoleEnv is a dbserver wired as `dbserver serve` wires it, for the console's browser
// test: real auth against the local OIDC provider, the realtime hub fed by the store's
// commits, the media archive and the backup service (its credentials in creds).
type consoleEnv struct {
	*env
	prov  *oidctest.Provider
	creds string
}

// consoleConfig is testConfig with auth on (the provider at issuer), the console open to
// the role "admin" (which may read and write items, and nothing else), and realtime off
// until a test turns it on.
func consoleConfig(issuer string) *settings.Config {
	cfg := testConfig()
	cfg.ClientSecret = consoleClientSecret
	cfg.Settings.Auth = settings.Auth{Enabled: true, Auth0: &settings.Auth0{ClientID: consoleClientID, Issuer: issuer}}
	cfg.Settings.Console = &settings.Console{Roles: []string{"admin"}}
	cfg.Settings.Collections = append(cfg.Settings.Collections, settings.Collection{Name: "items", Access: map[string]settings.Rights{"admin": {Read: true, Write: true}}})
	cfg.Settings.Limits.MaxBodyBytes = 1 << 20
	return cfg
}

func newConsoleEnv(t *testing.T) *consoleEnv {
	t.Helper()
	prov := oidctest.New(t, consoleClientID, consoleClientSecret)
	src := settings.StaticSource(consoleConfig(prov.Issuer))
	reg := prometheus.NewRegistry()
	hub, err := realtime.New(realtime.Options{
		Enabled:        func() bool { return src.Current().Settings.Realtime.Enabled },
		MaxSubscribers: func() int { return src.Current().Settings.Realtime.MaxSubscribers },
		Registerer:     reg,
	})
	if err != nil {
		t.Fatal(err)
	}
	st, err := store.Open(filepath.Join(t.TempDir(), "restkube.db"), store.Options{OnCommit: hub.Commit})
	if err != nil {
		t.Fatal(err)
	}
	archive, err := media.Open(media.Options{Dir: filepath.Join(t.TempDir(), "media"), Store: st, Registry: reg})
	if err != nil {
		t.Fatal(err)
	}
	creds := t.TempDir()
	backups, err := backup.NewService(backup.ServiceOptions{CopyFile: st.CopyFile, Media: archive, Settings: src.Current, CredentialsDir: creds, Registry: reg})
	if err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, st: st, src: src, reg: reg, logs: &testutil.LockedBuffer{}, ids: map[string]string{}}
	logger := slog.New(slog.NewJSONHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	users := auth.New(auth.Options{Config: src.Current, Users: auth.NewStoreUsers(st), Revocations: auth.NewStoreRevocations(st), Logger: logger})
	srv, err := New(Options{Store: st, Settings: src, Logger: logger, Registry: reg, Auth: users, Media: archive, Realtime: hub, Backup: backups})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewUnstartedServer(srv)
	hs.Config.RegisterOnShutdown(hub.Close)
	hs.Start()
	t.Cleanup(func() {
		hub.Close() // ends open streams, so that Close does not wait for them
		hs.Close()
		backups.Close()
		_ = st.Close()
	})
	e.url = hs.URL
	e.seed("items", "api", `{"name":"apple","n":1,"tags":["red"]}`, `{"name":"banana","n":2}`, `{"name":"cherry","n":3}`)
	e.seed("public", "api", `{"title":"notice"}`)
	prov.SetApp(oidctest.App{CallbackURLs: []string{e.url + "/console/"}, LogoutURLs: []string{e.url + "/console/"}, WebOrigins: []string{e.url}})
	return &consoleEnv{env: e, prov: prov, creds: creds}
}

// update changes a copy of the settings in force and puts it in force.
func (e *consoleEnv) update(change func(*settings.Config)) {
	c := *e.src.Current()
	change(&c)
	e.src.Set(&c)
}
