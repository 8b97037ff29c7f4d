# RestKube. Every tool and test binary is built from Go modules into bin/ (nothing is downloaded
# from GitHub); a binary that exists is reused, so only the first run is slow.

# Versions, in one place.
K8S_VERSION            ?= v1.37.2
ETCD_VERSION           ?= v3.7.3
CONTROLLER_GEN_VERSION ?= v0.23.0
KUSTOMIZE_VERSION      ?= v5.8.2
GOLANGCI_LINT_VERSION  ?= v2.15.0
HELM_VERSION           ?= v3.22.0
VERSITYGW_VERSION      ?= v1.8.0

export GOTOOLCHAIN := local

BIN       := $(CURDIR)/bin
K8S_BIN   := $(BIN)/k8s
LOCALBIN_TOOLS := $(BIN)/tools
CONTROLLER_GEN := $(LOCALBIN_TOOLS)/controller-gen
KUSTOMIZE      := $(LOCALBIN_TOOLS)/kustomize
GOLANGCI_LINT  := $(LOCALBIN_TOOLS)/golangci-lint
HELM           := $(LOCALBIN_TOOLS)/helm
S3_SERVER      := $(BIN)/versitygw

VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT  ?= $(shell git rev-parse --short HEAD 2>/dev/null || echo unknown)
LDFLAGS := -s -w -X github.com/restkube/restkube/internal/version.Version=$(VERSION) -X github.com/restkube/restkube/internal/version.Commit=$(COMMIT)

# The standalone dbserver of `make run`.
DATA_DIR ?= $(CURDIR)/data
LISTEN   ?= 127.0.0.1:8080

.PHONY: all
all: build

##@ Development

.PHONY: fmt
fmt: ## Format the Go code.
	go fmt ./...

.PHONY: vet
vet: ## Run go vet.
	go vet ./...

.PHONY: lint
lint: $(GOLANGCI_LINT) ## Run golangci-lint.
	$(GOLANGCI_LINT) run ./...

.PHONY: test
test: k8s-binaries s3-server $(KUSTOMIZE) $(HELM) ## Run all tests: unit, HTTP, store, and the controller against a real kube-apiserver (envtest).
	go vet ./...
	KUBEBUILDER_ASSETS=$(K8S_BIN) go test ./... -count=1 -timeout 20m

.PHONY: test-browser
test-browser: ## Run the To-Do example in headless Chromium (installs Debian's chromium as root, and the example's npm packages).
	go test -tags browser ./examples/todo -count=1 -v -timeout 10m

.PHONY: fuzz
fuzz: ## Fuzz the query parser, update application and the JSON decoder of request bodies for a bounded time.
	go test ./dbserver/query -run '^$$' -fuzz '^FuzzParseQuery$$' -fuzztime 60s
	go test ./dbserver/query -run '^$$' -fuzz '^FuzzApplyUpdate$$' -fuzztime 60s
	go test ./dbserver/jsondoc -run '^$$' -fuzz FuzzDecodeJSON -fuzztime 30s

.PHONY: bench
bench: ## Measure bbolt, the HTTP floor and the dbserver over loopback (BENCH_FLAGS=-max-docs=100000 for a quick run).
	go run ./bench $(BENCH_FLAGS)

.PHONY: bench-memory
bench-memory: ## Peak RSS and a probe's p99 of the dbserver (GOMEMLIMIT=115MiB) while 50 clients ask for 10 MB pages (plain, filter, $fields, groupby) and never read.
	go test ./dbserver -run '^$$' -bench BenchmarkSlowReaders -benchtime 1x

.PHONY: bench-operator
bench-operator: k8s-binaries ## Measure the operator on envtest: 1,000 Databases at once, among 10,000 unrelated Secrets (BENCH_OPERATOR_FLAGS=-databases=100 for a quick run).
	go run ./bench/operator -assets=$(K8S_BIN) $(BENCH_OPERATOR_FLAGS)

.PHONY: bench-backup
bench-backup: ## Measure an online backup of a 1,000,000-document database against copying its file, writes during it, and RSS (BACKUP_BENCH_FLAGS=-docs=100000 for a quick run).
	go run ./bench/backupbench $(BACKUP_BENCH_FLAGS)

