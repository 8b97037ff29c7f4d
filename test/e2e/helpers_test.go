//go:build e2e

package e2e_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/restkube/restkube/internal/testutil"
)

// env is what the tests need to reach the cluster.
type env struct {
	root       string
	kubeconfig string
	kubectlBin string
	helm       string
	nodeIP     string
	image      string
}

// loadEnv reads the E2E_* variables, defaulting to the files the Makefile builds under bin/.
// A missing cluster is a failure, not a skip: whoever runs the e2e tag means to test one.
func loadEnv(t *testing.T) env {
	t.Helper()
	root := repoRoot(t)
	e := env{
		root:       root,
		kubeconfig: getenv("E2E_KUBECONFIG", filepath.Join(root, "bin/e2e/kubeconfig")),
		kubectlBin: getenv("E2E_KUBECTL", filepath.Join(root, "bin/k8s/kubectl")),
		helm:       getenv("E2E_HELM", filepath.Join(root, "bin/tools/helm")),
		nodeIP:     getenv("E2E_NODE_IP", "10.250.0.1"),
		image:      os.Getenv("E2E_IMAGE"),
	}
	for _, f := range []string{e.kubeconfig, e.kubectlBin} {
		if _, err := os.Stat(f); err != nil {
			t.Fatalf("%v: start the cluster first (make e2e-up, or make test-e2e)", err)
		}
	}
	// The node address exists only inside the cluster's network namespace. Anywhere else it
	// would be routed off this machine, where no test traffic may go: refuse before sending.
	if !isLocalAddress(e.nodeIP) {
		t.Fatalf("the node address %s is not local: run the tests inside the cluster's network namespace "+
			"(hack/e2e-cluster.sh exec go test -tags e2e ./test/e2e, or make test-e2e)", e.nodeIP)
	}
	return e
}

func isLocalAddress(ip string) bool {
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return false
	}
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok && n.IP.String() == ip {
			return true
		}
	}
	return false
}

func getenv(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}

// repoRoot is the directory holding go.mod, above the package directory `go test` runs in.
func repoRoot(t *testing.T) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("no go.mod above the working directory")
		}
		dir = parent
	}
}

