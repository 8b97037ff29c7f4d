#!/usr/bin/env bash
# A real single-node Kubernetes cluster for the end-to-end tests, under one folder, as root.
#
#   hack/e2e-cluster.sh up       install what is missing, start (or resume) the cluster, wait for it
#   hack/e2e-cluster.sh down     stop it and leave the machine as it was before `up`
#   hack/e2e-cluster.sh wipe     down, then delete the folder (certs, etcd data, volumes, images)
#   hack/e2e-cluster.sh status   what runs
#   hack/e2e-cluster.sh import TARBALL...   import docker-archive images into the node
#
# Everything lives under $E2E_DIR (default bin/e2e): containerd (own socket, root and state),
# etcd data, certificates, kubeconfigs ($E2E_DIR/kubeconfig is the admin's), the kubelet's root,
# pod logs, CNI state, volumes, logs (logs/*.log) and pid files. Every step is idempotent: `up`
# after a half-finished `up` or `down` resumes; `down` after a half-finished run cleans up.
#
# Network: all traffic stays on this machine. The node's address ($NODE_IP) lives on an
# interface this script creates ($NODE_IFACE: a dummy interface, or an empty bridge where the
# kernel has no dummy driver); pods live on the CNI bridge $CNI_BRIDGE and may not be forwarded
# anywhere else (chain RKE2E-ISOLATE). No CoreDNS: the e2e tests reach Services by ClusterIP.
#
# Storage: StorageClass `standard` (default, WaitForFirstConsumer) served by
# hack/e2e-provisioner, which backs each claim with a directory under volumes/ owned by uid 65532.
#
# See ../shared/K8S-BINARIES.md for why each kubelet/kube-proxy setting is what it is.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
E2E_DIR=${E2E_DIR:-$ROOT/bin/e2e}
K8S_BIN=${K8S_BIN:-$ROOT/bin/k8s}
NODE_NAME=restkube-e2e
NODE_IFACE=rk-e2e0
NODE_IP=10.250.0.1
CNI_BRIDGE=rk-cni0
POD_CIDR=10.244.0.0/24
SERVICE_CIDR=10.96.0.0/24
API_SERVICE_IP=10.96.0.1
ETCD_CLIENT_PORT=12379
ETCD_PEER_PORT=12380
API_PORT=6443
PAUSE_IMAGE=restkube.local/pause:e2e
PROBE_IMAGE=restkube.local/probe:e2e
PROVISIONER=restkube.dev/e2e-hostpath
PACKAGES=(containerd runc containernetworking-plugins iptables conntrack openssl nftables)
# Kernel settings the kubelet, kube-proxy and CNI change; saved at the first `up`, restored at `down`.
SYSCTLS=(kernel.panic kernel.panic_on_oops vm.overcommit_memory kernel.keys.root_maxkeys
  kernel.keys.root_maxbytes net.ipv4.ip_forward net.ipv4.conf.all.route_localnet
  net.bridge.bridge-nf-call-iptables net.bridge.bridge-nf-call-ip6tables net.netfilter.nf_conntrack_max
  net.ipv6.conf.all.forwarding)
# Paths outside $E2E_DIR that the cluster may create; `down` removes those that did not exist before.
SIDE_PATHS=(/var/lib/kubelet /var/lib/cni /var/log/containers /var/log/pods /run/containerd /run/netns
  /etc/cni /opt/cni /var/lib/containerd /etc/kubernetes)
# Components in start order; `down` stops them in reverse.
COMPONENTS=(containerd etcd kube-apiserver kube-controller-manager kube-scheduler kubelet kube-proxy provisioner)

SOCK=$E2E_DIR/run/containerd.sock
PKI=$E2E_DIR/pki
CFG=$E2E_DIR/config
STATE=$E2E_DIR/state
LOGS=$E2E_DIR/logs
RUN=$E2E_DIR/run
KUBECONFIG_ADMIN=$E2E_DIR/kubeconfig
export GOTOOLCHAIN=local

T0=$(date +%s.%N)
since() { awk -v a="$1" -v b="$(date +%s.%N)" 'BEGIN {printf "%.1f", b - a}'; }
log() { printf '[e2e-cluster %6ss] %s\n' "$(since "$T0")" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }
kubectl() { "$K8S_BIN/kubectl" --kubeconfig "$KUBECONFIG_ADMIN" "$@"; }
ctr_() { ctr --address "$SOCK" --namespace k8s.io "$@"; }

# wait_for DESCRIPTION TIMEOUT_SECONDS COMMAND...: poll COMMAND until it succeeds or time runs out.
wait_for() {
  local what=$1 timeout=$2; shift 2
  local deadline=$(($(date +%s) + timeout))
  until "$@" >/dev/null 2>&1; do
    [ "$(date +%s)" -lt "$deadline" ] || { log "timed out after ${timeout}s waiting for $what"; return 1; }
    sleep 0.2
  done
}

