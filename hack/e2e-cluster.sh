#!/usr/bin/env bash
# A real single-node Kubernetes cluster for the end-to-end tests, as root, in a network namespace
# of its own: the host's network is never changed.
#
#   hack/e2e-cluster.sh up       install what is missing, build the test images, create the network
#                                namespace, start (or resume) the cluster inside it, wait for it
#   hack/e2e-cluster.sh exec CMD...   run CMD inside the namespace (kubectl, helm, go test, a shell),
#                                with KUBECONFIG, E2E_* and PATH set for the cluster and GOPROXY=off
#   hack/e2e-cluster.sh down     stop it, delete the namespace, leave the machine as it was before `up`
#   hack/e2e-cluster.sh wipe     down, then delete the folder (certs, etcd data, volumes, images)
#   hack/e2e-cluster.sh status   what runs
#   hack/e2e-cluster.sh import TARBALL...   import docker-archive images into the node
#
# Network. Everything of the cluster — containerd and the pods' shims, etcd, kube-apiserver,
# kube-controller-manager, kube-scheduler, the kubelet, kube-proxy, the volume provisioner — and
# everything that talks to it (the e2e tests, kubectl, helm: `exec`) runs inside the network
# namespace $NETNS, entered with `nsenter --net` (`ip netns exec` would remount /sys and hide the
# cgroup mounts the kubelet needs). Inside it: lo, the node's interface $NODE_IFACE (an empty
# bridge: no other machine can reach it, and this kernel has no dummy driver) holding $NODE_IP, a
# route for the Service range to it (so the node can reach ClusterIPs; kube-proxy rewrites them),
# the CNI bridge $CNI_BRIDGE with the pods' veths, and the iptables rules and network sysctls of
# kube-proxy and the CNI plugins. There is no default route and no interface leading out of the
# namespace, so no packet of the cluster can leave the machine even if a rule is missing.
# The host's links, addresses, routes, rules, iptables/ip6tables/nft rulesets and network
# sysctls are recorded before `up` and compared after `up` and after `down`; any difference fails
# loudly.
#
# What does change outside the namespace (the machine is shared; these are restored or removed by
# `down`): Debian packages installed (left installed), the kernel settings in GLOBAL_SYSCTLS
# (global, not per network namespace: the kubelet sets them; restored), cgroups under kubepods
# (removed), the mounts and paths in SIDE_PATHS (removed when `up` created them), and the
# namespace's own bind mount under /run/netns. Everything else lives under $E2E_DIR (default
# bin/e2e): containerd's root, state and socket, etcd data, certificates, kubeconfigs
# ($E2E_DIR/kubeconfig is the admin's), the kubelet's root, pod logs, CNI state, volumes, logs
# (logs/*.log), pid files and the saved machine state (state/). Every step is idempotent: `up`
# after a half-finished `up` or `down` resumes; `down` after a half-finished run cleans up.
#
# Go: packages and Go modules are fetched only on the host, before anything runs in the
# namespace; inside it GOPROXY=off, so an accidental download fails at once.
#
# No CoreDNS: the tests reach Services by ClusterIP (they run inside the namespace).
#
# Storage: StorageClass `standard` (default, WaitForFirstConsumer) served by
# hack/e2e-provisioner, which backs each claim with a directory under volumes/ owned by uid 65532.
#
# Images: every hack/e2e-images/NAME/ holding a main package becomes restkube.local/NAME:e2e (a
# static binary /NAME in a scratch image, uid 65532; pause runs as 65535), imported at `up`.
#
# See ../shared/K8S-BINARIES.md for why each kubelet/kube-proxy setting is what it is.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
SELF=$ROOT/hack/e2e-cluster.sh
E2E_DIR=${E2E_DIR:-$ROOT/bin/e2e}
K8S_BIN=${K8S_BIN:-$ROOT/bin/k8s}
export E2E_DIR K8S_BIN
NETNS=${E2E_NETNS:-restkube-e2e}
NETNS_PATH=/run/netns/$NETNS
NODE_NAME=restkube-e2e
NODE_IFACE=rk-node0
NODE_IP=10.250.0.1
CNI_BRIDGE=rk-cni0
POD_CIDR=10.244.0.0/24
SERVICE_CIDR=10.96.0.0/24
API_SERVICE_IP=10.96.0.1
ETCD_CLIENT_PORT=12379
ETCD_PEER_PORT=12380
API_PORT=6443
PAUSE_IMAGE=restkube.local/pause:e2e
PROVISIONER=restkube.dev/e2e-hostpath
PACKAGES=(containerd runc containernetworking-plugins iptables nftables conntrack openssl iproute2 curl util-linux)
# Kernel settings that are global, not per network namespace, which the kubelet changes
# (vm.*, kernel.*; see its setupKernelTunables) or which kube-proxy could (nf_conntrack_max is
# writable only from the host's namespace; our zero conntrack settings leave it alone anyway).
# Saved at the first `up`, restored at `down`. The network sysctls the cluster does set
# (net.ipv4.ip_forward, net.ipv4.conf.*.route_localnet, net.bridge.bridge-nf-call-*,
# net.netfilter.nf_conntrack_tcp_timeout_*) are per namespace on this kernel (6.x; checked with
# `unshare --net`): they change only inside $NETNS and vanish with it.
GLOBAL_SYSCTLS=(kernel.panic kernel.panic_on_oops vm.overcommit_memory vm.panic_on_oom
  kernel.keys.root_maxkeys kernel.keys.root_maxbytes net.netfilter.nf_conntrack_max)
