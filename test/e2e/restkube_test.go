//go:build e2e

package e2e_test

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/restkube/restkube/dbserver/auth/oidctest"
	"github.com/restkube/restkube/internal/testutil"
)

const (
	release     = "restkube"
	releaseNS   = "restkube-system"
	appNS       = "e2e-apps"
	dbName      = "todo"
	clientID    = "e2e-client"
	crdName     = "databases.db.restkube.dev"
	redirectURI = "https://todo.example.com/callback"
)

// doc is a stored document as the API returns it.
type doc struct {
	ID        string  `json:"_id"`
	Title     string  `json:"title"`
	Done      bool    `json:"done"`
	N         float64 `json:"n"`
	Version   int     `json:"_version"`
	CreatedBy string  `json:"_createdby"`
}

// TestRestKube installs the chart and walks one Database through its life: Ready, REST and
// queries through its Service, an external user's login against a local OIDC provider, a key
// rotation without restart, a lost pod, deletion under Retain and re-creation, and the chart's
// upgrade and uninstall. The steps share the Database, so the first failure stops the test.
func TestRestKube(t *testing.T) {
	e := loadEnv(t)
	repo, tag := e.imageUnderTest(t)
	chart := e.root + "/charts/restkube"
	step := steps(t)

	// The identity provider listens on the node's address: the dbserver fetches discovery and
	// keys from it and exchanges authorization codes there, from inside its pod.
	clientSecret := randomKey(t)
	idp := oidctest.New(t, clientID, clientSecret)
	ln, err := net.Listen("tcp", net.JoinHostPort(e.nodeIP, "0"))
	if err != nil {
		t.Fatalf("listening on the node address %s: %v", e.nodeIP, err)
	}
	idpServer := &http.Server{Handler: idp.Server.Config.Handler, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = idpServer.Serve(ln) }()
	t.Cleanup(func() { _ = idpServer.Close() })
	idp.Issuer = "http://" + ln.Addr().String() + "/"

	manifest := fmt.Sprintf(`apiVersion: v1
kind: Secret
metadata: {name: todo-auth0}
stringData: {clientSecret: %q}
---
apiVersion: db.restkube.dev/v1alpha1
kind: Database
metadata: {name: %s}
spec:
  storage: {size: 64Mi, deletionPolicy: Retain}
  auth:
    enabled: true
    tokenTTL: 10m
    auth0:
      domain: e2e.example.com
      issuer: %q
      clientID: %s
      secretRef: {name: todo-auth0, key: clientSecret}
  collections:
  - name: tasks
    indexes: [done]
    private: true
    access: {external: {read: true, write: true}}
  resources: {requests: {cpu: 10m, memory: 32Mi}}
`, clientSecret, dbName, idp.Issuer, clientID)

	// What a previous, failed run may have left.
	_, _ = e.run(t.Context(), nil, e.helm, "uninstall", release, "-n", releaseNS, "--wait")
	e.kubectl(t, "delete", "namespace", appNS, "--ignore-not-found", "--wait", "--timeout=3m")

	var (
		base   string // the Service's URL
		apiKey string
		ids    = map[string]string{} // title → _id
	)
	key := func(k string) map[string]string { return map[string]string{"x-apikey": k} }

	step("helm install", func(t *testing.T) {
		tm := startTiming(t)
		e.installOperator(t, release, releaseNS, repo, tag)
		tm.done("helm install (operator available)")
	})

	step("Database becomes Ready", func(t *testing.T) {
		e.kubectl(t, "create", "namespace", appNS)
		tm := startTiming(t)
		e.apply(t, appNS, manifest)
		e.kubectl(t, "-n", appNS, "wait", "--for=condition=Ready", "database/"+dbName, "--timeout=3m")
		tm.done("Database to Ready")
		base, apiKey = e.serviceURL(t), e.apiKey(t)
		pod := e.dbPod(t)
		if sc := pod.Spec.SecurityContext; sc == nil || sc.RunAsUser == nil || *sc.RunAsUser != 65532 {
			t.Errorf("the dbserver pod does not run as uid 65532: %+v", pod.Spec.SecurityContext)
		}
		testutil.Eventually(t, 30*time.Second, "the Service answers", func() error {
			r, err := call(http.MethodGet, base+"/readyz", nil, nil)
			if err == nil && r.status != http.StatusOK {
				err = fmt.Errorf("readyz: %s", r)
			}
			return err
		})
	})

	step("REST CRUD and a query through the Service", func(t *testing.T) {
		var a doc
		mustCall(t, http.MethodPost, base+"/rest/tasks", key(apiKey), map[string]any{"title": "a", "done": false, "n": 1}, http.StatusCreated, &a)
		if a.ID == "" || a.Version != 0 || a.CreatedBy != "api" {
			t.Fatalf("created %+v", a)
		}
		var bulk []doc
		mustCall(t, http.MethodPost, base+"/rest/tasks", key(apiKey),
			[]map[string]any{{"title": "b", "done": true, "n": 2}, {"title": "c", "done": true, "n": 3}}, http.StatusCreated, &bulk)
		if len(bulk) != 2 {
			t.Fatalf("bulk create returned %d documents", len(bulk))
		}
		ids["a"], ids["b"], ids["c"] = a.ID, bulk[0].ID, bulk[1].ID

		var got doc
		mustCall(t, http.MethodGet, base+"/rest/tasks/"+a.ID, key(apiKey), nil, http.StatusOK, &got)
		if got.Title != "a" {
			t.Fatalf("read %+v", got)
		}
		mustCall(t, http.MethodPut, base+"/rest/tasks/"+a.ID, key(apiKey), map[string]any{"done": true, "$inc": map[string]any{"n": 10}}, http.StatusOK, &got)
		if !got.Done || got.N != 11 || got.Version != 1 {
			t.Fatalf("updated %+v, want done, n=11, _version 1", got)
		}

		var done []doc
		mustCall(t, http.MethodGet, base+"/rest/tasks?"+url.Values{"q": {`{"done":true}`}, "sort": {"n"}, "dir": {"-1"}}.Encode(),
			key(apiKey), nil, http.StatusOK, &done)
		if titles := titlesOf(done); titles != "a,c,b" {
			t.Fatalf("query done=true sorted by n descending: %s", titles)
		}
		var totals struct {
			Data   []doc `json:"data"`
			Totals struct {
				Total int `json:"total"`
			} `json:"totals"`
		}
		mustCall(t, http.MethodGet, base+"/rest/tasks?"+url.Values{"q": {`{"n":{"$gt":2}}`}, "totals": {"true"}, "max": {"1"}}.Encode(),
			key(apiKey), nil, http.StatusOK, &totals)
		if totals.Totals.Total != 2 || len(totals.Data) != 1 {
			t.Fatalf("totals: total %d, %d returned; want 2 and 1", totals.Totals.Total, len(totals.Data))
		}

		mustCall(t, http.MethodDelete, base+"/rest/tasks/"+ids["c"], key(apiKey), nil, http.StatusOK, nil)
		mustCall(t, http.MethodGet, base+"/rest/tasks/"+ids["c"], key(apiKey), nil, http.StatusNotFound, nil)
		delete(ids, "c")
		mustCall(t, http.MethodGet, base+"/rest/tasks", key("not-the-key"), nil, http.StatusUnauthorized, nil)

		// What the README tells users to do.
		fwd := e.portForward(t, appNS, "service/"+dbName, "80")
		mustCall(t, http.MethodGet, fwd+"/rest/tasks/"+ids["a"], key(apiKey), nil, http.StatusOK, &got)
		if got.Title != "a" {
			t.Fatalf("through port-forward: %+v", got)
		}
	})

	step("external users log in through /auth/token", func(t *testing.T) {
		// An ID token the browser got from the provider.
		idToken := idp.Sign(idp.Key("RS256"), idp.Claims("auth0|alice", "alice@example.com"))
		var tok struct {
			Token    string `json:"token"`
			IAT, EXP int64
		}
		mustCall(t, http.MethodPost, base+"/auth/token", nil, map[string]string{"code": idToken}, http.StatusOK, &tok)
		if tok.Token == "" || tok.EXP-tok.IAT != 600 {
			t.Fatalf("token answer %+v, want a token living tokenTTL (600 s)", tok)
		}
		alice := map[string]string{"Authorization": "Bearer " + tok.Token}
		var mine doc
		mustCall(t, http.MethodPost, base+"/rest/tasks", alice, map[string]any{"title": "alice's", "n": 100}, http.StatusCreated, &mine)
		if mine.CreatedBy != "alice@example.com" {
			t.Fatalf("_createdby = %q", mine.CreatedBy)
		}
		ids["alice's"] = mine.ID
		var seen []doc
		mustCall(t, http.MethodGet, base+"/rest/tasks", alice, nil, http.StatusOK, &seen)
		if titles := titlesOf(seen); titles != "alice's" {
			t.Fatalf("alice sees %s in a private collection", titles)
		}
		var info struct{ Email string }
		mustCall(t, http.MethodGet, base+"/auth/userinfo", alice, nil, http.StatusOK, &info)
		if info.Email != "alice@example.com" {
			t.Fatalf("userinfo email %q", info.Email)
		}

		// An authorization code: the dbserver exchanges it at the provider with the client secret.
		before := idp.Hits(oidctest.TokenPath)
		code := idp.IssueCode(idp.Sign(idp.Key("ES256"), idp.Claims("auth0|bob", "bob@example.com")), redirectURI)
		mustCall(t, http.MethodPost, base+"/auth/token", nil, map[string]string{"code": code, "redirect_uri": redirectURI}, http.StatusOK, &tok)
		if idp.Hits(oidctest.TokenPath) <= before {
			t.Fatal("the dbserver did not call the provider's token endpoint")
		}
		mustCall(t, http.MethodGet, base+"/rest/tasks", map[string]string{"Authorization": "Bearer " + tok.Token}, nil, http.StatusOK, &seen)
		if len(seen) != 0 {
			t.Fatalf("bob sees %s", titlesOf(seen))
		}
		forged := oidctest.SignHS256With([]byte("not the client secret"), nil, idp.Claims("auth0|mallory", "mallory@example.com"))
		mustCall(t, http.MethodPost, base+"/auth/token", nil, map[string]string{"code": forged}, http.StatusUnauthorized, nil)
	})

	step("a rotated API key works at once, the old one is refused, the pod stays", func(t *testing.T) {
		before := e.dbPod(t)
		oldKey, newKey := apiKey, randomKey(t)
		tm := startTiming(t)
		e.kubectl(t, "-n", appNS, "patch", "secret", dbName+"-credentials", "--type", "merge",
			"-p", fmt.Sprintf(`{"stringData":{"api-key":%q}}`, newKey))
		testutil.Eventually(t, 3*time.Minute, "the new key works and the old one is refused", func() error {
			r, err := call(http.MethodGet, base+"/rest/tasks", key(newKey), nil)
			if err != nil || r.status != http.StatusOK {
				return fmt.Errorf("new key: %v %v", r, err)
			}
			r, err = call(http.MethodGet, base+"/rest/tasks", key(oldKey), nil)
			if err != nil || r.status != http.StatusUnauthorized {
				return fmt.Errorf("old key: %v %v", r, err)
			}
			return nil
		})
		tm.done("API key rotation to effect")
		apiKey = newKey
		after := e.dbPod(t)
		if after.UID != before.UID || restarts(after) != restarts(before) {
			t.Fatalf("the pod was replaced or restarted: %s (%d restarts) → %s (%d restarts)",
				before.UID, restarts(before), after.UID, restarts(after))
		}
		if got := e.apiKey(t); got != newKey {
			t.Fatal("the operator overwrote the rotated key")
		}
	})

	step("data survives the pod's deletion", func(t *testing.T) {
		old := e.dbPod(t)
		tm := startTiming(t)
		e.kubectl(t, "-n", appNS, "delete", "pod", old.Name, "--wait", "--timeout=2m")
		e.waitServing(t, base, apiKey, old.UID)
		tm.done("deleted pod to serving again")
		e.checkDocs(t, base, apiKey, ids)
	})

	step("under Retain the claim outlives the Database and a new Database serves the old data", func(t *testing.T) {
		claimUID := e.claimUID(t)
		old := e.dbPod(t)
		e.kubectl(t, "-n", appNS, "delete", "database", dbName, "--wait", "--timeout=2m")
		testutil.Eventually(t, 2*time.Minute, "the Deployment is garbage-collected", func() error {
			if out, _ := e.kubectlErr("-n", appNS, "get", "deployment,service", "-l", "app.kubernetes.io/instance="+dbName, "-o", "name"); strings.TrimSpace(out) != "" {
				return fmt.Errorf("still there: %s", out)
			}
			return nil
		})
		if got := e.claimUID(t); got != claimUID {
			t.Fatalf("the claim changed: %s → %s", claimUID, got)
		}
		tm := startTiming(t)
		e.apply(t, appNS, manifest)
		e.kubectl(t, "-n", appNS, "wait", "--for=condition=Ready", "database/"+dbName, "--timeout=3m")
		tm.done("re-created Database to Ready")
		if got := e.claimUID(t); got != claimUID {
			t.Fatalf("the new Database did not adopt the claim: %s → %s", claimUID, got)
		}
		base, apiKey = e.serviceURL(t), e.apiKey(t)
		e.waitServing(t, base, apiKey, old.UID)
		e.checkDocs(t, base, apiKey, ids)
	})

	step("helm upgrade keeps the operator working", func(t *testing.T) {
		tm := startTiming(t)
		e.helmRun(t, "upgrade", release, chart, "-n", releaseNS, "--reuse-values",
			"--set-string", "podAnnotations.e2e-upgrade=done", "--wait", "--timeout", "5m")
		tm.done("helm upgrade")
		got := e.kubectl(t, "-n", releaseNS, "get", "deployment", "-l", "app.kubernetes.io/instance="+release,
			"-o", "jsonpath={.items[*].spec.template.metadata.annotations.e2e-upgrade}")
		if got != "done" {
			t.Fatalf("the upgraded operator Deployment lacks the new annotation: %q", got)
		}
		// The upgraded operator reconciles a change.
		e.kubectl(t, "-n", appNS, "patch", "database", dbName, "--type", "json",
			"-p", `[{"op":"add","path":"/spec/collections/-","value":{"name":"notes"}}]`)
		testutil.Eventually(t, 2*time.Minute, "the operator observes the new generation", func() error {
			out, err := e.kubectlErr("-n", appNS, "get", "database", dbName,
				"-o", `jsonpath={.metadata.generation} {.status.observedGeneration} {.status.conditions[?(@.type=="Ready")].status}`)
			if err != nil {
				return err
			}
			f := strings.Fields(out)
			if len(f) != 3 || f[0] != f[1] || f[2] != "True" {
				return fmt.Errorf("generation, observedGeneration, Ready = %q", out)
			}
			return nil
		})
		e.checkDocs(t, base, apiKey, ids)
	})

	step("helm uninstall leaves no operator objects", func(t *testing.T) {
		tm := startTiming(t)
		e.helmRun(t, "uninstall", release, "-n", releaseNS, "--wait", "--timeout", "5m")
		tm.done("helm uninstall")
		sel := "app.kubernetes.io/instance=" + release
		testutil.Eventually(t, 2*time.Minute, "no object of the release is left", func() error {
			out, err := e.kubectlErr("get", "clusterrole,clusterrolebinding,validatingwebhookconfiguration,mutatingwebhookconfiguration", "-l", sel, "-o", "name")
			if err != nil || strings.TrimSpace(out) != "" {
				return fmt.Errorf("cluster-scoped: %q %v", out, err)
			}
			left, err := e.namespaceContents(releaseNS)
			if err != nil {
				return err
			}
			if len(left) > 0 {
				return fmt.Errorf("left in %s: %s", releaseNS, strings.Join(left, ", "))
			}
			return nil
		})
		// By design the CRD stays (helm.sh/resource-policy: keep), and so do the databases.
		e.kubectl(t, "get", "crd", crdName)
		e.checkDocs(t, base, apiKey, ids)
	})
}

