#!/usr/bin/env bash
# Builds the Kubernetes test binaries from Go modules (nothing can be downloaded from GitHub here):
# one multi-call binary (kube-apiserver, kubelet, kube-controller-manager, kube-scheduler,
# kube-proxy, kubectl, linked by name) and etcd. Skips whatever already exists.
# Usage: hack/build-k8s.sh OUT_DIR K8S_VERSION ETCD_VERSION
set -euo pipefail
out=$1 k8s_version=$2 etcd_version=$3
here=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$out"
out=$(cd "$out" && pwd)
export GOTOOLCHAIN=local CGO_ENABLED=0

# The versions live in the Makefile; the tools modules must agree, or the build is not what it claims.
grep -q "k8s.io/kubernetes $k8s_version" "$here/k8s/go.mod" ||
  { echo "hack/k8s/go.mod does not require k8s.io/kubernetes $k8s_version (Makefile K8S_VERSION)" >&2; exit 1; }
grep -q "go.etcd.io/etcd/server/v3 $etcd_version" "$here/etcd/go.mod" ||
  { echo "hack/etcd/go.mod does not require etcd $etcd_version (Makefile ETCD_VERSION)" >&2; exit 1; }

if [ ! -x "$out/k8s" ]; then
  minor=$(echo "$k8s_version" | cut -d. -f2)
  echo ">> building Kubernetes $k8s_version components (cold: ~20 min, once)" >&2
  (cd "$here/k8s" && go build -trimpath -o "$out/k8s.tmp" -ldflags "-s -w \
    -X k8s.io/component-base/version.gitVersion=$k8s_version \
    -X k8s.io/component-base/version.gitMajor=1 \
    -X k8s.io/component-base/version.gitMinor=$minor" .)
  mv "$out/k8s.tmp" "$out/k8s"
fi
for name in kube-apiserver kubelet kube-controller-manager kube-scheduler kube-proxy kubectl; do
  ln -sf k8s "$out/$name"
done

if [ ! -x "$out/etcd" ]; then
  echo ">> building etcd $etcd_version" >&2
  (cd "$here/etcd" && go build -trimpath -o "$out/etcd.tmp" -ldflags "-s -w" go.etcd.io/etcd/server/v3)
  mv "$out/etcd.tmp" "$out/etcd"
fi