.PHONY: bench-smoke
bench-smoke: ## Run the benchmark harness with tiny counts (a few seconds; also part of make test).
	go test ./bench -run TestSmoke -count=1

##@ Generated code and manifests

.PHONY: manifests
manifests: $(CONTROLLER_GEN) ## Generate the CRD (config/crd/bases) and the manager's ClusterRole (config/rbac) from the markers.
	$(CONTROLLER_GEN) rbac:roleName=manager-role crd webhook paths="{./api/...,./controllers/...}" output:crd:artifacts:config=config/crd/bases output:rbac:artifacts:config=config/rbac

.PHONY: generate
generate: $(CONTROLLER_GEN) ## Generate the DeepCopy methods of the API types.
	$(CONTROLLER_GEN) object:headerFile="hack/boilerplate.go.txt" paths="./api/..."

##@ Build

.PHONY: build
build: ## Build the dbserver and the operator into bin/.
	CGO_ENABLED=0 go build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN)/dbserver ./dbserver
	@if [ -f main.go ]; then CGO_ENABLED=0 go build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN)/manager . ; fi

.PHONY: run
run: ## Start a standalone dbserver on $(LISTEN) with its data under ./data (prints the API key on first start).
	CGO_ENABLED=0 go build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN)/dbserver ./dbserver
	$(BIN)/dbserver serve --data-dir=$(DATA_DIR) --listen=$(LISTEN)

##@ Packaging

# The image `make image` and `make docker-build` produce; the chart's image.repository/tag point at it.
IMG ?= restkube/restkube:$(VERSION)
CONTAINER_TOOL ?= docker

.PHONY: image
image: build ## Write the image (/manager, /dbserver, CA bundle; FROM scratch) to bin/restkube-image.tar, with no daemon.
	@test -f $(BIN)/manager || { echo "image: bin/manager is missing (main.go not built)"; exit 1; }
	go run ./hack/image -manager=$(BIN)/manager -dbserver=$(BIN)/dbserver -image=$(IMG) -version=$(VERSION) -commit=$(COMMIT) -output=$(BIN)/restkube-image.tar

.PHONY: docker-build
docker-build: ## Build the same image with a container engine from the Dockerfile.
	$(CONTAINER_TOOL) build --build-arg VERSION=$(VERSION) --build-arg COMMIT=$(COMMIT) --build-arg IMAGE=$(IMG) -t $(IMG) .

.PHONY: helm
helm: manifests ## Regenerate config/, then copy its roles (config/rbac) and CRD (config/crd/bases) into charts/restkube/templates.
	go run ./hack/chartsync -config=config -chart=charts/restkube

.PHONY: helm-lint
helm-lint: $(HELM) ## Lint the chart (strict) and check it is in sync with config/.
	$(HELM) lint --strict --kube-version $(K8S_VERSION) charts/restkube
	go run ./hack/chartsync -check -config=config -chart=charts/restkube

##@ End-to-end (as root: a real single-node cluster under bin/e2e, in its own network namespace; see hack/e2e-cluster.sh)

# The operator image's tag in the e2e cluster; it never leaves the test node.
E2E_IMG ?= restkube.local/restkube:e2e
# The e2e test binary, built on the host (Go may fetch modules there) and run inside the namespace.
E2E_TEST_BIN := $(BIN)/e2e/e2e.test
# E2E_RUN=REGEXP runs only the matching tests; E2E_KEEP=1 leaves the cluster up afterwards.
E2E_RUN ?= .

.PHONY: e2e-up
e2e-up: k8s-binaries ## Start (or resume) the single-node e2e cluster in the network namespace restkube-e2e.
	hack/e2e-cluster.sh up

.PHONY: e2e-down
e2e-down: ## Stop the e2e cluster, delete its namespace, check the machine is as it was (e2e-wipe also deletes bin/e2e).
	hack/e2e-cluster.sh down

.PHONY: e2e-wipe
e2e-wipe: ## e2e-down, then delete bin/e2e (certificates, etcd data, volumes, images).
	hack/e2e-cluster.sh wipe

