// Package e2e holds the end-to-end tests (build tag e2e): they run against the real single-node
// cluster of hack/e2e-cluster.sh, so that what envtest cannot show is shown — the operator's
// pods start, mount their Secrets, write their volume as non-root, pass their probes, reload
// rotated keys and serve clients through their Service.
//
// # Running
//
// `make test-e2e` (as root) builds the operator image and the test binary on the host, starts
// the cluster in its own network namespace (restkube-e2e), imports the image, runs the tests
// inside that namespace, and takes everything down again (E2E_KEEP=1 keeps the cluster,
// E2E_RUN=REGEXP runs only some tests). On a shared machine, take the lock first:
//
//	flock /tmp/restkube-e2e.lock make test-e2e E2E_RUN=TestClusterSmoke
//
// Against a cluster that is already up (`make e2e-up`, or E2E_KEEP=1), run them inside the
// namespace; `exec` sets KUBECONFIG, the E2E_* variables, PATH (kubectl, helm) and GOPROXY=off,
// so `go test` builds from the module cache only:
//
//	hack/e2e-cluster.sh exec env E2E_IMAGE=restkube.local/restkube:e2e \
//	    go test -tags e2e ./test/e2e -count=1 -v -run TestRestKube
//	hack/e2e-cluster.sh exec kubectl get pods -A
//
// Run from the host, the tests refuse to start: the node address is not local there, and
// packets to it would leave the machine.
//
// Settings come from the environment: E2E_KUBECONFIG, E2E_KUBECTL, E2E_HELM (default: the
// files under bin/ that the Makefile makes), E2E_NODE_IP (the node's address, where a test may
// listen so that pods can reach it; default 10.250.0.1) and E2E_IMAGE (the operator image,
// already imported into the node; TestRestKube needs it).
//
// # Adding a test
//
// Put it in a file of its own here, starting with `//go:build e2e` and `package e2e_test`, and
// check it compiles with `go vet -tags e2e ./test/e2e`. A test:
//
//   - starts with `e := loadEnv(t)`, and works in a Kubernetes namespace of its own, deleted
//     first (a failed run may have left it) and again in t.Cleanup with --wait, so that its
//     pods and ClusterIPs are gone before the next test (see TestClusterSmoke);
//   - applies manifests with e.apply, runs kubectl with e.kubectl / e.kubectlErr and helm with
//     e.helmRun, and waits with `kubectl wait` or testutil.Eventually (never a fixed sleep);
//   - needs the operator? TestRestKube installs the chart and uninstalls it at its end: a test
//     that needs the operator installs its own release in its own namespace, or extends
//     TestRestKube's steps.
//
// # Reaching the cluster from a test
//
// The test process runs in the cluster's network namespace, so it talks to the cluster directly:
//
//   - a Service: e.clusterIPURL(t, namespace, service, port) gives http://CLUSTER-IP:PORT; plain
//     HTTP to it works (call, mustCall; a new connection per request, so a replaced pod is seen).
//     kube-proxy programs a new Service about a second after its endpoints appear: poll the first
//     request with testutil.Eventually (e.applyDatabase does). There is no cluster DNS: use
//     ClusterIPs, not service names, from the test (pods may use ClusterIPs or the Service's
//     environment variables);
//   - a pod: its status.podIP answers directly, like a ClusterIP;
//   - `kubectl port-forward`: e.portForward returns a 127.0.0.1 URL (the namespace's loopback);
//   - the other way round, a pod reaching the test (an OIDC provider, a webhook, an S3 server
//     run in-process): listen on e.nodeIP (net.Listen("tcp", net.JoinHostPort(e.nodeIP, "0")))
//     and give pods that address; pods route to it through the CNI bridge.
//
// Nothing leaves the namespace: it has no route off the machine, so a test cannot reach the
// internet or the host's network (and a server that needs one must run in the cluster or in the
// test process).
//
// # Images
//
// Nothing can be pulled. Every directory hack/e2e-images/NAME holding a main package becomes
// the image restkube.local/NAME:e2e (the static binary /NAME in a scratch image, running as uid
// 65532), built on the host and imported by `hack/e2e-cluster.sh up`; use it with
// imagePullPolicy: IfNotPresent. hack/e2e-images/probe is an example (a small HTTP server that
// writes files, reports its uid and fetches URLs for a test).
package e2e
