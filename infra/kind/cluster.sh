#!/usr/bin/env bash
# The kind cluster `bulkhead`: one node, the platform's gateway and control plane reachable on
# the host's 127.0.0.1, a kubeconfig of its own (never ~/.kube/config).
#
#   cluster.sh create      create it (or reuse a healthy one) and wait until the node is Ready
#                          and CoreDNS and the storage provisioner run
#   cluster.sh delete      delete it and undo every host change create made; prints the host
#                          state diff against the snapshot create took (exit 1 if it differs)
#   cluster.sh status      say what is there (exit 0 only if the cluster is up and Ready)
#   cluster.sh kubeconfig  print the kubeconfig's path (export KUBECONFIG=$(cluster.sh kubeconfig))
#
# Environment:
#   BULKHEAD_KIND_GATEWAY_PORT        host port for NodePort 30080 (default 8080)
#   BULKHEAD_KIND_CONTROL_PLANE_PORT  host port for NodePort 30081 (default 8081)
#   BULKHEAD_KIND_OFFLINE             1: our node image (built by node-image.sh: bridge CNI +
#                                     kube-network-policies); 0: the public kindest/node image
#                                     (kindnetd);
#                                     unset: online if the public image can be pulled, else offline
#   BULKHEAD_KIND_ONLINE_IMAGE        the public node image (default kindest/node:v1.34.4)
#   BULKHEAD_CACHE_DIR                caches outside the clone (default ~/.cache/bulkhead)
#
# Files: .data/kind/kubeconfig, .data/kind/cluster.yaml (rendered from infra/kind/cluster.yaml),
# .data/kind/host-before.txt (host state before create; removed by a clean delete).
#
# Host changes a cluster makes, and how delete undoes them: the Docker network bulkhead-kind
# (created here, IPv4 only, so Docker does not turn on IPv6 forwarding for it: removed); its
# bridge and the node's veth (gone with the network and the node); the node's anonymous /var
# volume (kind removes it with the node); docker-proxy listeners for the mapped ports (gone
# with the node); /lib/modules, which Docker creates empty for kind's read-only mount when the
# host has none (removed if create saw it absent). dockerd runs with --iptables=false
# (infra/docker/engine.sh), so no iptables rules are added on the host; the node's own rules
# live in its network namespace. Host sysctls: our node image keeps kubelet from writing them
# (node-image/files/bulkhead-node-entrypoint); with the public image kubelet writes six of them,
# and delete writes back the values the snapshot recorded.
set -euo pipefail
HERE="$(cd -P "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd -P "$HERE/../.." && pwd)"
CACHE_DIR="${BULKHEAD_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/bulkhead}"
CLUSTER=bulkhead
NODE="$CLUSTER-control-plane"
NETWORK=bulkhead-kind
DATA_DIR="$REPO_ROOT/.data/kind"
KUBECONFIG_FILE="$DATA_DIR/kubeconfig"
CONFIG_FILE="$DATA_DIR/cluster.yaml"
SNAPSHOT="$DATA_DIR/host-before.txt"
LIB_MODULES_MARK="$DATA_DIR/lib-modules-created"
MODE_FILE="$DATA_DIR/mode"
GATEWAY_PORT=${BULKHEAD_KIND_GATEWAY_PORT:-8080}
CONTROL_PLANE_PORT=${BULKHEAD_KIND_CONTROL_PLANE_PORT:-8081}
ONLINE_IMAGE=${BULKHEAD_KIND_ONLINE_IMAGE:-kindest/node:v1.34.4}
KIND="$REPO_ROOT/.tools/bin/kind"
KUBECTL="$REPO_ROOT/.tools/bin/kubectl"
KUBELET_SYSCTLS="kernel.panic kernel.panic_on_oops vm.overcommit_memory vm.panic_on_oom kernel.keys.root_maxkeys kernel.keys.root_maxbytes"
# kind uses this Docker network instead of its default `kind` (which it would create with
# IPv6, and which a user's own kind clusters share).
export KIND_EXPERIMENTAL_DOCKER_NETWORK=$NETWORK

DOCKER=docker
[[ -x /usr/bin/docker ]] && DOCKER=/usr/bin/docker