# The host's network sysctls, part of the host network check: they must never change.
HOST_NET_SYSCTLS=(net.ipv4.ip_forward net.ipv4.conf.all.forwarding net.ipv4.conf.all.route_localnet
  net.ipv6.conf.all.forwarding net.bridge.bridge-nf-call-iptables net.bridge.bridge-nf-call-ip6tables
  net.netfilter.nf_conntrack_tcp_timeout_established net.netfilter.nf_conntrack_tcp_timeout_close_wait)
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

T0=${E2E_T0:-$(date +%s.%N)}
export E2E_T0=$T0
since() { awk -v a="$1" -v b="$(date +%s.%N)" 'BEGIN {printf "%.1f", b - a}'; }
log() { printf '[e2e-cluster %6ss] %s\n' "$(since "$T0")" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }
ctr_() { ctr --address "$SOCK" --namespace k8s.io "$@"; }

# kubectl talks to the cluster, so it runs only inside the namespace: from the host, the node
# address would follow the default route off the machine.
kubectl() {
  inside || die "kubectl called outside the network namespace $NETNS (a bug in this script)"
  "$K8S_BIN/kubectl" --kubeconfig "$KUBECONFIG_ADMIN" "$@"
}

# wait_for DESCRIPTION TIMEOUT_SECONDS COMMAND...: poll COMMAND until it succeeds or time runs out.
wait_for() {
  local what=$1 timeout=$2; shift 2
  local deadline=$(($(date +%s) + timeout))
  until "$@" >/dev/null 2>&1; do
    [ "$(date +%s)" -lt "$deadline" ] || { log "timed out after ${timeout}s waiting for $what"; return 1; }
    sleep 0.2
  done
}

# ---------------------------------------------------------------- the network namespace

# ns_exists: our namespace is mounted at $NETNS_PATH.
ns_exists() { [ -e "$NETNS_PATH" ] && [ "$(stat -f -c %T "$NETNS_PATH" 2>/dev/null)" = nsfs ]; }

# ns_id: the namespace's identity as /proc/PID/ns/net shows it ("net:[INODE]"), recorded at
# creation so that `down` can still find processes in it after the mount is gone.
ns_id() {
  if ns_exists; then echo "net:[$(stat -L -c %i "$NETNS_PATH")]"; else cat "$RUN/netns.id" 2>/dev/null || true; fi
}

# inside: this process runs in our namespace.
inside() { ns_exists && [ "$(readlink /proc/self/ns/net)" = "$(ns_id)" ]; }

# in_ns FUNCTION ARGS...: run a function of this script inside the namespace.
in_ns() {
  ns_exists || die "network namespace $NETNS does not exist"
  nsenter --net="$NETNS_PATH" -- env GOPROXY=off "$SELF" __inside "$@"
}