// namespaceContents lists the objects in ns that an uninstalled operator should not leave:
// everything except what Kubernetes puts in every namespace, and events. The leader-election
// Lease is not excused: the chart owns it, so uninstalling removes it.
func (e env) namespaceContents(ns string) ([]string, error) {
	kinds, err := e.kubectlErr("api-resources", "--namespaced", "--verbs=list", "-o", "name")
	if err != nil {
		return nil, err
	}
	var list []string
	for _, k := range strings.Fields(kinds) {
		if k == "events" || k == "events.events.k8s.io" {
			continue
		}
		list = append(list, k)
	}
	out, err := e.kubectlErr("-n", ns, "get", strings.Join(list, ","), "-o", "name", "--ignore-not-found")
	if err != nil {
		return nil, err
	}
	var left []string
	for _, o := range strings.Fields(out) {
		switch {
		case o == "configmap/kube-root-ca.crt", o == "serviceaccount/default":
			continue
		}
		left = append(left, o)
	}
	return left, nil
}

// serviceURL is the Database's Service, reached by ClusterIP from the node.
func (e env) serviceURL(t *testing.T) string {
	t.Helper()
	return e.clusterIPURL(t, appNS, dbName, 80)
}

// apiKey is the full-access key the operator generated for the main Database.
func (e env) apiKey(t *testing.T) string {
	t.Helper()
	return e.apiKeyOf(t, appNS, dbName)
}

