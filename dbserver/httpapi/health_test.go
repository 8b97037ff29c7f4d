package httpapi

import (
	"fmt"
	"strings"
	"testing"
)

func TestProbesAndMetrics(t *testing.T) {
	e := newEnv(t)
	for _, p := range []string{"/healthz", "/readyz"} {
		if r := e.do("GET", p, nil, ""); r.status != 200 {
			t.Errorf("%s: %d, want 200", p, r.status)
		}
	}
	e.ready = fmt.Errorf("shutting down")
	if r := e.do("GET", "/readyz", nil, ""); r.status != 503 {
		t.Errorf("/readyz while not ready: %d, want 503", r.status)
	}
	if r := e.do("GET", "/healthz", nil, ""); r.status != 200 {
		t.Errorf("/healthz while not ready: %d, want 200", r.status)
	}
	e.do("GET", "/rest/items/{items.0}", key(fullKey), "")
	e.do("GET", "/rest/items/{items.1}", key(fullKey), "")
	e.do("GET", "/rest/items", nil, "")
	r := e.do("GET", "/metrics", nil, "")
	if r.status != 200 {
		t.Fatalf("/metrics: %d", r.status)
	}
	for _, want := range []string{
		`restkube_http_requests_total{method="GET",route="/rest/{coll}/{id}",status="200"} 2`,
		`restkube_http_requests_total{method="GET",route="/rest/{coll}",status="401"} 1`,
		`restkube_http_request_duration_seconds_bucket{method="GET",route="/rest/{coll}/{id}",status="200"`,
	} {
		if !strings.Contains(r.body, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
	if strings.Contains(r.body, e.ids["items.0"]) {
		t.Errorf("metrics hold a raw document id")
	}
}
