package httpapi

import (
	"strings"
	"testing"
)

func TestCORS(t *testing.T) {
	preflight := func(origin string) map[string]string {
		return map[string]string{"Origin": origin, "Access-Control-Request-Method": "PUT", "Access-Control-Request-Headers": "x-apikey, if-match"}
	}
	runScenarios(t, []scenario{
		{name: "a preflight from an allowed origin is 204", method: "OPTIONS", url: "/rest/items/{items.0}", headers: preflight(appOrigin), status: 204,
			header: map[string]string{
				"Access-Control-Allow-Origin":   appOrigin,
				"Access-Control-Allow-Headers":  corsAllowHeaders,
				"Access-Control-Allow-Methods":  corsMethods,
				"Access-Control-Expose-Headers": "ETag",
			}},
		{name: "a preflight from a web key's origin is 204", method: "OPTIONS", url: "/rest/tasks", headers: preflight(siteOrigin), status: 204,
			header: map[string]string{"Access-Control-Allow-Origin": siteOrigin}},
		{name: "a preflight from another origin is 403 without CORS headers", method: "OPTIONS", url: "/rest/items", headers: preflight("https://evil.example"), status: 403,
			noHeader: []string{"Access-Control-Allow-Origin", "Access-Control-Allow-Methods", "Access-Control-Allow-Headers"}},
		{name: "an answer to an allowed origin carries CORS headers", method: "GET", url: "/rest/items/{items.0}", headers: with(key(fullKey), "Origin", appOrigin), status: 200,
			header: map[string]string{"Access-Control-Allow-Origin": appOrigin, "Access-Control-Expose-Headers": "ETag", "ETag": `"0"`}},
		{name: "an error to an allowed origin carries CORS headers too", method: "GET", url: "/rest/items", headers: map[string]string{"Origin": appOrigin}, status: 401,
			header: map[string]string{"Access-Control-Allow-Origin": appOrigin}},
		{name: "an answer to another origin has no CORS headers", method: "GET", url: "/rest/items", headers: with(key(fullKey), "Origin", "https://evil.example"), status: 200,
			noHeader: []string{"Access-Control-Allow-Origin"}},
	})
}

func TestLogsHoldNoSecrets(t *testing.T) {
	e := newEnv(t)
	e.do("GET", "/rest/items?apikey="+fullKey, map[string]string{"Authorization": "Bearer alice"}, "")
	e.do("GET", "/rest/items", key(fullKey), "")
	e.do("GET", "/rest/public", bearer("alice"), "")
	logs := e.logs.String()
	if !strings.Contains(logs, `"route":"/rest/{coll}"`) || !strings.Contains(logs, `"status":200`) {
		t.Fatalf("request logs missing: %s", logs)
	}
	// Successes log at debug (cheap when off), client errors at info.
	for _, line := range strings.Split(strings.TrimSpace(logs), "\n") {
		switch {
		case strings.Contains(line, `"status":200`) && !strings.Contains(line, `"level":"DEBUG"`):
			t.Errorf("a 200 not logged at debug: %s", line)
		case strings.Contains(line, `"status":401`) && !strings.Contains(line, `"level":"INFO"`):
			t.Errorf("a 401 not logged at info: %s", line)
		}
	}
	for _, secret := range []string{fullKey, "Bearer", "apikey"} {
		if strings.Contains(logs, secret) {
			t.Errorf("logs hold %q: %s", secret, logs)
		}
	}
}