# Each phase prints a TIMING line. The tests run inside the cluster's network namespace
# (hack/e2e-cluster.sh exec), where ClusterIPs and pod IPs answer; nothing reaches the cluster
# from the host. A failed `up` or test run still takes the cluster down (unless E2E_KEEP).
.PHONY: test-e2e
test-e2e: k8s-binaries $(HELM) ## Build the image, start the cluster, run test/e2e inside its namespace (helm install … uninstall), stop it (E2E_KEEP=1 keeps it).
	@t=$$(date +%s); $(MAKE) --no-print-directory image IMG=$(E2E_IMG) && \
	  mkdir -p $(dir $(E2E_TEST_BIN)) && go test -c -tags e2e -o $(E2E_TEST_BIN) ./test/e2e && \
	  echo "TIMING build (operator image, e2e test binary): $$(( $$(date +%s) - t ))s"
	@rc=0; t=$$(date +%s); \
	{ hack/e2e-cluster.sh up && hack/e2e-cluster.sh import $(BIN)/restkube-image.tar; } || rc=$$?; \
	echo "TIMING cluster up: $$(( $$(date +%s) - t ))s"; \
	if [ $$rc -eq 0 ]; then t=$$(date +%s); \
	  E2E_IMAGE=$(E2E_IMG) E2E_HELM=$(HELM) hack/e2e-cluster.sh exec \
	    $(E2E_TEST_BIN) -test.count=1 -test.v -test.timeout 30m -test.run '$(E2E_RUN)' || rc=$$?; \
	  echo "TIMING tests: $$(( $$(date +%s) - t ))s"; fi; \
	if [ -z "$(E2E_KEEP)" ]; then t=$$(date +%s); \
	  hack/e2e-cluster.sh down || { [ $$rc -ne 0 ] || rc=1; }; \
	  echo "TIMING down: $$(( $$(date +%s) - t ))s"; fi; \
	exit $$rc

##@ Tools and test binaries

.PHONY: k8s-binaries
k8s-binaries: ## Build kube-apiserver, etcd and the other Kubernetes components into bin/k8s (once).
	@hack/build-k8s.sh $(K8S_BIN) $(K8S_VERSION) $(ETCD_VERSION)

.PHONY: s3-server
s3-server: $(S3_SERVER) ## Build the S3-compatible server of the backup tests (versitygw, POSIX backend) into bin/ (once).

$(S3_SERVER):
	@grep -q "github.com/versity/versitygw $(VERSITYGW_VERSION)" hack/versitygw/go.mod || { echo "hack/versitygw/go.mod does not require versitygw $(VERSITYGW_VERSION)"; exit 1; }
	cd hack/versitygw && CGO_ENABLED=0 go build -trimpath -ldflags '-s -w' -o $(S3_SERVER).tmp github.com/versity/versitygw/cmd/versitygw
	mv $(S3_SERVER).tmp $(S3_SERVER)

$(CONTROLLER_GEN):
	GOBIN=$(LOCALBIN_TOOLS) go install sigs.k8s.io/controller-tools/cmd/controller-gen@$(CONTROLLER_GEN_VERSION)

$(KUSTOMIZE):
	GOBIN=$(LOCALBIN_TOOLS) go install sigs.k8s.io/kustomize/kustomize/v5@$(KUSTOMIZE_VERSION)

$(GOLANGCI_LINT):
	GOBIN=$(LOCALBIN_TOOLS) go install github.com/golangci/golangci-lint/v2/cmd/golangci-lint@$(GOLANGCI_LINT_VERSION)

$(HELM):
	GOBIN=$(LOCALBIN_TOOLS) go install helm.sh/helm/v3/cmd/helm@$(HELM_VERSION)

.PHONY: help
help: ## Show this help.
	@awk 'BEGIN {FS = ":.*##"} /^[a-zA-Z0-9_-]+:.*?##/ { printf "  %-14s %s\n", $$1, $$2 } /^##@/ { printf "\n%s\n", substr($$0, 5) }' $(MAKEFILE_LIST)