// run runs a command with the cluster's kubeconfig and returns its standard output.
func (e env) run(ctx context.Context, stdin io.Reader, name string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = append(os.Environ(), "KUBECONFIG="+e.kubeconfig)
	cmd.Stdin = stdin
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.String(), fmt.Errorf("%s %s: %w: %s", filepath.Base(name), strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return stdout.String(), nil
}

// kubectl runs kubectl and fails the test if it fails.
func (e env) kubectl(t *testing.T, args ...string) string {
	t.Helper()
	out, err := e.kubectlErr(args...)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func (e env) kubectlErr(args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	return e.run(ctx, nil, e.kubectlBin, args...)
}

// apply applies a manifest given as text.
func (e env) apply(t *testing.T, namespace, manifest string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := e.run(ctx, strings.NewReader(manifest), e.kubectlBin, "-n", namespace, "apply", "-f", "-"); err != nil {
		t.Fatal(err)
	}
}

// getJSON decodes `kubectl get ... -o json` into v.
func (e env) getJSON(t *testing.T, v any, args ...string) {
	t.Helper()
	out := e.kubectl(t, append(args, "-o", "json")...)
	if err := json.Unmarshal([]byte(out), v); err != nil {
		t.Fatalf("decoding kubectl %v: %v", args, err)
	}
}

// helm runs helm and fails the test if it fails.
func (e env) helmRun(t *testing.T, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 6*time.Minute)
	defer cancel()
	out, err := e.run(ctx, nil, e.helm, args...)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// imageUnderTest is the operator image imported into the node (E2E_IMAGE, which make test-e2e
// sets), as repository and tag.
func (e env) imageUnderTest(t *testing.T) (repo, tag string) {
	t.Helper()
	if e.image == "" {
		t.Fatal("E2E_IMAGE must name the operator image imported into the node (make test-e2e sets it)")
	}
	repo, tag, ok := splitImage(e.image)
	if !ok {
		t.Fatalf("E2E_IMAGE %q has no tag", e.image)
	}
	return repo, tag
}

// steps returns a runner of t's sub-tests in order: they share state, so the first failure
// stops t.
func steps(t *testing.T) func(name string, f func(t *testing.T)) {
	return func(name string, f func(t *testing.T)) {
		t.Helper()
		if !t.Run(name, f) {
			t.FailNow()
		}
	}
}

// startClean removes what an earlier, failed run may have left (the chart's release and the
// namespace ns), and removes both again when t ends.
func (e env) startClean(t *testing.T, ns string) {
	t.Helper()
	_, _ = e.run(t.Context(), nil, e.helm, "uninstall", release, "-n", releaseNS, "--wait")
	e.kubectl(t, "delete", "namespace", ns, "--ignore-not-found", "--wait", "--timeout=3m")
	t.Cleanup(func() {
		_, _ = e.kubectlErr("delete", "namespace", ns, "--wait", "--timeout=3m")
		_, _ = e.run(context.Background(), nil, e.helm, "uninstall", release, "-n", releaseNS, "--wait")
	})
}

// installOperator installs the chart as release rel in namespace ns with the image under test.
// The CRDs outlive an uninstalled release (helm.sh/resource-policy: keep), still marked as that
// release's; a later install under another name is refused unless they are handed over first,
// which is what a platform team does too: re-point Helm's ownership marks at the new release, so
// that it adopts the CRDs and applies the chart's (possibly newer) schema to them.
func (e env) installOperator(t *testing.T, rel, ns, repo, tag string, extra ...string) {
	t.Helper()
	for _, crd := range []string{"databases.db.restkube.dev", "databasebackups.db.restkube.dev"} {
		if _, err := e.kubectlErr("get", "crd", crd); err != nil {
			continue // not there: the chart creates it
		}
		e.kubectl(t, "annotate", "crd", crd, "--overwrite",
			"meta.helm.sh/release-name="+rel, "meta.helm.sh/release-namespace="+ns)
		e.kubectl(t, "label", "crd", crd, "--overwrite", "app.kubernetes.io/managed-by=Helm")
	}
	args := append([]string{"install", rel, e.root + "/charts/restkube", "-n", ns, "--create-namespace",
		"--set", "image.repository=" + repo, "--set", "image.tag=" + tag, "--wait", "--timeout", "5m"}, extra...)
	e.helmRun(t, args...)
}

// clusterIPURL is http://CLUSTER-IP[:PORT] of a Service: the tests run inside the cluster's
// network namespace, where kube-proxy's rules make ClusterIPs answer. Port 0 means 80. The
// Service may answer only a second or so after its endpoints exist: poll it with
// testutil.Eventually (applyDatabase does).
func (e env) clusterIPURL(t *testing.T, namespace, service string, port int) string {
	t.Helper()
	ip := strings.TrimSpace(e.kubectl(t, "-n", namespace, "get", "service", service, "-o", "jsonpath={.spec.clusterIP}"))
	if ip == "" || ip == "None" {
		t.Fatalf("service %s/%s has no ClusterIP", namespace, service)
	}
	if port == 0 || port == 80 {
		return "http://" + ip
	}
	return "http://" + net.JoinHostPort(ip, strconv.Itoa(port))
}

// apiKeyOf is the full-access key the operator generated in ns/<name>-credentials.
func (e env) apiKeyOf(t *testing.T, ns, name string) string {
	t.Helper()
	enc := e.kubectl(t, "-n", ns, "get", "secret", name+"-credentials", "-o", "jsonpath={.data.api-key}")
	b, err := base64.StdEncoding.DecodeString(enc)
	if err != nil || len(b) == 0 {
		t.Fatalf("no api-key in %s/%s-credentials: %v", ns, name, err)
	}
	return string(b)
}

// applyDatabase creates namespace ns, applies manifest (a Database called name) in it and
// waits until the Database is Ready and its Service answers /readyz; it returns the Service's
// base URL and the Database's full-access key.
func (e env) applyDatabase(t *testing.T, ns, name, manifest string) (base, key string) {
	t.Helper()
	e.kubectl(t, "create", "namespace", ns)
	e.apply(t, ns, manifest)
	e.kubectl(t, "-n", ns, "wait", "--for=condition=Ready", "database/"+name, "--timeout=3m")
	base, key = e.clusterIPURL(t, ns, name, 80), e.apiKeyOf(t, ns, name)
	testutil.Eventually(t, 30*time.Second, "the Service answers", func() error {
		r, err := call(http.MethodGet, base+"/readyz", nil, nil)
		if err == nil && r.status != http.StatusOK {
			err = fmt.Errorf("readyz: %s", r)
		}
		return err
	})
	return base, key
}

// response is one HTTP answer.
type response struct {
	status int
	header http.Header
	body   []byte
}

func (r response) String() string {
	return fmt.Sprintf("%d %s (headers %v)", r.status, bytes.TrimSpace(r.body), r.header)
}

// httpClient opens a connection per request: a kept-alive connection stays pinned (by
// conntrack) to the pod it first reached, which hides a replaced pod or a reused ClusterIP.
var httpClient = &http.Client{
	Timeout:   15 * time.Second,
	Transport: &http.Transport{DisableKeepAlives: true, Proxy: nil},
}

// call makes one HTTP request; body, when not nil, is sent as JSON.
func call(method, url string, headers map[string]string, body any) (response, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return response{}, err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		return response{}, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := httpClient.Do(req)
	if err != nil {
		return response{}, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 8<<20))
	if err != nil {
		return response{}, err
	}
	return response{status: resp.StatusCode, header: resp.Header, body: b}, nil
}

// mustCall makes a request that must answer want, and decodes the body into out when not nil.
func mustCall(t *testing.T, method, url string, headers map[string]string, body any, want int, out any) response {
	t.Helper()
	r, err := call(method, url, headers, body)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	if r.status != want {
		t.Fatalf("%s %s: got %s, want status %d", method, url, r, want)
	}
	if out != nil {
		if err := json.Unmarshal(r.body, out); err != nil {
			t.Fatalf("%s %s: decoding %q: %v", method, url, r.body, err)
		}
	}
	return r
}

var forwardingRE = regexp.MustCompile(`Forwarding from 127\.0\.0\.1:(\d+) ->`)

// portForward runs `kubectl port-forward` to target on a free local port and returns its base URL.
func (e env) portForward(t *testing.T, namespace, target, remotePort string) string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, e.kubectlBin, "-n", namespace, "port-forward", "--address", "127.0.0.1", target, ":"+remotePort)
	cmd.Env = append(os.Environ(), "KUBECONFIG="+e.kubeconfig)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatal(err)
	}
	t.Cleanup(func() { cancel(); _ = cmd.Wait() })
	found := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if m := forwardingRE.FindStringSubmatch(sc.Text()); m != nil {
				found <- m[1]
				break
			}
		}
		_, _ = io.Copy(io.Discard, stdout)
	}()
	select {
	case port := <-found:
		return "http://127.0.0.1:" + port
	case <-time.After(30 * time.Second):
		t.Fatal("kubectl port-forward did not start within 30s")
		return ""
	}
}

// timings collects the durations the issue asks to report, printed at the end of the run.
type timings struct {
	t     *testing.T
	start time.Time
}

func startTiming(t *testing.T) timings { return timings{t: t, start: time.Now()} }

func (tm timings) done(what string) time.Duration {
	d := time.Since(tm.start).Round(10 * time.Millisecond)
	tm.t.Logf("TIMING %s: %s", what, d)
	return d
}