# ---------------------------------------------------------------- processes

pid_of() { [ -f "$RUN/$1.pid" ] && cat "$RUN/$1.pid" || true; }

# alive PID: the process exists and is not a zombie (PID 1 here reaps slowly, so kill -0 lies).
alive() {
  local pid=$1
  [ -n "$pid" ] && [ -r "/proc/$pid/status" ] || return 1
  ! grep -q '^State:[[:space:]]*Z' "/proc/$pid/status" 2>/dev/null
}

# running NAME: our pid file names a live process that still runs the program we started
# (a recycled pid would run something else).
running() {
  local pid; pid=$(pid_of "$1")
  alive "$pid" || return 1
  [ "$(tr '\0' '\n' <"/proc/$pid/cmdline" 2>/dev/null | head -n1)" = "$(cat "$RUN/$1.cmd" 2>/dev/null)" ]
}

dead() { ! alive "$1"; }

# start NAME COMMAND...: start a daemon in its own session, logging to logs/NAME.log.
start() {
  local name=$1; shift
  if running "$name"; then log "$name already running (pid $(pid_of "$name"))"; return; fi
  setsid "$@" >>"$LOGS/$name.log" 2>&1 </dev/null &
  echo $! >"$RUN/$name.pid"
  echo "$1" >"$RUN/$name.cmd"
  log "started $name (pid $!)"
}

# stop NAME: SIGTERM, then SIGKILL after a grace period; waits until the process is gone.
stop() {
  local name=$1 pid; pid=$(pid_of "$name")
  if ! running "$name"; then rm -f "$RUN/$name.pid" "$RUN/$name.cmd"; return; fi
  kill -TERM "$pid" 2>/dev/null || true
  if ! wait_for "$name to exit" 20 dead "$pid"; then
    kill -KILL "$pid" 2>/dev/null || true
    wait_for "$name to die" 10 dead "$pid" ||
      log "WARNING: $name (pid $pid) is still alive"
  fi
  rm -f "$RUN/$name.pid" "$RUN/$name.cmd"
  log "stopped $name"
}

# ---------------------------------------------------------------- machine state

