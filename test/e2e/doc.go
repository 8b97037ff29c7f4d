// Package e2e holds the end-to-end tests (build tag e2e): they run against the real single-node
// cluster of hack/e2e-cluster.sh, so that what envtest cannot show is shown — the operator's
// pods start, mount their Secrets, write their volume as non-root, pass their probes, reload
// rotated keys and serve clients through their Service.
//
// Run them with `make test-e2e` (as root), which builds the image, starts the cluster, imports
// the image, runs `go test -tags e2e ./test/e2e` and takes the cluster down. Against a cluster
// that is already up (`make e2e-up`):
//
//	E2E_IMAGE=restkube.local/restkube:e2e go test -tags e2e ./test/e2e -count=1 -v
//
// Settings come from the environment: E2E_KUBECONFIG, E2E_KUBECTL, E2E_HELM (default: the
// files under bin/ that the Makefile makes), E2E_NODE_IP (the node's address, where the test's
// OIDC provider listens so pods can reach it; default 10.250.0.1) and E2E_IMAGE (the operator
// image, already imported into the node; TestRestKube needs it).
package e2e