// dbPod is the one live dbserver pod of the Database.
func (e env) dbPod(t *testing.T) corev1.Pod {
	t.Helper()
	var pods corev1.PodList
	e.getJSON(t, &pods, "-n", appNS, "get", "pods", "-l", "app.kubernetes.io/name=restkube-dbserver,app.kubernetes.io/instance="+dbName)
	var live []corev1.Pod
	for _, p := range pods.Items {
		if p.DeletionTimestamp == nil {
			live = append(live, p)
		}
	}
	if len(live) != 1 {
		t.Fatalf("want one live dbserver pod, found %d", len(live))
	}
	return live[0]
}

func (e env) claimUID(t *testing.T) string {
	t.Helper()
	return strings.TrimSpace(e.kubectl(t, "-n", appNS, "get", "pvc", dbName+"-data", "-o", "jsonpath={.metadata.uid}"))
}

// waitServing waits until a pod other than oldUID is Ready and the Service answers with key.
func (e env) waitServing(t *testing.T, base, key string, oldUID types.UID) {
	t.Helper()
	testutil.Eventually(t, 3*time.Minute, "a new dbserver pod serves", func() error {
		out, err := e.kubectlErr("-n", appNS, "get", "pods", "-l", "app.kubernetes.io/instance="+dbName,
			"-o", `jsonpath={range .items[*]}{.metadata.uid}={.status.conditions[?(@.type=="Ready")].status}{"\n"}{end}`)
		if err != nil {
			return err
		}
		ready := false
		for _, line := range strings.Fields(out) {
			uid, status, _ := strings.Cut(line, "=")
			if types.UID(uid) != oldUID && status == "True" {
				ready = true
			}
		}
		if !ready {
			return fmt.Errorf("pods: %q", out)
		}
		r, err := call(http.MethodGet, base+"/rest/tasks", map[string]string{"x-apikey": key}, nil)
		if err == nil && r.status != http.StatusOK {
			err = fmt.Errorf("GET /rest/tasks: %s", r)
		}
		return err
	})
}

