package httpapi

import (
	"strings"
	"testing"
)

func TestCredentials(t *testing.T) {
	runScenarios(t, []scenario{
		{name: "no credentials is 401", method: "GET", url: "/rest/items", status: 401, contains: []string{`"name":"Unauthorized"`}},
		{name: "a wrong key is 401", method: "GET", url: "/rest/items", headers: key("nope"), status: 401, contains: []string{"Unauthorized"}},
		{name: "the full key in x-apikey reads", method: "GET", url: "/rest/items", headers: key(fullKey), status: 200, contains: []string{"apple", "banana", "cherry"}},
		{name: "the full key in ?apikey= reads", method: "GET", url: "/rest/items?apikey=" + fullKey, status: 200, contains: []string{"apple"}},
		{name: "a Basic authorization is 401", method: "GET", url: "/rest/items", headers: map[string]string{"Authorization": "Basic YTpi"}, status: 401},
		{name: "an empty bearer is 401", method: "GET", url: "/rest/items", headers: map[string]string{"Authorization": "Bearer "}, status: 401},
		{name: "an expired bearer token is 401", method: "GET", url: "/rest/items", headers: bearer("expired"), status: 401, contains: []string{"token expired"}},
		{name: "an unreachable identity provider is 503", method: "GET", url: "/rest/public", headers: bearer("down"), status: 503, contains: []string{"ServiceUnavailable"}},
		{name: "an inactive user is 403", method: "GET", url: "/rest/public", headers: bearer("inactive"), status: 403, contains: []string{"Forbidden"}},
	})
}

func TestBearerWithoutAuthenticatorIs401(t *testing.T) {
	e := newEnv(t, func(o *Options) { o.Auth = nil })
	r := e.do("GET", "/rest/items", bearer("alice"), "")
	if r.status != 401 || !strings.Contains(r.body, "Unauthorized") {
		t.Fatalf("status %d body %s, want 401 Unauthorized", r.status, r.body)
	}
}