create_netns() {
  if [ -e "$NETNS_PATH" ] && ! ns_exists; then rm -f "$NETNS_PATH"; fi # a stale file after a reboot
  if ! ns_exists; then
    ip netns add "$NETNS"
    log "created network namespace $NETNS"
  fi
  ns_id >"$RUN/netns.id"
}

# setup_ns_network runs inside the namespace: the node's interface and address, and a route for
# the Service range to it. Nothing here can reach the host's interfaces.
setup_ns_network() {
  inside || die "setup_ns_network outside $NETNS"
  ip link set lo up
  if ! ip link show "$NODE_IFACE" >/dev/null 2>&1; then
    # The dummy driver is the natural choice; some kernels lack it, and an empty bridge serves
    # the same purpose: a local interface holding an address that nothing else can reach.
    ip link add "$NODE_IFACE" type dummy 2>/dev/null || ip link add "$NODE_IFACE" type bridge
    log "created interface $NODE_IFACE in $NETNS"
  fi
  sysctl -qw "net.ipv6.conf.$NODE_IFACE.disable_ipv6=1" 2>/dev/null || true
  ip addr show dev "$NODE_IFACE" | grep -q "inet $NODE_IP/" || ip addr add "$NODE_IP/32" dev "$NODE_IFACE"
  ip link set "$NODE_IFACE" up
  # Locally sent packets need a route before kube-proxy's rules rewrite a ClusterIP to a pod; a
  # ClusterIP it has not programmed dies on the empty bridge.
  ip route replace "$SERVICE_CIDR" dev "$NODE_IFACE" src "$NODE_IP"
  # Per namespace on this kernel (the host check would catch it otherwise): routing for the
  # pods, and bridged pod traffic through iptables (already the default: write only if not).
  sysctl -qw net.ipv4.ip_forward=1
  [ "$(sysctl -n net.bridge.bridge-nf-call-iptables 2>/dev/null || echo 1)" = 1 ] ||
    sysctl -qw net.bridge.bridge-nf-call-iptables=1
}

# ns_pids lists the live processes in our namespace.
ns_pids() {
  local id pid
  id=$(ns_id)
  [ -n "$id" ] || return 0
  for pid in $(find /proc -mindepth 3 -maxdepth 3 -path '/proc/[0-9]*/ns/net' \
    -lname "$(sed 's/[][*?]/\\&/g' <<<"$id")" 2>/dev/null | cut -d/ -f3); do
    alive "$pid" && echo "$pid"
  done
  return 0
}

# kill_ns_processes ends every process left in our namespace (all of them are ours: the
# cluster's daemons, containerd's shims, tests and port-forwards of a half-finished run).
kill_ns_processes() {
  local pids pid
  pids=$(ns_pids)
  [ -n "$pids" ] || return 0
  for pid in $pids; do kill -KILL "$pid" 2>/dev/null || true; done
  log "killed $(echo $pids | wc -w) processes left in $NETNS"
  for pid in $pids; do wait_for "pid $pid to die" 10 dead "$pid" || log "WARNING: pid $pid in $NETNS survived SIGKILL"; done
}

