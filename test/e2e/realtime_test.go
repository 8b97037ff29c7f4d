//go:build e2e

package e2e_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/restkube/restkube/internal/testutil"
)

// TestRealtimeThroughService installs the chart, creates a Database with realtime on and a web
// key with channels, subscribes to /realtime through the Database's Service (as a browser's
// EventSource does: the key in the query string) and sees a document that another client
// creates, and a message it publishes; then it uninstalls.
func TestRealtimeThroughService(t *testing.T) {
	e := loadEnv(t)
	repo, tag := e.imageUnderTest(t)
	const ns, name = "e2e-realtime", "live"
	webKey := randomKey(t)
	manifest := fmt.Sprintf(`apiVersion: v1
kind: Secret
metadata: {name: live-webkey, labels: {db.restkube.dev/watch: "true"}}
stringData: {key: %q}
---
apiVersion: db.restkube.dev/v1alpha1
kind: Database
metadata: {name: %s}
spec:
  storage: {size: 64Mi, deletionPolicy: Delete}
  realtime: {enabled: true, maxSubscribers: 10}
  apiKeys:
    web:
    - name: page
      secretRef: {name: live-webkey, key: key}
      paths: ["/quotes/**"]
      channels: ["POST:quotes", "PUBLISH:ticker"]
  resources: {requests: {cpu: 10m, memory: 32Mi}}
`, webKey, name)

	_, _ = e.run(t.Context(), nil, e.helm, "uninstall", release, "-n", releaseNS, "--wait")
	e.kubectl(t, "delete", "namespace", ns, "--ignore-not-found", "--wait", "--timeout=3m")
	e.installOperator(t, release, releaseNS, repo, tag)
	t.Cleanup(func() {
		_, _ = e.run(context.Background(), nil, e.kubectlBin, "--kubeconfig", e.kubeconfig, "delete", "namespace", ns, "--wait", "--timeout=3m")
		_, _ = e.run(context.Background(), nil, e.helm, "uninstall", release, "-n", releaseNS, "--wait")
	})
	base, fullKey := e.applyDatabase(t, ns, name, manifest)

	// The subscriber: the web key in the query string, as EventSource sends it.
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	var res *http.Response
	testutil.Eventually(t, 30*time.Second, "GET /realtime streams", func() error {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, base+"/realtime?apikey="+webKey, nil)
		req.Header.Set("Accept", "text/event-stream")
		r, err := http.DefaultClient.Do(req)
		if err != nil {
			return err
		}
		if r.StatusCode != http.StatusOK || !strings.HasPrefix(r.Header.Get("Content-Type"), "text/event-stream") {
			r.Body.Close()
			return fmt.Errorf("GET /realtime: %d %s", r.StatusCode, r.Header.Get("Content-Type"))
		}
		res = r
		return nil
	})
	defer res.Body.Close()
	events := make(chan [2]string, 100)
	go func() {
		defer close(events)
		sc := bufio.NewScanner(res.Body)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		var name, data string
		for sc.Scan() {
			switch line := sc.Text(); {
			case line == "":
				if name != "" {
					events <- [2]string{name, data}
				}
				name, data = "", ""
			case strings.HasPrefix(line, "event: "):
				name = line[7:]
			case strings.HasPrefix(line, "data: "):
				data = line[6:]
			}
		}
	}()
	wait := func(want string) map[string]any {
		t.Helper()
		timeout := time.After(30 * time.Second)
		for {
			select {
			case ev, ok := <-events:
				if !ok {
					t.Fatalf("the stream ended before a %s event", want)
				}
				if ev[0] != want {
					continue
				}
				if want == "ping" {
					// A ping's data is the server's time as a bare ISO-8601 string, not JSON.
					if _, err := time.Parse(time.RFC3339, ev[1]); err != nil {
						t.Fatalf("ping data %q is not an ISO-8601 time: %v", ev[1], err)
					}
					return nil
				}
				var d map[string]any
				if err := json.Unmarshal([]byte(ev[1]), &d); err != nil {
					t.Fatalf("%s data %q: %v", want, ev[1], err)
				}
				return d
			case <-timeout:
				t.Fatalf("no %s event within 30s", want)
			}
		}
	}
	wait("ping") // the stream is live

	// Another client writes with the full-access key, through the same Service.
	var created struct {
		ID string `json:"_id"`
	}
	mustCall(t, http.MethodPost, base+"/rest/quotes", map[string]string{"x-apikey": fullKey}, map[string]any{"symbol": "RKB", "price": 42.5}, http.StatusCreated, &created)
	d := wait("post")
	doc, _ := d["data"].(map[string]any)
	if d["collection"] != "quotes" || doc["_id"] != created.ID || doc["symbol"] != "RKB" {
		t.Fatalf("post event %v, want the created quote %s", d, created.ID)
	}
	mustCall(t, http.MethodPost, base+"/realtime", map[string]string{"x-apikey": fullKey}, map[string]any{"event": "ticker", "data": map[string]any{"open": true}}, http.StatusOK, nil)
	if d := wait("publish"); d["event"] != "ticker" {
		t.Fatalf("publish event %v", d)
	}
}
