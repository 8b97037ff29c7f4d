package main

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/restkube/restkube/dbserver/auth/oidctest"
	"github.com/restkube/restkube/internal/testutil"
)

// call does one request with an optional Bearer token and returns its status and body.
func (p *proc) call(method, path, token, body string) (int, string) {
	p.t.Helper()
	if token == "" {
		return p.request(method, path, "", "", body)
	}
	return p.request(method, path, "Authorization", "Bearer "+token, body)
}

func (p *proc) login(idToken string) string {
	p.t.Helper()
	status, body := p.call("POST", "/auth/token", "", `{"code":"`+idToken+`"}`)
	var tr struct{ Token string }
	if status != 200 || json.Unmarshal([]byte(body), &tr) != nil || tr.Token == "" {
		p.t.Fatalf("login: %d %s\n%s", status, body, p.logs())
	}
	return tr.Token
}

// TestExternalUsersThroughTheBinary runs the real dbserver against a local OIDC provider:
// login, private data, logout that survives a restart, and a signing-key rotation on disk.
func TestExternalUsersThroughTheBinary(t *testing.T) {
	const clientID, clientSecret = "client-main", "client-secret-main-0123456789"
	const signing1, signing2 = "signing-one-0123456789abcdef", "signing-two-0123456789abcdef"
	prov := oidctest.New(t, clientID, clientSecret)
	cfgDir, dataDir := t.TempDir(), t.TempDir()
	testutil.WriteFile(t, filepath.Join(cfgDir, "settings.json"), `{
		"auth": {"enabled": true, "auth0": {"clientID": "`+clientID+`", "issuer": "`+prov.Issuer+`"}},
		"collections": [{"name": "notes", "private": true, "access": {"external": {"read": true, "write": true}}}]
	}`)
	testutil.WriteFile(t, filepath.Join(cfgDir, "api-key"), oldKey)
	testutil.WriteFile(t, filepath.Join(cfgDir, "signing-key"), signing1)
	testutil.WriteFile(t, filepath.Join(cfgDir, "auth0-client-secret"), clientSecret+"\n")
	p := start(t, "--data-dir="+dataDir, "--config-dir="+cfgDir)

	ann := p.login(prov.Sign(prov.Key("RS256"), prov.Claims("auth0|ann", "ann@example.com")))
	ben := p.login(prov.SignHS256(prov.Claims("auth0|ben", "ben@example.com")))
	if s, body := p.call("POST", "/rest/notes", ann, `{"text":"ann's note"}`); s != 201 || !strings.Contains(body, `"_createdby":"ann@example.com"`) {
		t.Fatalf("ann creates: %d %s", s, body)
	}
	if s, body := p.call("GET", "/rest/notes", ben, ""); s != 200 || strings.Contains(body, "ann's note") {
		t.Errorf("ben lists: %d %s", s, body)
	}
	if s, body := p.call("POST", "/auth/logout", ben, ""); s != 200 || !strings.Contains(body, `"ok"`) {
		t.Fatalf("logout: %d %s", s, body)
	}
	if s, _ := p.call("GET", "/rest/notes", ben, ""); s != 401 {
		t.Errorf("ben after logout: %d, want 401", s)
	}
	if code := p.stop(); code != 0 {
		t.Fatalf("exit %d:\n%s", code, p.logs())
	}
	logs := p.logs()

	// Restarted on the same data: the revocation holds, other tokens still work.
	p = start(t, "--data-dir="+dataDir, "--config-dir="+cfgDir)
	if s, _ := p.call("GET", "/rest/notes", ben, ""); s != 401 {
		t.Errorf("ben's revoked token after restart: %d, want 401", s)
	}
	if s, body := p.call("GET", "/rest/notes", ann, ""); s != 200 || !strings.Contains(body, "ann's note") {
		t.Errorf("ann after restart: %d %s", s, body)
	}

	// A new signing-key on disk applies without restart: tokens signed with the old one stop working.
	testutil.ReplaceByRename(t, filepath.Join(cfgDir, "signing-key"), signing2)
	testutil.EventuallyTrue(t, 10*time.Second, "the old signing key retired", func() bool {
		s, _ := p.call("GET", "/rest/notes", ann, "")
		return s == 401
	})
	ann2 := p.login(prov.Sign(prov.Key("ES256"), prov.Claims("auth0|ann", "ann@example.com")))
	if s, body := p.call("GET", "/auth/userinfo", ann2, ""); s != 200 || !strings.Contains(body, "ann@example.com") {
		t.Errorf("userinfo with a token of the new key: %d %s", s, body)
	}
	if code := p.stop(); code != 0 {
		t.Fatalf("exit %d:\n%s", code, p.logs())
	}
	logs += p.logs()
	for _, s := range []string{clientSecret, signing1, signing2, oldKey, ann, ben, ann2} {
		if strings.Contains(logs, s) {
			t.Errorf("logs hold a secret or token (%.10s…)", s)
		}
	}
}