// checkDocs reads every remembered document back by id.
func (e env) checkDocs(t *testing.T, base, key string, ids map[string]string) {
	t.Helper()
	var all []doc
	mustCall(t, http.MethodGet, base+"/rest/tasks", map[string]string{"x-apikey": key}, nil, http.StatusOK, &all)
	if got := len(all); got != len(ids) {
		t.Fatalf("found %d documents (%s), want %d", got, titlesOf(all), len(ids))
	}
	for title, id := range ids {
		var d doc
		mustCall(t, http.MethodGet, base+"/rest/tasks/"+id, map[string]string{"x-apikey": key}, nil, http.StatusOK, &d)
		if d.Title != title {
			t.Fatalf("document %s has title %q, want %q", id, d.Title, title)
		}
	}
}

func titlesOf(docs []doc) string {
	var t []string
	for _, d := range docs {
		t = append(t, d.Title)
	}
	return strings.Join(t, ",")
}

func restarts(p corev1.Pod) int32 {
	var n int32
	for _, s := range p.Status.ContainerStatuses {
		n += s.RestartCount
	}
	return n
}

func randomKey(t *testing.T) string {
	t.Helper()
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

// splitImage splits repository:tag at the last colon after the last slash.
func splitImage(ref string) (repo, tag string, ok bool) {
	i := strings.LastIndex(ref, ":")
	if i < 0 || strings.Contains(ref[i:], "/") {
		return "", "", false
	}
	return ref[:i], ref[i+1:], true
}