install_packages() {
  local missing=()
  for p in "${PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return
  log "installing Debian packages: ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# save_machine_state records, once per up/down cycle, what `down` must restore or compare with.
save_machine_state() {
  mkdir -p "$STATE"
  [ -f "$STATE/saved" ] && return
  : >"$STATE/sysctl"
  for k in "${SYSCTLS[@]}"; do
    v=$(sysctl -n "$k" 2>/dev/null) && printf '%s=%s\n' "$k" "$v" >>"$STATE/sysctl"
  done
  : >"$STATE/preexisting"
  for p in "${SIDE_PATHS[@]}"; do [ -e "$p" ] && echo "$p" >>"$STATE/preexisting"; done
  ls /run/netns 2>/dev/null >"$STATE/netns" || true
  nft list tables 2>/dev/null | sort >"$STATE/nft-tables" || true
  baseline >"$STATE/baseline"
  touch "$STATE/saved"
}

# baseline prints what "the machine as it was" means: links, firewall size, mounts, cgroups.
baseline() {
  echo "links: $(ip -o link show | awk -F': ' '{print $2}' | sed 's/@.*//' | sort | tr '\n' ' ')"
  echo "iptables-save lines: $(iptables-save 2>/dev/null | grep -vc '^#' || true)"
  echo "ip6tables-save lines: $(ip6tables-save 2>/dev/null | grep -vc '^#' || true)"
  echo "nft tables: $(nft list tables 2>/dev/null | tr '\n' ' ')"
  echo "mounts: $(wc -l </proc/self/mountinfo)"
  echo "kubepods cgroups: $(find /sys/fs/cgroup -maxdepth 2 -name kubepods 2>/dev/null | wc -l)"
  echo "netns: $(ls /run/netns 2>/dev/null | wc -l)"
  for k in "${SYSCTLS[@]}"; do echo "sysctl $k=$(sysctl -n "$k" 2>/dev/null || echo -)"; done
}

setup_network() {
  if ! ip link show "$NODE_IFACE" >/dev/null 2>&1; then
    # The dummy driver is the natural choice; some kernels lack it, and an empty bridge serves
    # the same purpose: a local interface holding an address that no other machine can reach.
    ip link add "$NODE_IFACE" type dummy 2>/dev/null || ip link add "$NODE_IFACE" type bridge
    log "created interface $NODE_IFACE ($(ip -d link show "$NODE_IFACE" | awk 'NR==3{print $1}'))"
  fi
  sysctl -qw "net.ipv6.conf.$NODE_IFACE.disable_ipv6=1" 2>/dev/null || true
  ip addr show dev "$NODE_IFACE" | grep -q "inet $NODE_IP/" || ip addr add "$NODE_IP/32" dev "$NODE_IFACE"
  ip link set "$NODE_IFACE" up
  modprobe br_netfilter 2>/dev/null || true
  sysctl -qw net.bridge.bridge-nf-call-iptables=1 2>/dev/null || true
  sysctl -qw net.ipv4.ip_forward=1
  # The cluster's address ranges must never be routed off this machine: a ClusterIP that
  # kube-proxy has not programmed yet (or no longer) would otherwise follow the default route
  # out of the primary interface, and a real host there may answer (seen: an off-machine web
  # server answering for a ClusterIP). Two guards, each enough on its own:
  # - routes: the Service and pod ranges point at our local interface (the pod range with a
  #   high metric, so the CNI bridge's own route wins once it exists); packets that are not
  #   rewritten to a pod die there. The routes go away with the interface.
  ip route replace "$SERVICE_CIDR" dev "$NODE_IFACE"
  ip route replace "$POD_CIDR" dev "$NODE_IFACE" metric 4000
  # - a firewall: anything from this machine to those ranges or the node address that would
  #   leave through another interface is rejected locally (callers see "connection refused"
  #   and retry, instead of talking to a stranger).
  iptables -N RKE2E-EGRESS 2>/dev/null || true
  iptables -F RKE2E-EGRESS
  local dst
  for dst in "$SERVICE_CIDR" "$POD_CIDR" "$NODE_IP/32"; do
    iptables -A RKE2E-EGRESS -d "$dst" -o lo -j RETURN
    iptables -A RKE2E-EGRESS -d "$dst" -o "$CNI_BRIDGE" -j RETURN
    iptables -A RKE2E-EGRESS -d "$dst" -o "$NODE_IFACE" -j RETURN
    iptables -A RKE2E-EGRESS -d "$dst" -j REJECT
  done
  iptables -C OUTPUT -j RKE2E-EGRESS 2>/dev/null || iptables -I OUTPUT 1 -j RKE2E-EGRESS
  # Pods may talk to each other, to Services and to this machine, never beyond it.
  iptables -N RKE2E-ISOLATE 2>/dev/null || true
  iptables -F RKE2E-ISOLATE
  iptables -A RKE2E-ISOLATE -i "$CNI_BRIDGE" ! -o "$CNI_BRIDGE" -j DROP
  iptables -C FORWARD -j RKE2E-ISOLATE 2>/dev/null || iptables -I FORWARD 1 -j RKE2E-ISOLATE
}

# ---------------------------------------------------------------- certificates and configs

# sign NAME CN O EXTENDED_KEY_USAGE [SUBJECT_ALT_NAMES]: an EC key and a certificate from our CA.
sign() {
  local name=$1 cn=$2 org=$3 eku=$4 san=${5:-}
  [ -f "$PKI/$name.crt" ] && return
  local subj="/CN=$cn"; [ -n "$org" ] && subj="/O=$org$subj"
  openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$PKI/$name.key" 2>/dev/null
  openssl req -new -key "$PKI/$name.key" -subj "$subj" -out "$PKI/$name.csr" 2>/dev/null
  {
    echo "basicConstraints=critical,CA:FALSE"
    echo "keyUsage=critical,digitalSignature,keyEncipherment"
    echo "extendedKeyUsage=$eku"
    [ -n "$san" ] && echo "subjectAltName=$san"
  } >"$PKI/$name.ext"
  openssl x509 -req -in "$PKI/$name.csr" -CA "$PKI/ca.crt" -CAkey "$PKI/ca.key" -CAcreateserial \
    -days 365 -extfile "$PKI/$name.ext" -out "$PKI/$name.crt.tmp" 2>/dev/null
  mv "$PKI/$name.crt.tmp" "$PKI/$name.crt"
  rm -f "$PKI/$name.csr" "$PKI/$name.ext"
}

make_pki() {
  mkdir -p "$PKI"; chmod 700 "$PKI"
  if [ ! -f "$PKI/ca.crt" ]; then
    openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$PKI/ca.key" 2>/dev/null
    openssl req -x509 -new -key "$PKI/ca.key" -subj "/CN=restkube-e2e-ca" -days 365 \
      -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign,digitalSignature" \
      -out "$PKI/ca.crt.tmp" 2>/dev/null
    mv "$PKI/ca.crt.tmp" "$PKI/ca.crt"
    log "created the cluster CA"
  fi
  sign apiserver kube-apiserver "" serverAuth \
    "IP:$NODE_IP,IP:$API_SERVICE_IP,IP:127.0.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local"
  sign apiserver-kubelet-client kube-apiserver-kubelet-client system:masters clientAuth
  sign admin restkube-e2e-admin system:masters clientAuth
  sign controller-manager system:kube-controller-manager "" clientAuth
  sign scheduler system:kube-scheduler "" clientAuth
  sign proxy system:kube-proxy "" clientAuth
  sign kubelet "system:node:$NODE_NAME" system:nodes clientAuth
  sign kubelet-serving "system:node:$NODE_NAME" system:nodes serverAuth "IP:$NODE_IP,DNS:$NODE_NAME"
  if [ ! -f "$PKI/sa.pub" ]; then
    openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$PKI/sa.key" 2>/dev/null
    openssl pkey -in "$PKI/sa.key" -pubout -out "$PKI/sa.pub.tmp" && mv "$PKI/sa.pub.tmp" "$PKI/sa.pub"
  fi
}

# put FILE: write standard input to FILE only if it differs, because kube-proxy exits when its
# configuration file is rewritten, even with the same content.
put() {
  cat >"$1.tmp"
  if cmp -s "$1.tmp" "$1"; then rm -f "$1.tmp"; else mv "$1.tmp" "$1"; fi
}

# kubeconfig FILE CERT_NAME: a kubeconfig that authenticates with pki/CERT_NAME.{crt,key}.
kubeconfig() {
  put "$1" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: restkube-e2e
  cluster: {server: "https://$NODE_IP:$API_PORT", certificate-authority: "$PKI/ca.crt"}
users:
- name: $2
  user: {client-certificate: "$PKI/$2.crt", client-key: "$PKI/$2.key"}
contexts:
- name: restkube-e2e
  context: {cluster: restkube-e2e, user: $2}
current-context: restkube-e2e
EOF
}

write_configs() {
  mkdir -p "$CFG" "$E2E_DIR/cni/net.d" "$E2E_DIR/cni/ipam" "$E2E_DIR/containerd" "$E2E_DIR/kubelet" \
    "$E2E_DIR/pod-logs" "$E2E_DIR/volumes" "$E2E_DIR/etcd"
  chmod 700 "$E2E_DIR/etcd"
  kubeconfig "$KUBECONFIG_ADMIN" admin
  kubeconfig "$CFG/controller-manager.kubeconfig" controller-manager
  kubeconfig "$CFG/scheduler.kubeconfig" scheduler
  kubeconfig "$CFG/proxy.kubeconfig" proxy
  kubeconfig "$CFG/kubelet.kubeconfig" kubelet

  put "$CFG/containerd.toml" <<EOF
version = 2
root = "$E2E_DIR/containerd/root"
state = "$E2E_DIR/containerd/state"
disabled_plugins = ["io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs",
  "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.zfs", "io.containerd.tracing.processor.v1.otlp"]
[grpc]
  address = "$SOCK"
[ttrpc]
  address = "$SOCK.ttrpc"
[debug]
  address = ""
[metrics]
  address = ""
[plugins."io.containerd.internal.v1.opt"]
  path = "$E2E_DIR/containerd/opt"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "$PAUSE_IMAGE"
  # No CAP_SYS_RESOURCE here: lowering oom_score_adj below ours would fail.
  restrict_oom_score_adj = true
  stream_server_address = "127.0.0.1"
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
        Root = "$RUN/runc"
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "$E2E_DIR/cni/net.d"
EOF

  put "$E2E_DIR/cni/net.d/10-restkube-e2e.conflist" <<EOF
{
  "cniVersion": "0.4.0",
  "name": "restkube-e2e",
  "plugins": [
    {
      "type": "bridge", "bridge": "$CNI_BRIDGE", "isGateway": true, "ipMasq": true, "hairpinMode": true,
      "ipam": {"type": "host-local", "dataDir": "$E2E_DIR/cni/ipam",
               "ranges": [[{"subnet": "$POD_CIDR"}]], "routes": [{"dst": "0.0.0.0/0"}]}
    },
    {"type": "portmap", "capabilities": {"portMappings": true}}
  ]
}
EOF

  put "$CFG/kubelet.yaml" <<EOF
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
address: $NODE_IP
port: 10250
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
healthzPort: 10248
authentication:
  anonymous: {enabled: false}
  webhook: {enabled: true}
  x509: {clientCAFile: "$PKI/ca.crt"}
authorization: {mode: Webhook}
tlsCertFile: "$PKI/kubelet-serving.crt"
tlsPrivateKeyFile: "$PKI/kubelet-serving.key"
containerRuntimeEndpoint: "unix://$SOCK"
cgroupDriver: cgroupfs
failCgroupV1: false
failSwapOn: false
oomScoreAdj: 0
# An image the kubelet deletes can never be pulled again here.
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
evictionHard: {memory.available: "100Mi", nodefs.available: "1%", imagefs.available: "1%"}
podLogsDir: "$E2E_DIR/pod-logs"
clusterDomain: cluster.local
resolvConf: /etc/resolv.conf
registerNode: true
serializeImagePulls: false
EOF

  put "$CFG/kube-proxy.yaml" <<EOF
apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
clientConnection: {kubeconfig: "$CFG/proxy.kubeconfig"}
mode: iptables
hostnameOverride: $NODE_NAME
bindAddress: $NODE_IP
clusterCIDR: $POD_CIDR
healthzBindAddress: 127.0.0.1:10256
metricsBindAddress: 127.0.0.1:10249
nodePortAddresses: ["$NODE_IP/32"]
oomScoreAdj: 0
# Zeros leave the machine's conntrack sysctls alone.
conntrack: {maxPerCore: 0, min: 0, tcpEstablishedTimeout: 0s, tcpCloseWaitTimeout: 0s}
EOF

  put "$CFG/storage.yaml" <<EOF
apiVersion: storage.k8s.io/v1
kind: StorageClass
metadata:
  name: standard
  annotations: {storageclass.kubernetes.io/is-default-class: "true"}
provisioner: $PROVISIONER
reclaimPolicy: Delete
volumeBindingMode: WaitForFirstConsumer
EOF
}

# ---------------------------------------------------------------- images

# fresh FILE SOURCE_DIR: FILE exists and no Go file under SOURCE_DIR is newer.
fresh() { [ -f "$1" ] && [ -z "$(find "$2" -name '*.go' ! -name '*_test.go' -newer "$1" 2>/dev/null)" ]; }

# build_image NAME REF USER: a static binary from hack/e2e-images/NAME wrapped in a scratch image.
build_image() {
  local name=$1 ref=$2 user=$3
  local tar=$E2E_DIR/images/$name.tar
  fresh "$tar" "$ROOT/hack/e2e-images" && return
  mkdir -p "$E2E_DIR/images" "$E2E_DIR/bin"
  (cd "$ROOT" && CGO_ENABLED=0 go build -trimpath -ldflags '-s -w' -o "$E2E_DIR/bin/$name" "./hack/e2e-images/$name")
  (cd "$ROOT" && go run ./hack/e2e-images -image "$ref" -file "$E2E_DIR/bin/$name=/$name" \
    -entrypoint "/$name" -user "$user" -output "$tar")
  log "built image $ref"
}

# import_images TARBALL...: load docker-archives into the k8s.io namespace the kubelet uses.
import_images() {
  for t in "$@"; do
    ctr_ images import "$t" >/dev/null || die "ctr could not import $t"
    log "imported $t"
  done
}

build_provisioner() {
  fresh "$E2E_DIR/bin/provisioner" "$ROOT/hack/e2e-provisioner" && return
  mkdir -p "$E2E_DIR/bin"
  (cd "$ROOT" && CGO_ENABLED=0 go build -trimpath -o "$E2E_DIR/bin/provisioner" ./hack/e2e-provisioner)
}

# ---------------------------------------------------------------- up

# clear_foreign_leftovers runs before a first `up` from this folder. A cluster started from
# another checkout may still run (refuse: it holds the node address and ports), or may have
# been killed without `down` (a session that ended): then its interface, bridge, chains and
# empty cgroups are only in the way, and are removed. The sysctls it changed stay changed.
clear_foreign_leftovers() {
  local pids
  pids=$(find /sys/fs/cgroup/*/kubepods /sys/fs/cgroup/kubepods -name cgroup.procs -exec cat {} + 2>/dev/null | sort -un || true)
  [ -z "$pids" ] || die "processes run in kubepods cgroups (pids $(echo $pids)): another cluster is up; take it down first"
  # Only while the address is local: otherwise the request would leave the machine.
  if ip -4 -o addr show | grep -q " inet $NODE_IP/" &&
    curl -sk --max-time 2 -o /dev/null "https://$NODE_IP:$API_PORT/" 2>/dev/null; then
    die "something answers on $NODE_IP:$API_PORT: another e2e cluster is up; take it down first"
  fi
  if ip link show "$NODE_IFACE" >/dev/null 2>&1 || ip link show "$CNI_BRIDGE" >/dev/null 2>&1 ||
    [ -n "$(find /sys/fs/cgroup -maxdepth 2 -name kubepods 2>/dev/null)" ] ||
    iptables-save 2>/dev/null | grep -q '^:RKE2E-ISOLATE'; then
    log "WARNING: removing what a cluster that was not taken down left (interfaces, chains, cgroups)"
    local veth
    for veth in $(ip -o link show master "$CNI_BRIDGE" 2>/dev/null | awk -F': ' '{print $2}' | sed 's/@.*//'); do
      ip link del "$veth" 2>/dev/null || true
    done
    ip link del "$CNI_BRIDGE" 2>/dev/null || true
    ip link del "$NODE_IFACE" 2>/dev/null || true
    clean_firewall
    remove_cgroups
  fi
}

cmd_up() {
  [ "$(id -u)" = 0 ] || die "must run as root"
  for b in k8s etcd; do [ -x "$K8S_BIN/$b" ] || die "$K8S_BIN/$b is missing: run 'make k8s-binaries'"; done
  [ ${#SOCK} -lt 100 ] || die "socket path $SOCK is too long for a unix socket: set E2E_DIR shorter"
  mkdir -p "$E2E_DIR" "$LOGS" "$RUN"
  install_packages
  [ -f "$STATE/saved" ] || clear_foreign_leftovers
  save_machine_state
  local t_start; t_start=$(date +%s.%N)

  setup_network
  make_pki
  write_configs
  build_image pause "$PAUSE_IMAGE" 65535:65535
  build_image probe "$PROBE_IMAGE" 65532:65532
  build_provisioner
  log "prepared (packages, network, certificates, configs, images)"

  start containerd containerd --config "$CFG/containerd.toml"
  wait_for "containerd" 30 ctr --address "$SOCK" version || die "containerd did not start (see $LOGS/containerd.log)"
  import_images "$E2E_DIR/images/pause.tar" "$E2E_DIR/images/probe.tar"

  start etcd "$K8S_BIN/etcd" --name restkube-e2e --data-dir "$E2E_DIR/etcd" \
    --listen-client-urls "http://127.0.0.1:$ETCD_CLIENT_PORT" --advertise-client-urls "http://127.0.0.1:$ETCD_CLIENT_PORT" \
    --listen-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" --initial-advertise-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" \
    --initial-cluster "restkube-e2e=http://127.0.0.1:$ETCD_PEER_PORT" --unsafe-no-fsync --log-level warn
  wait_for "etcd" 30 curl -sf "http://127.0.0.1:$ETCD_CLIENT_PORT/health" || die "etcd did not start (see $LOGS/etcd.log)"

  start kube-apiserver "$K8S_BIN/kube-apiserver" \
    --etcd-servers "http://127.0.0.1:$ETCD_CLIENT_PORT" \
    --bind-address "$NODE_IP" --advertise-address "$NODE_IP" --secure-port "$API_PORT" \
    --tls-cert-file "$PKI/apiserver.crt" --tls-private-key-file "$PKI/apiserver.key" \
    --client-ca-file "$PKI/ca.crt" \
    --kubelet-client-certificate "$PKI/apiserver-kubelet-client.crt" --kubelet-client-key "$PKI/apiserver-kubelet-client.key" \
    --kubelet-certificate-authority "$PKI/ca.crt" --kubelet-preferred-address-types InternalIP \
    --service-account-key-file "$PKI/sa.pub" --service-account-signing-key-file "$PKI/sa.key" \
    --service-account-issuer https://kubernetes.default.svc.cluster.local \
    --service-cluster-ip-range "$SERVICE_CIDR" \
    --authorization-mode Node,RBAC --enable-admission-plugins NodeRestriction \
    --allow-privileged=true --profiling=false
  wait_for "kube-apiserver" 90 kubectl get --raw /readyz || die "kube-apiserver did not become ready (see $LOGS/kube-apiserver.log)"
  log "control plane API ready"

  start kube-controller-manager "$K8S_BIN/kube-controller-manager" \
    --kubeconfig "$CFG/controller-manager.kubeconfig" \
    --authentication-kubeconfig "$CFG/controller-manager.kubeconfig" --authorization-kubeconfig "$CFG/controller-manager.kubeconfig" \
    --bind-address 127.0.0.1 --leader-elect=false --use-service-account-credentials \
    --service-account-private-key-file "$PKI/sa.key" --root-ca-file "$PKI/ca.crt" \
    --cluster-signing-cert-file "$PKI/ca.crt" --cluster-signing-key-file "$PKI/ca.key" \
    --service-cluster-ip-range "$SERVICE_CIDR" --profiling=false
  start kube-scheduler "$K8S_BIN/kube-scheduler" \
    --kubeconfig "$CFG/scheduler.kubeconfig" \
    --authentication-kubeconfig "$CFG/scheduler.kubeconfig" --authorization-kubeconfig "$CFG/scheduler.kubeconfig" \
    --bind-address 127.0.0.1 --leader-elect=false --profiling=false
  start kubelet "$K8S_BIN/kubelet" --config "$CFG/kubelet.yaml" --kubeconfig "$CFG/kubelet.kubeconfig" \
    --root-dir "$E2E_DIR/kubelet" --hostname-override "$NODE_NAME" --node-ip "$NODE_IP"
  start kube-proxy "$K8S_BIN/kube-proxy" --config "$CFG/kube-proxy.yaml"
  start provisioner "$E2E_DIR/bin/provisioner" -kubeconfig "$KUBECONFIG_ADMIN" -name "$PROVISIONER" \
    -dir "$E2E_DIR/volumes" -uid 65532
  kubectl apply -f "$CFG/storage.yaml" >/dev/null

  wait_for "node $NODE_NAME to register" 60 kubectl get node "$NODE_NAME" || die "the kubelet did not register (see $LOGS/kubelet.log)"
  kubectl wait --for=condition=Ready "node/$NODE_NAME" --timeout=120s >/dev/null ||
    die "node not Ready (see $LOGS/kubelet.log)"
  log "node Ready"
  # Pods created before the default ServiceAccount exists are rejected.
  wait_for "the default ServiceAccount" 60 kubectl -n default get serviceaccount default ||
    die "no default ServiceAccount (see $LOGS/kube-controller-manager.log)"
  log "cluster up in $(since "$t_start")s; export KUBECONFIG=$KUBECONFIG_ADMIN"
}

# ---------------------------------------------------------------- down

# delete_pods stops every pod through the kubelet, so CRI and CNI release what they hold.
delete_pods() {
  running kubelet && running kube-apiserver || return 0
  kubectl get --raw /readyz >/dev/null 2>&1 || return 0
  # Nothing may recreate or reschedule pods while they go.
  stop kube-controller-manager
  stop kube-scheduler
  local n; n=$(kubectl get pods -A --no-headers 2>/dev/null | wc -l)
  if [ "$n" -gt 0 ]; then
    log "deleting $n pods through the kubelet"
    kubectl delete pods --all -A --wait --timeout=120s >/dev/null 2>&1 ||
      log "WARNING: some pods did not terminate in time; removing them through containerd"
  fi
}

# remove_containers removes what the kubelet left to containerd (after a half-finished run).
remove_containers() {
  running containerd || return 0
  local ids
  ids=$(ctr_ tasks ls -q 2>/dev/null || true)
  for id in $ids; do ctr_ tasks delete --force "$id" >/dev/null 2>&1 || true; done
  ids=$(ctr_ containers ls -q 2>/dev/null || true)
  for id in $ids; do ctr_ containers delete "$id" >/dev/null 2>&1 || true; done
  [ -z "$ids" ] || log "removed $(echo "$ids" | wc -w) containers from containerd"
}

# kill_shims ends containerd shims serving our socket (only ours: they name it in their arguments).
kill_shims() {
  local p
  for p in /proc/[0-9]*; do
    { tr '\0' ' ' <"$p/cmdline"; } 2>/dev/null | grep -q "containerd-shim.* -address $SOCK " || continue
    kill -KILL "${p#/proc/}" 2>/dev/null && log "killed leftover shim ${p#/proc/}"
  done
}

# kill_pod_processes ends container processes that outlived their shim (containerd or the shim
# killed in a half-finished run): every process in the kubepods cgroups, which hold only our
# pods (`up` refuses to run next to another kubelet's kubepods).
kill_pod_processes() {
  grep -q '^kubepods cgroups: 0$' "$STATE/baseline" 2>/dev/null || return 0
  local pids pid
  pids=$(find /sys/fs/cgroup/*/kubepods /sys/fs/cgroup/kubepods -name cgroup.procs -exec cat {} + 2>/dev/null | sort -un || true)
  [ -n "$pids" ] || return 0
  log "killing $(echo "$pids" | wc -w) container processes left without a shim"
  for pid in $pids; do kill -KILL "$pid" 2>/dev/null || true; done
  for pid in $pids; do wait_for "pid $pid to die" 10 dead "$pid" || log "WARNING: pid $pid survived SIGKILL"; done
}

# mounts_under DIR: mount points at or below DIR, deepest first.
mounts_under() { awk -v d="$1" '$5 == d || index($5, d "/") == 1 {print $5}' /proc/self/mountinfo | sort -r; }

unmount_all() {
  local dirs=("$E2E_DIR" /var/lib/kubelet)
  grep -qx /run/containerd "$STATE/preexisting" 2>/dev/null || dirs+=(/run/containerd)
  local d m
  for d in "${dirs[@]}"; do
    for m in $(mounts_under "$d"); do umount "$m" 2>/dev/null || umount -l "$m" || log "WARNING: cannot unmount $m"; done
  done
  # Network namespaces the CNI made for pods that never got a clean teardown.
  for m in /run/netns/*; do
    [ -e "$m" ] || continue
    grep -qx "$(basename "$m")" "$STATE/netns" 2>/dev/null && continue
    umount "$m" 2>/dev/null || true
    rm -f "$m"
  done
}

# clean_firewall removes our chains and every rule that jumps to them, table by table, keeping
# everything else; then drops tables that the cluster created and left empty.
clean_firewall() {
  local tool t rules
  for tool in iptables ip6tables; do
    command -v "$tool-save" >/dev/null || continue
    for t in filter nat mangle raw security; do
      rules=$("$tool-save" -t "$t" 2>/dev/null) || continue
      grep -qE '(KUBE-|CNI-|RKE2E-)' <<<"$rules" || continue
      grep -vE '^:(KUBE-|CNI-|RKE2E-)|^-A (KUBE-|CNI-|RKE2E-)|-[jg] (KUBE-|CNI-|RKE2E-)' <<<"$rules" | "$tool-restore" ||
        log "WARNING: could not clean $tool table $t"
    done
  done
  # Which tables the cluster created is known only with the state of our own `up`.
  command -v nft >/dev/null && [ -f "$STATE/nft-tables" ] || return 0
  local fam name
  while read -r _ fam name; do
    [ -n "$name" ] || continue
    grep -qx "table $fam $name" "$STATE/nft-tables" 2>/dev/null && continue
    # Only tables that hold no rule any more (chains left by iptables-nft are empty).
    nft list table "$fam" "$name" 2>/dev/null | grep -qvE '^\s*(table|chain|type|policy|\}|$)' && continue
    nft delete table "$fam" "$name" 2>/dev/null || true
  done < <(nft list tables 2>/dev/null)
}

remove_cgroups() {
  local d
  for d in /sys/fs/cgroup/*/kubepods /sys/fs/cgroup/kubepods; do
    [ -d "$d" ] || continue
    find "$d" -depth -type d -exec rmdir {} \; 2>/dev/null || true
    [ -d "$d" ] && log "WARNING: $d still holds processes"
  done
  return 0
}

restore_sysctls() {
  [ -f "$STATE/sysctl" ] || return 0
  local line
  while IFS= read -r line; do sysctl -qw "$line" >/dev/null 2>&1 || log "WARNING: could not restore $line"; done <"$STATE/sysctl"
}

remove_side_paths() {
  local p
  for p in "${SIDE_PATHS[@]}"; do
    [ -e "$p" ] || continue
    grep -qx "$p" "$STATE/preexisting" 2>/dev/null && continue
    if [ -n "$(mounts_under "$p")" ]; then log "WARNING: $p still has mounts, left in place"; continue; fi
    rm -rf --one-file-system "$p"
  done
}

cmd_down() {
  [ "$(id -u)" = 0 ] || die "must run as root"
  [ -d "$E2E_DIR" ] || { log "nothing to do: $E2E_DIR does not exist"; return 0; }
  mkdir -p "$RUN" "$LOGS"
  delete_pods
  stop provisioner
  stop kube-proxy
  stop kubelet
  remove_containers
  local i
  for ((i = ${#COMPONENTS[@]} - 1; i >= 0; i--)); do stop "${COMPONENTS[i]}"; done
  kill_shims
  kill_pod_processes
  unmount_all
  local veth
  for veth in $(ip -o link show master "$CNI_BRIDGE" 2>/dev/null | awk -F': ' '{print $2}' | sed 's/@.*//'); do
    ip link del "$veth" 2>/dev/null || true
  done
  ip link del "$CNI_BRIDGE" 2>/dev/null && log "removed bridge $CNI_BRIDGE" || true
  ip link del "$NODE_IFACE" 2>/dev/null && log "removed interface $NODE_IFACE" || true
  clean_firewall
  # Connection tracking entries of pods, Services and the node address; they would expire anyway.
  conntrack -D -s "$POD_CIDR" >/dev/null 2>&1 || true
  conntrack -D -d "$SERVICE_CIDR" >/dev/null 2>&1 || true
  conntrack -D -d "$NODE_IP" >/dev/null 2>&1 || true
  remove_cgroups
  restore_sysctls
  remove_side_paths
  rm -f "$SOCK" "$SOCK.ttrpc"
  # IP addresses that the CNI handed out to pods now gone.
  rm -rf "$E2E_DIR/cni/ipam"
  if [ -f "$STATE/baseline" ]; then
    if diff <(cat "$STATE/baseline") <(baseline) >"$STATE/diff"; then
      log "machine is as it was before 'up'"
      rm -f "$STATE/saved" "$STATE/baseline" "$STATE/sysctl" "$STATE/preexisting" "$STATE/netns" "$STATE/nft-tables"
    else
      # The saved state stays, so that another `down` can finish the job with it.
      log "WARNING: the machine differs from before 'up':"; cat "$STATE/diff" >&2
      return 1
    fi
  fi
  log "down"
}

cmd_wipe() {
  cmd_down
  [ -d "$E2E_DIR" ] || return 0
  [ -z "$(mounts_under "$E2E_DIR")" ] || die "mounts remain under $E2E_DIR; not deleting it"
  rm -rf --one-file-system "$E2E_DIR"
  log "wiped $E2E_DIR"
}

cmd_status() {
  local c
  for c in "${COMPONENTS[@]}"; do
    if running "$c"; then echo "$c: running (pid $(pid_of "$c"))"; else echo "$c: stopped"; fi
  done
  running kube-apiserver && kubectl get nodes -o wide 2>/dev/null || true
}

case "${1:-}" in
up) cmd_up ;;
down) cmd_down ;;
wipe) cmd_wipe ;;
status) cmd_status ;;
import) shift; running containerd || die "containerd is not running: 'up' first"; import_images "$@" ;;
kubeconfig) echo "$KUBECONFIG_ADMIN" ;;
*) echo "usage: $0 up|down|wipe|status|import TARBALL...|kubeconfig" >&2; exit 2 ;;
esac