log() { printf '[bulkhead] %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

use_engine() {
  bash "$REPO_ROOT/infra/docker/engine.sh" start
  eval "$(bash "$REPO_ROOT/infra/docker/engine.sh" env)"
}

k() { "$KUBECTL" --kubeconfig "$KUBECONFIG_FILE" "$@"; }

cluster_exists() { "$KIND" get clusters 2>/dev/null | grep -qx "$CLUSTER"; }

node_state() { "$DOCKER" inspect -f '{{.State.Status}}' "$NODE" 2>/dev/null || echo absent; }

# The API answers and the node is Ready, within a few seconds.
healthy() {
  [[ $(node_state) == running ]] || return 1
  "$KIND" get kubeconfig --name "$CLUSTER" >"$KUBECONFIG_FILE.tmp" 2>/dev/null || return 1
  mv "$KUBECONFIG_FILE.tmp" "$KUBECONFIG_FILE"
  k get --raw /readyz --request-timeout=5s >/dev/null 2>&1 &&
    k wait --for=condition=Ready node --all --timeout=30s >/dev/null 2>&1
}

lacks_cap_sys_resource() {
  local bnd
  bnd=$(awk '/^CapBnd:/ {print $2}' /proc/self/status)
  (((0x$bnd >> 24 & 1) == 0))
}

# offline or online: the environment decides, else whether the public image can be had.
decide_mode() {
  case "${BULKHEAD_KIND_OFFLINE:-}" in
  1 | true | yes) echo offline ;;
  0 | false | no) echo online ;;
  "")
    if "$DOCKER" image inspect "$ONLINE_IMAGE" >/dev/null 2>&1; then
      echo online
      return 0
    fi
    log "can $ONLINE_IMAGE be pulled? (no: offline mode; BULKHEAD_KIND_OFFLINE=1 skips this)"
    if timeout 180 "$DOCKER" pull -q "$ONLINE_IMAGE" >/dev/null 2>&1; then
      echo online
    else
      echo offline
    fi
    ;;
  *) die "BULKHEAD_KIND_OFFLINE must be 1, 0 or unset" ;;
  esac
}