delete_netns() {
  if ns_exists; then
    ip netns del "$NETNS" && log "deleted network namespace $NETNS"
  fi
  rm -f "$RUN/netns.id"
  # `ip netns add` bind-mounts /run/netns onto itself; undo that when `up` created the folder.
  if [ -f "$STATE/preexisting" ] && ! grep -qx /run/netns "$STATE/preexisting" && [ -d /run/netns ] &&
    [ -z "$(ls -A /run/netns)" ]; then
    while [ -n "$(mounts_under /run/netns)" ]; do umount /run/netns 2>/dev/null || break; done
    rmdir /run/netns 2>/dev/null || true
  fi
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

# start NAME COMMAND...: start a daemon in its own session, inside the namespace, logging to logs/NAME.log.
start() {
  local name=$1; shift
  inside || die "refusing to start $name outside $NETNS"
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

# retry N COMMAND...: run COMMAND up to N times, 10 s apart (apt waits for other helpers' dpkg).
retry() {
  local n=$1 i; shift
  for ((i = 1; ; i++)); do
    "$@" && return 0
    [ "$i" -lt "$n" ] || return 1
    log "retrying in 10s: $*"; sleep 10
  done
}

install_packages() {
  local missing=() p
  for p in "${PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return
  log "installing Debian packages: ${missing[*]}"
  retry 30 apt-get -o DPkg::Lock::Timeout=300 update -qq
  DEBIAN_FRONTEND=noninteractive retry 30 apt-get -o DPkg::Lock::Timeout=300 install -y -qq \
    --no-install-recommends "${missing[@]}" >/dev/null
}

# host_network prints the host's network configuration, normalised only where it changes by
# itself (packet counters, address lifetimes, route expiry). It runs in the host's namespace.
host_network() {
  ! inside || die "host_network inside $NETNS"
  echo "## ip link"; ip -o link show
  echo "## ip addr"; ip -o addr show | sed -E 's/\\ +valid_lft.*//'
  echo "## ip route (all tables)"; ip -4 route show table all; ip -6 route show table all | sed -E 's/ expires [0-9]+sec//'
  echo "## ip rule"; ip -4 rule show; ip -6 rule show
  local tool
  for tool in iptables-nft-save ip6tables-nft-save iptables-legacy-save ip6tables-legacy-save; do
    command -v "$tool" >/dev/null || continue
    echo "## $tool"; "$tool" 2>/dev/null | grep -v '^#' | sed -E 's/\[[0-9]+:[0-9]+\]/[-]/' || true
  done
  if command -v nft >/dev/null; then
    echo "## nft list ruleset"; nft list ruleset 2>/dev/null | sed -E 's/counter packets [0-9]+ bytes [0-9]+/counter/; s/ expires [0-9a-z.]+//' || true
  fi
  echo "## sysctl"
  local k
  for k in "${HOST_NET_SYSCTLS[@]}"; do echo "$k=$(sysctl -n "$k" 2>/dev/null || echo -)"; done
}

# check_host_network WHEN: the host's network is what it was before `up`, or fail loudly.
check_host_network() {
  [ -f "$STATE/host-network" ] || return 0
  host_network >"$STATE/host-network.now"
  if ! diff -u "$STATE/host-network" "$STATE/host-network.now" >"$STATE/host-network.diff"; then
    log "ERROR: THE HOST'S NETWORK CHANGED ($1); it must never change. Difference (- before up, + now):"
    cat "$STATE/host-network.diff" >&2
    return 1
  fi
  log "host network check ($1): links, addresses, routes, rules, iptables/nft rulesets and network sysctls unchanged"
}

# save_machine_state records, once per up/down cycle, what `down` must restore or compare with.
save_machine_state() {
  mkdir -p "$STATE"
  [ -f "$STATE/saved" ] && return
  : >"$STATE/sysctl"
  local k p
  for k in "${GLOBAL_SYSCTLS[@]}"; do
    v=$(sysctl -n "$k" 2>/dev/null) && printf '%s=%s\n' "$k" "$v" >>"$STATE/sysctl"
  done
  : >"$STATE/preexisting"
  for p in "${SIDE_PATHS[@]}"; do [ -e "$p" ] && echo "$p" >>"$STATE/preexisting"; done
  ls /run/netns 2>/dev/null >"$STATE/netns" || true
  baseline >"$STATE/baseline"
  host_network >"$STATE/host-network"
  touch "$STATE/saved"
}

# baseline prints what else "the machine as it was" means: mounts, cgroups, named network
# namespaces, global kernel settings.
baseline() {
  echo "mounts: $(wc -l </proc/self/mountinfo)"
  echo "kubepods cgroups: $(find /sys/fs/cgroup -maxdepth 2 -name kubepods 2>/dev/null | wc -l)"
  echo "netns: $(ls /run/netns 2>/dev/null | tr '\n' ' ')"
  local k
  for k in "${GLOBAL_SYSCTLS[@]}"; do echo "sysctl $k=$(sysctl -n "$k" 2>/dev/null || echo -)"; done
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

# e2e_images lists the directories of hack/e2e-images that hold a main package: each is an image.
e2e_images() {
  local d
  for d in "$ROOT"/hack/e2e-images/*/; do
    grep -qs '^package main$' "$d"*.go && basename "$d"
  done
  return 0
}

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

# build_images builds restkube.local/NAME:e2e for every hack/e2e-images/NAME (on the host: Go
# may fetch modules here, never inside the namespace).
build_images() {
  local name user
  for name in $(e2e_images); do
    user=65532:65532
    [ "$name" != pause ] || user=65535:65535
    build_image "$name" "restkube.local/$name:e2e" "$user"
  done
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
# another checkout may still run (refuse: it shares the kubepods cgroups and the namespace's
# name), or may have been killed without `down` (a session that ended): then its namespace and
# empty cgroups are only in the way, and are removed. The global sysctls it changed stay changed.
clear_foreign_leftovers() {
  local pids
  pids=$(find /sys/fs/cgroup/*/kubepods /sys/fs/cgroup/kubepods -name cgroup.procs -exec cat {} + 2>/dev/null | sort -un || true)
  [ -z "$pids" ] || die "processes run in kubepods cgroups (pids $(echo $pids)): another cluster is up; take it down first"
  if ns_exists; then
    [ -z "$(ns_pids)" ] ||
      die "processes run in the network namespace $NETNS: another e2e cluster is up (another checkout?); take it down first"
    log "WARNING: deleting the network namespace $NETNS that a cluster which was not taken down left"
    ip netns del "$NETNS"
  fi
  remove_cgroups
}

cmd_up() {
  [ "$(id -u)" = 0 ] || die "must run as root"
  for b in k8s etcd; do [ -x "$K8S_BIN/$b" ] || die "$K8S_BIN/$b is missing: run 'make k8s-binaries'"; done
  [ ${#SOCK} -lt 100 ] || die "socket path $SOCK is too long for a unix socket: set E2E_DIR shorter"
  mkdir -p "$E2E_DIR" "$LOGS" "$RUN"
  # On the host, with network: Debian packages, then everything Go builds.
  install_packages
  build_images
  build_provisioner
  [ -f "$STATE/saved" ] || clear_foreign_leftovers
  save_machine_state
  log "prepared on the host (packages, images, provisioner); saved the machine's state"

  create_netns
  in_ns up_inside || { check_host_network "after a failed up" || true; die "the cluster did not come up (logs in $LOGS)"; }
  check_host_network "after up" || exit 1
}

# up_inside runs inside the namespace: the network there, certificates, configs, every component.
up_inside() {
  local t_start; t_start=$(date +%s.%N)
  setup_ns_network
  make_pki
  write_configs
  log "prepared in $NETNS (node interface, certificates, configs)"

  start containerd containerd --config "$CFG/containerd.toml"
  wait_for "containerd" 30 ctr --address "$SOCK" version || die "containerd did not start (see $LOGS/containerd.log)"
  import_images "$E2E_DIR"/images/*.tar

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
  log "cluster up in $(since "$t_start")s in network namespace $NETNS; reach it with: $SELF exec kubectl get pods -A"
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

# down_cluster stops the pods (through the kubelet, when the namespace is there to reach it),
# then every component, by its recorded pid.
down_cluster() {
  if inside; then delete_pods; fi
  stop provisioner
  stop kube-proxy
  stop kubelet
  remove_containers
  local i
  for ((i = ${#COMPONENTS[@]} - 1; i >= 0; i--)); do stop "${COMPONENTS[i]}"; done
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
  local dirs=("$E2E_DIR")
  # Outside our folder only with the state of our own `up`: without it, whatever is mounted
  # there is not ours.
  if [ -f "$STATE/preexisting" ]; then
    dirs+=(/var/lib/kubelet)
    grep -qx /run/containerd "$STATE/preexisting" || dirs+=(/run/containerd)
  fi
  local d m
  for d in "${dirs[@]}"; do
    for m in $(mounts_under "$d"); do umount "$m" 2>/dev/null || umount -l "$m" || log "WARNING: cannot unmount $m"; done
  done
  # The pods' network namespaces that the CNI made and no clean teardown removed (ours is
  # deleted last, by delete_netns).
  [ -f "$STATE/netns" ] || return 0
  for m in /run/netns/*; do
    [ -e "$m" ] && [ "$m" != "$NETNS_PATH" ] || continue
    grep -qx "$(basename "$m")" "$STATE/netns" 2>/dev/null && continue
    umount "$m" 2>/dev/null || true
    rm -f "$m"
  done
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
  [ -f "$STATE/preexisting" ] || return 0 # without our `up`'s record, nothing there is known to be ours
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
  if ns_exists; then
    in_ns down_cluster || log "WARNING: stopping the cluster in $NETNS failed; killing what is left"
  else
    down_cluster
  fi
  kill_ns_processes
  kill_shims
  kill_pod_processes
  unmount_all
  delete_netns
  remove_cgroups
  restore_sysctls
  remove_side_paths
  rm -f "$SOCK" "$SOCK.ttrpc"
  # IP addresses that the CNI handed out to pods now gone.
  rm -rf "$E2E_DIR/cni/ipam"
  local rc=0
  if [ -f "$STATE/baseline" ]; then
    if ! diff <(cat "$STATE/baseline") <(baseline) >"$STATE/diff"; then
      log "WARNING: the machine differs from before 'up' (- before, + now):"; cat "$STATE/diff" >&2
      rc=1
    fi
  fi
  check_host_network "after down" || rc=1
  if [ "$rc" -ne 0 ]; then
    # The saved state stays, so that another `down` can finish the job with it.
    return 1
  fi
  [ -f "$STATE/baseline" ] && log "machine is as it was before 'up'"
  rm -f "$STATE/saved" "$STATE/baseline" "$STATE/sysctl" "$STATE/preexisting" "$STATE/netns" \
    "$STATE/host-network" "$STATE/host-network.now" "$STATE/host-network.diff" "$STATE/diff"
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
  if ns_exists; then echo "network namespace $NETNS: $(ns_pids | wc -l) processes"; else echo "network namespace $NETNS: absent"; fi
  for c in "${COMPONENTS[@]}"; do
    if running "$c"; then echo "$c: running (pid $(pid_of "$c"))"; else echo "$c: stopped"; fi
  done
  if ns_exists && running kube-apiserver; then in_ns kubectl get nodes -o wide 2>/dev/null || true; fi
}

# cmd_exec runs a command inside the namespace, set up to reach the cluster: KUBECONFIG and the
# E2E_* variables of test/e2e, kubectl and helm on PATH, and GOPROXY=off (Go builds there only
# from the module cache).
cmd_exec() {
  [ $# -gt 0 ] || die "usage: $0 exec COMMAND [ARGS...]"
  [ "$(id -u)" = 0 ] || die "must run as root"
  ns_exists || die "the network namespace $NETNS does not exist: run '$0 up' first"
  exec nsenter --net="$NETNS_PATH" -- env GOPROXY=off KUBECONFIG="$KUBECONFIG_ADMIN" \
    E2E_KUBECONFIG="$KUBECONFIG_ADMIN" E2E_KUBECTL="$K8S_BIN/kubectl" E2E_NODE_IP="$NODE_IP" E2E_NETNS="$NETNS" \
    PATH="$K8S_BIN:$ROOT/bin/tools:$PATH" "$@"
}

# host_only COMMAND: up, down and wipe manage the namespace from the host, never from inside it.
host_only() { ! inside || die "run '$0 $1' from the host, not inside the network namespace $NETNS"; }

case "${1:-}" in
up) host_only up; cmd_up ;;
down) host_only down; cmd_down ;;
wipe) host_only wipe; cmd_wipe ;;
status) cmd_status ;;
exec) shift; cmd_exec "$@" ;;
import)
  shift
  running containerd || die "containerd is not running: 'up' first"
  in_ns import_images "$@"
  ;;
kubeconfig) echo "$KUBECONFIG_ADMIN" ;;
__inside) # internal: run a function of this script inside the namespace (see in_ns)
  shift
  inside || die "__inside called outside the network namespace $NETNS"
  "$@"
  ;;
*) echo "usage: $0 up|down|wipe|status|exec COMMAND...|import TARBALL...|kubeconfig" >&2; exit 2 ;;
esac
