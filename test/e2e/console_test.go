//go:build e2e

package e2e_test

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/restkube/restkube/internal/testutil"
)

// TestConsole runs a Database whose console is off (the cluster default), turns it on with a
// console role through the spec, and checks what the settings carry to the dbserver: the
// console's page with its strict policy, its sign-in description naming the role (with the
// identity provider's failure, as the issuer here cannot be reached), and the backups listing
// saying no object store is configured. The browser side is TestConsoleInChromium's.
func TestConsole(t *testing.T) {
	e := loadEnv(t)
	repo, tag := e.imageUnderTest(t)
	const ns, name = "e2e-console", "admin"
	step := steps(t)
	e.startClean(t, ns)
	manifest := fmt.Sprintf(`apiVersion: v1
kind: Secret
metadata: {name: idp}
stringData: {clientSecret: e2e-client-secret}
---
apiVersion: db.restkube.dev/v1alpha1
kind: Database
metadata: {name: %s}
spec:
  storage: {size: 64Mi}
  auth:
    enabled: true
    auth0: {issuer: "http://127.0.0.1:9/", clientID: console-e2e, secretRef: {name: idp, key: clientSecret}}
  resources: {requests: {cpu: 10m, memory: 32Mi}}
`, name)

	var base, key string
	step("a Database serves, its console off", func(t *testing.T) {
		e.installOperator(t, release, releaseNS, repo, tag)
		base, key = e.applyDatabase(t, ns, name, manifest)
		r := mustCall(t, http.MethodGet, base+"/console/", nil, nil, http.StatusNotFound, nil)
		if !strings.Contains(string(r.body), "console.enabled") {
			t.Errorf("console off: %s", r)
		}
	})

	step("spec.console turns it on, with a role for external users", func(t *testing.T) {
		e.kubectl(t, "-n", ns, "patch", "database", name, "--type=merge", "-p", `{"spec":{"console":{"enabled":true,"roles":["admin"]}}}`)
		testutil.Eventually(t, 2*time.Minute, "the console is served", func() error {
			r, err := call(http.MethodGet, base+"/console/", nil, nil)
			if err == nil && r.status != http.StatusOK {
				err = fmt.Errorf("GET /console/: %s", r)
			}
			return err
		})
		r := mustCall(t, http.MethodGet, base+"/console/", nil, nil, http.StatusOK, nil)
		if csp := r.header.Get("Content-Security-Policy"); !strings.Contains(csp, "frame-ancestors 'none'") || strings.Contains(csp, "unsafe-inline") {
			t.Errorf("console CSP %q", csp)
		}
		var signin struct {
			External *struct {
				Roles []string `json:"roles"`
				Error string   `json:"error"`
			} `json:"external"`
		}
		mustCall(t, http.MethodGet, base+"/console/signin.json", nil, nil, http.StatusOK, &signin)
		if signin.External == nil || !slices.Equal(signin.External.Roles, []string{"admin"}) || signin.External.Error == "" {
			t.Errorf("signin.json = %+v; want the role admin and the unreachable provider said", signin.External)
		}
	})

	step("the backups listing says no object store is configured", func(t *testing.T) {
		var list struct {
			Configured *bool `json:"configured"`
			Runs       []any `json:"runs"`
		}
		mustCall(t, http.MethodGet, base+"/admin/backups", map[string]string{"x-apikey": key}, nil, http.StatusOK, &list)
		if list.Configured == nil || *list.Configured || len(list.Runs) != 0 {
			t.Errorf("GET /admin/backups = %+v, want configured false and no runs", list)
		}
	})
}