# kubectl for the host at the node's version: our build offline; online, the one in the
# public image (no compiling for a user who has internet).
host_kubectl() {
  local mode=$1
  if [[ $mode == offline ]]; then
    return 0 # node-image.sh build put it in place
  fi
  local tag=${ONLINE_IMAGE##*:} dir
  tag=${tag%%@*}
  dir="$CACHE_DIR/kind/bin/kubectl-from-kindest-$tag"
  if [[ ! -x $dir/kubectl ]]; then
    local cid
    cid=$("$DOCKER" create "$ONLINE_IMAGE")
    mkdir -p "$dir"
    "$DOCKER" cp "$cid:/usr/bin/kubectl" "$dir/kubectl.tmp" && mv "$dir/kubectl.tmp" "$dir/kubectl"
    "$DOCKER" rm "$cid" >/dev/null
  fi
  mkdir -p "$REPO_ROOT/.tools/bin"
  ln -sfn "$dir/kubectl" "$KUBECTL"
}

render_config() {
  local mode=$1
  sed -e "s/@GATEWAY_PORT@/$GATEWAY_PORT/g" -e "s/@CONTROL_PLANE_PORT@/$CONTROL_PLANE_PORT/g" \
    "$HERE/cluster.yaml" >"$CONFIG_FILE"
  # The public image's containerd would fail every pod sandbox where nothing may lower
  # oom_score_adj (no CAP_SYS_RESOURCE); our image's entrypoint handles that itself.
  if [[ $mode == online ]] && lacks_cap_sys_resource; then
    cat >>"$CONFIG_FILE" <<'EOF'
containerdConfigPatches:
  - |-
    [plugins."io.containerd.grpc.v1.cri"]
      restrict_oom_score_adj = true
EOF
  fi
}

# The Docker network, IPv4 only, MTU of the host's default route.
ensure_network() {
  "$DOCKER" network inspect "$NETWORK" >/dev/null 2>&1 && return 0
  local dev mtu=1500
  dev=$(ip -4 route show default 2>/dev/null | awk '{for (i = 1; i < NF; i++) if ($i == "dev") {print $(i+1); exit}}')
  [[ -n $dev && -r /sys/class/net/$dev/mtu ]] && mtu=$(<"/sys/class/net/$dev/mtu")
  "$DOCKER" network create --driver bridge --label io.bulkhead.kind=1 \
    --opt "com.docker.network.driver.mtu=$mtu" "$NETWORK" >/dev/null
}

# Leftovers of ours from an earlier run (a failed create), so the snapshot is the host's own.
remove_leftovers() {
  if "$DOCKER" network inspect "$NETWORK" >/dev/null 2>&1 &&
    [[ -z $("$DOCKER" network inspect -f '{{range .Containers}}{{.Name}} {{end}}' "$NETWORK") ]]; then
    "$DOCKER" network rm "$NETWORK" >/dev/null
  fi
  if [[ -f $LIB_MODULES_MARK ]]; then
    rmdir /lib/modules 2>/dev/null || true
    rm -f "$LIB_MODULES_MARK"
  fi
}

# The host ports must be free before kind asks Docker to publish them (its error is obscure).
check_ports_free() {
  local port var
  for var in BULKHEAD_KIND_GATEWAY_PORT BULKHEAD_KIND_CONTROL_PLANE_PORT; do
    port=$GATEWAY_PORT
    [[ $var == BULKHEAD_KIND_CONTROL_PLANE_PORT ]] && port=$CONTROL_PLANE_PORT
    if ss -Hltn "( sport = :$port )" 2>/dev/null | grep -q .; then
      die "port $port is in use on this host (set $var to a free port)"
    fi
  done
}

wait_for() {
  local what=$1
  shift
  log "waiting: $what"
  "$@" >/dev/null || die "timed out waiting: $what"
}

wait_ready() {
  local start=$SECONDS
  wait_for "node Ready" k wait --for=condition=Ready node --all --timeout=180s
  # The Deployments exist once kubeadm/kind applied them: wait for that first.
  wait_for "CoreDNS deployment created" k -n kube-system wait --for=create deploy/coredns --timeout=60s
  wait_for "CoreDNS running" k -n kube-system rollout status deploy/coredns --timeout=180s
  wait_for "storage provisioner created" k -n local-path-storage wait --for=create deploy/local-path-provisioner --timeout=60s
  wait_for "storage provisioner running" k -n local-path-storage rollout status deploy/local-path-provisioner --timeout=180s
  wait_for "default StorageClass standard" k wait --for=create storageclass/standard --timeout=30s
  log "cluster ready in $((SECONDS - start)) s"
}

summary() {
  log "cluster $CLUSTER is up ($(cat "$MODE_FILE" 2>/dev/null || echo '?') mode)"
  log "  export KUBECONFIG=${KUBECONFIG_FILE#"$REPO_ROOT"/}"
  log "  gateway:        http://127.0.0.1:$GATEWAY_PORT -> NodePort 30080"
  log "  control plane:  http://127.0.0.1:$CONTROL_PLANE_PORT -> NodePort 30081"
  log "  load an image:  .tools/bin/kind load docker-image --name $CLUSTER IMAGE"
}

create() {
  local start=$SECONDS
  use_engine
  mkdir -p "$DATA_DIR"
  bash "$HERE/tools.sh" kind
  if cluster_exists; then
    if [[ $(node_state) == exited || $(node_state) == created ]]; then
      log "cluster $CLUSTER exists but its node is stopped: starting it"
      "$DOCKER" start "$NODE" >/dev/null
      local i
      for ((i = 0; i < 60; i++)); do healthy && break; sleep 2; done
    fi
    if healthy; then
      log "cluster $CLUSTER exists and is healthy: reusing it"
      wait_ready
      summary
      return 0
    fi
    log "cluster $CLUSTER exists but is not healthy: deleting it, then creating it anew"
    "$KIND" delete cluster --name "$CLUSTER" --kubeconfig "$KUBECONFIG_FILE" >/dev/null 2>&1 || true
  fi
  local mode image
  mode=$(decide_mode)
  echo "$mode" >"$MODE_FILE"
  if [[ $mode == offline ]]; then
    log "offline mode: our node image (bridge CNI, kube-network-policies)"
    bash "$HERE/node-image.sh" build
    image=$(bash "$HERE/node-image.sh" name)
  else
    log "online mode: $ONLINE_IMAGE (kindnetd)"
    image=$ONLINE_IMAGE
  fi
  host_kubectl "$mode"
  check_ports_free
  remove_leftovers
  bash "$HERE/host-state.sh" snapshot "$SNAPSHOT"
  [[ -e /lib/modules ]] || touch "$LIB_MODULES_MARK"
  ensure_network
  render_config "$mode"
  log "kind create cluster --name $CLUSTER --image $image (kubeconfig ${KUBECONFIG_FILE#"$REPO_ROOT"/})"
  local kind_start=$SECONDS
  "$KIND" create cluster --name "$CLUSTER" --config "$CONFIG_FILE" --image "$image" \
    --kubeconfig "$KUBECONFIG_FILE" --wait 0s ||
    die "kind create cluster failed (nothing kept: run cluster.sh delete to undo the network and check the host)"
  log "kind create cluster took $((SECONDS - kind_start)) s"
  wait_ready
  log "create took $((SECONDS - start)) s in all"
  summary
}

# Writes back the sysctls kubelet sets, where they differ from the snapshot (public image).
restore_sysctls() {
  [[ -f $SNAPSHOT ]] || return 0
  local s before now
  for s in $KUBELET_SYSCTLS; do
    before=$(awk -v k="$s" '$1 == k && $2 == "=" {print $3; exit}' "$SNAPSHOT")
    now=$(sysctl -n "$s" 2>/dev/null || true)
    if [[ -n $before && $before != "$now" ]]; then
      log "restoring host sysctl $s = $before (was set to $now while the cluster ran)"
      sysctl -q -w "$s=$before"
    fi
  done
}

delete() {
  local start=$SECONDS
  use_engine
  if [[ -x $KIND ]] && cluster_exists; then
    log "kind delete cluster --name $CLUSTER"
    "$KIND" delete cluster --name "$CLUSTER" --kubeconfig "$KUBECONFIG_FILE" >/dev/null 2>&1 ||
      die "kind delete cluster failed"
  fi
  local left
  left=$("$DOCKER" ps -aq --filter "label=io.x-k8s.kind.cluster=$CLUSTER")
  [[ -z $left ]] || die "node containers of $CLUSTER are still there: $left"
  if "$DOCKER" network inspect "$NETWORK" >/dev/null 2>&1; then
    local users
    users=$("$DOCKER" network inspect -f '{{range .Containers}}{{.Name}} {{end}}' "$NETWORK")
    if [[ -n $users ]]; then
      log "WARNING: keeping Docker network $NETWORK: other containers use it ($users)"
    else
      "$DOCKER" network rm "$NETWORK" >/dev/null
      log "removed Docker network $NETWORK"
    fi
  fi
  if [[ -f $LIB_MODULES_MARK ]]; then
    if rmdir /lib/modules 2>/dev/null; then
      log "removed /lib/modules (Docker created it, empty, for kind's mount)"
    elif [[ -e /lib/modules ]]; then
      log "WARNING: /lib/modules is not empty any more: left in place"
    fi
    rm -f "$LIB_MODULES_MARK"
  fi
  restore_sysctls
  rm -f "$KUBECONFIG_FILE" "$CONFIG_FILE" "$MODE_FILE"
  log "delete took $((SECONDS - start)) s"
  if [[ -f $SNAPSHOT ]]; then
    bash "$HERE/host-state.sh" diff "$SNAPSHOT" || {
      log "the snapshot is kept for a look: ${SNAPSHOT#"$REPO_ROOT"/}"
      return 1
    }
    rm -f "$SNAPSHOT"
  fi
}

status() {
  eval "$(bash "$REPO_ROOT/infra/docker/engine.sh" env)"
  if [[ ! -x $KIND ]] || ! cluster_exists; then
    echo "cluster $CLUSTER: absent"
    return 1
  fi
  echo "cluster $CLUSTER: node container $(node_state), $(cat "$MODE_FILE" 2>/dev/null || echo '?') mode"
  if healthy; then
    k get nodes -o wide
    echo "kubeconfig: $KUBECONFIG_FILE"
    echo "gateway: http://127.0.0.1:$GATEWAY_PORT  control plane: http://127.0.0.1:$CONTROL_PLANE_PORT"
  else
    echo "not healthy (API or node not Ready)"
    return 1
  fi
}

kubeconfig() {
  eval "$(bash "$REPO_ROOT/infra/docker/engine.sh" env)"
  cluster_exists || die "cluster $CLUSTER does not exist (cluster.sh create)"
  "$KIND" get kubeconfig --name "$CLUSTER" >"$KUBECONFIG_FILE.tmp" && mv "$KUBECONFIG_FILE.tmp" "$KUBECONFIG_FILE"
  echo "$KUBECONFIG_FILE"
}

case "${1:-}" in
create) create ;;
delete) delete ;;
status) status ;;
kubeconfig) kubeconfig ;;
*) die "usage: cluster.sh create|delete|status|kubeconfig" ;;
esac
