//go:build e2e

package e2e_test

import (
	"net"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/restkube/restkube/internal/testutil"
)

// TestClusterSmoke checks the cluster itself with the probe image of hack/e2e-images: a
// non-root pod writes a claim of the default StorageClass, serves HTTP through a Service
// reached by ClusterIP and by port-forward, and reaches the test process on the node address.
// When this fails, TestRestKube's failures say nothing about RestKube.
func TestClusterSmoke(t *testing.T) {
	e := loadEnv(t)
	const ns = "e2e-smoke"
	manifest, err := os.ReadFile(filepath.Join(e.root, "hack/e2e-images/testdata/probe.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	// A previous run's namespace would hold a pod built from an older image.
	e.kubectl(t, "delete", "namespace", ns, "--ignore-not-found", "--wait", "--timeout=2m")
	// Waiting frees the Service's ClusterIP and the pod before the next test starts.
	t.Cleanup(func() { _, _ = e.kubectlErr("delete", "namespace", ns, "--wait", "--timeout=2m") })

	tm := startTiming(t)
	e.apply(t, ns, string(manifest))
	e.kubectl(t, "-n", ns, "wait", "--for=condition=Ready", "pod/probe", "--timeout=2m")
	tm.done("probe pod (claim provisioned, pod Ready)")

	svc := e.clusterIPURL(t, ns, "probe", 80)
	// kube-proxy programs the Service about a second after the endpoint appears.
	testutil.Eventually(t, 30*time.Second, "the Service answers", func() error {
		_, err := call(http.MethodGet, svc+"/healthz", nil, nil)
		return err
	})

	t.Run("runs as uid 65532", func(t *testing.T) {
		r := mustCall(t, http.MethodGet, svc+"/whoami", nil, nil, http.StatusOK, nil)
		if got := string(r.body); got != "uid=65532 gid=65532" {
			t.Fatalf("whoami = %q", got)
		}
	})

	t.Run("writes its claim", func(t *testing.T) {
		mustCall(t, http.MethodPut, svc+"/files/greeting", nil, "hello from the claim", http.StatusCreated, nil)
		var got string
		mustCall(t, http.MethodGet, svc+"/files/greeting", nil, nil, http.StatusOK, &got)
		if got != "hello from the claim" {
			t.Fatalf("read back %q", got)
		}
	})

	t.Run("serves through port-forward", func(t *testing.T) {
		base := e.portForward(t, ns, "service/probe", "80")
		var got string
		mustCall(t, http.MethodGet, base+"/files/greeting", nil, nil, http.StatusOK, &got)
		if got != "hello from the claim" {
			t.Fatalf("read back %q through port-forward", got)
		}
	})

	t.Run("reaches the node address", func(t *testing.T) {
		ln, err := net.Listen("tcp", net.JoinHostPort(e.nodeIP, "0"))
		if err != nil {
			t.Fatalf("listening on the node address: %v", err)
		}
		srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			w.WriteHeader(http.StatusTeapot)
		}), ReadHeaderTimeout: 5 * time.Second}
		go func() { _ = srv.Serve(ln) }()
		t.Cleanup(func() { _ = srv.Close() })
		r := mustCall(t, http.MethodGet, svc+"/fetch?url=http://"+ln.Addr().String()+"/", nil, nil, http.StatusOK, nil)
		if got := string(r.body); got != "status 418" {
			t.Fatalf("the pod's fetch of the test's server answered %q", got)
		}
	})
}
