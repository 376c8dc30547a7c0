#!/usr/bin/env bash
# Proves the kind cluster (infra/kind/cluster.sh create) does what the platform needs, on the
# real cluster, in a namespace of its own that it deletes again:
#   1. the node is Ready;
#   2. an image built here and loaded with `kind load docker-image` runs as a Deployment;
#   3. a StatefulSet's PVC binds on the default StorageClass, the pod writes to it, and the
#      data is still there after the pod is replaced;
#   4. a NodePort Service answers on the host through the port kind maps (127.0.0.1);
#   5. cluster DNS resolves a Service name from a pod, and the Service answers by that name.
# Every wait is on a condition with a timeout; exits non-zero on the first failure.
#
#   BULKHEAD_KIND_GATEWAY_PORT / BULKHEAD_KIND_CONTROL_PLANE_PORT   as for cluster.sh
set -euo pipefail
HERE="$(cd -P "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd -P "$HERE/../.." && pwd)"
CLUSTER=bulkhead
NS=bulkhead-smoke
IMAGE=bulkhead-local/kind-smoke:1
BUSYBOX_IMAGE=bulkhead-local/kind-busybox:1.35 # built by node-image.sh from the debootstrap base
KUBECONFIG="$REPO_ROOT/.data/kind/kubeconfig"
export KUBECONFIG
KUBECTL="$REPO_ROOT/.tools/bin/kubectl"
KIND="$REPO_ROOT/.tools/bin/kind"
GATEWAY_PORT=${BULKHEAD_KIND_GATEWAY_PORT:-8080}
CONTROL_PLANE_PORT=${BULKHEAD_KIND_CONTROL_PLANE_PORT:-8081}
DOCKER=docker
[[ -x /usr/bin/docker ]] && DOCKER=/usr/bin/docker

log() { printf '[bulkhead] smoke: %s\n' "$*" >&2; }
die() {
  log "FAILED: $*"
  exit 1
}
pass() { log "ok ($((SECONDS - T0)) s): $*"; }
T0=$SECONDS

k() { "$KUBECTL" "$@"; }

cleanup() {
  k delete namespace "$NS" --ignore-not-found --wait=true --timeout=120s >/dev/null 2>&1 || true
}

# The host side of a mapped NodePort: pick the first of the two whose NodePort is free, so the
# check never takes the gateway's port from a deployed platform.
pick_node_port() {
  local used
  used=$(k get svc -A -o jsonpath='{range .items[*]}{range .spec.ports[*]}{.nodePort}{"\n"}{end}{end}')
  if ! grep -qx 30080 <<<"$used"; then
    echo "30080 $GATEWAY_PORT"
  elif ! grep -qx 30081 <<<"$used"; then
    echo "30081 $CONTROL_PLANE_PORT"
  else
    die "NodePorts 30080 and 30081 are both in use; nothing left to test the host mapping with"
  fi
}

build_and_load() {
  "$DOCKER" image inspect "$BUSYBOX_IMAGE" >/dev/null 2>&1 ||
    die "$BUSYBOX_IMAGE is missing (infra/kind/node-image.sh builds it)"
  local ctx
  ctx=$(mktemp -d)
  printf 'bulkhead kind smoke\n' >"$ctx/index.html"
  cat >"$ctx/Dockerfile" <<EOF
FROM $BUSYBOX_IMAGE
COPY index.html /www/index.html
CMD ["httpd", "-f", "-p", "8080", "-h", "/www"]
EOF
  DOCKER_BUILDKIT=1 "$DOCKER" build -q -t "$IMAGE" "$ctx" >/dev/null
  rm -rf "$ctx"
  "$KIND" load docker-image --name "$CLUSTER" "$IMAGE" >/dev/null 2>&1 ||
    die "kind load docker-image $IMAGE"
  pass "built $IMAGE and loaded it with kind load docker-image"
}

manifests() {
  local node_port=$1
  cat <<EOF
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: $NS}
spec:
  replicas: 1
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      terminationGracePeriodSeconds: 1
      containers:
      - name: web
        image: $IMAGE
        imagePullPolicy: Never
        ports: [{containerPort: 8080}]
        readinessProbe: {httpGet: {path: /, port: 8080}, periodSeconds: 1}
---
apiVersion: v1
kind: Service
metadata: {name: web, namespace: $NS}
spec:
  type: NodePort
  selector: {app: web}
  ports: [{port: 80, targetPort: 8080, nodePort: $node_port}]
---
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: store, namespace: $NS}
spec:
  serviceName: store
  replicas: 1
  selector: {matchLabels: {app: store}}
  template:
    metadata: {labels: {app: store}}
    spec:
      terminationGracePeriodSeconds: 1
      containers:
      - name: store
        image: $IMAGE
        imagePullPolicy: Never
        command: ["sh", "-c", "[ -f /data/first ] || date +%s%N > /data/first; exec sleep 3600"]
        volumeMounts: [{name: data, mountPath: /data}]
  volumeClaimTemplates:
  - metadata: {name: data}
    spec:
      accessModes: [ReadWriteOnce]
      resources: {requests: {storage: 16Mi}}
EOF
}

# http_get POD IP: the smoke page, fetched from inside POD (busybox nc, 2 s timeout).
http_get() {
  k -n "$NS" exec "$1" -- sh -c "printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 2 $2 8080" 2>/dev/null | grep -q "bulkhead kind smoke"
}
reachable() { http_get "$1" "$2"; }
blocked() { ! http_get "$1" "$2"; }

# eventually SECONDS CHECK ARGS...: CHECK holds within SECONDS (policies take a moment to apply).
eventually() {
  local deadline=$((SECONDS + $1))
  shift
  until "$@"; do
    ((SECONDS < deadline)) || return 1
    sleep 0.5
  done
}

policy() {
  k apply -f - >/dev/null <<EOF
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: $1, namespace: $NS}
spec:
$2
EOF
}

check_network_policy() {
  if ! k -n kube-system get ds kube-network-policies >/dev/null 2>&1 &&
    ! k -n kube-system get ds kindnet >/dev/null 2>&1; then
    log "skipped: this cluster has no NetworkPolicy enforcer (no kube-network-policies, no kindnet)"
    return 0
  fi
  local role
  for role in client other; do
    k -n "$NS" run "np-$role" --image "$IMAGE" --image-pull-policy Never --labels "role=$role" \
      --overrides '{"spec": {"terminationGracePeriodSeconds": 1}}' --command -- sleep 3600 >/dev/null
  done
  k -n "$NS" wait --for=condition=Ready pod/np-client pod/np-other --timeout=60s >/dev/null || die "policy test pods not Ready"
  local ip
  ip=$(k -n "$NS" get pod -l app=web -o jsonpath='{.items[0].status.podIP}')
  { reachable np-client "$ip" && reachable np-other "$ip"; } || die "web ($ip) not reachable from pods before any policy"
  policy default-deny '  podSelector: {}
  policyTypes: [Ingress]'
  { eventually 30 blocked np-client "$ip" && eventually 10 blocked np-other "$ip"; } ||
    die "default-deny NetworkPolicy did not block pod-to-pod traffic"
  policy web-from-client '  podSelector: {matchLabels: {app: web}}
  ingress: [{from: [{podSelector: {matchLabels: {role: client}}}], ports: [{port: 8080}]}]'
  eventually 30 reachable np-client "$ip" || die "the allow NetworkPolicy did not let role=client through"
  blocked np-other "$ip" || die "the allow NetworkPolicy let role=other through too"
  pass "NetworkPolicy enforced: default-deny blocked pod-to-pod traffic, the allow let only role=client through"
}

main() {
  [[ -x $KUBECTL && -f $KUBECONFIG ]] || die "no cluster: run infra/kind/cluster.sh create"
  eval "$(bash "$REPO_ROOT/infra/docker/engine.sh" env)"
  local start=$SECONDS
  trap cleanup EXIT

  k wait --for=condition=Ready node --all --timeout=60s >/dev/null || die "node not Ready"
  pass "node Ready ($(k get nodes -o jsonpath='{.items[0].status.nodeInfo.kubeletVersion}'))"

  build_and_load
  local node_port host_port
  read -r node_port host_port < <(pick_node_port)
  cleanup
  k create namespace "$NS" >/dev/null
  manifests "$node_port" | k apply -f - >/dev/null

  k -n "$NS" rollout status deploy/web --timeout=120s >/dev/null || die "Deployment web did not become ready"
  pass "Deployment of the loaded image is running"

  k -n "$NS" wait --for=jsonpath='{.status.phase}'=Bound pvc/data-store-0 --timeout=120s >/dev/null ||
    die "PVC data-store-0 did not bind ($(k -n "$NS" describe pvc data-store-0 | tail -n 5))"
  k -n "$NS" wait --for=condition=Ready pod/store-0 --timeout=120s >/dev/null || die "store-0 not Ready"
  local first again
  first=$(k -n "$NS" exec store-0 -- cat /data/first)
  [[ -n $first ]] || die "store-0 wrote nothing to its volume"
  local uid
  uid=$(k -n "$NS" get pod store-0 -o jsonpath='{.metadata.uid}')
  k -n "$NS" delete pod store-0 --wait=true --timeout=60s >/dev/null
  k -n "$NS" wait --for=condition=Ready pod/store-0 --timeout=120s >/dev/null || die "store-0 did not come back"
  [[ $(k -n "$NS" get pod store-0 -o jsonpath='{.metadata.uid}') != "$uid" ]] || die "store-0 was not replaced"
  again=$(k -n "$NS" exec store-0 -- cat /data/first)
  [[ $again == "$first" ]] || die "the volume lost its data across the pod's replacement"
  pass "StatefulSet PVC bound ($(k get sc -o jsonpath='{range .items[?(@.metadata.annotations.storageclass\.kubernetes\.io/is-default-class=="true")]}{.metadata.name}{end}'), $(k -n "$NS" get pvc data-store-0 -o jsonpath='{.spec.volumeName}')), written, kept across pod replacement"

  local body
  body=$(curl -fsS --max-time 5 --retry 20 --retry-delay 1 --retry-all-errors "http://127.0.0.1:$host_port/") ||
    die "NodePort $node_port not reachable from the host on 127.0.0.1:$host_port"
  [[ $body == "bulkhead kind smoke" ]] || die "unexpected answer on 127.0.0.1:$host_port: $body"
  pass "NodePort $node_port answers on the host at 127.0.0.1:$host_port"

  local pod
  pod=$(k -n "$NS" get pod -l app=web -o jsonpath='{.items[0].metadata.name}')
  k -n "$NS" exec "$pod" -- nslookup "web.$NS.svc.cluster.local" >/dev/null ||
    die "cluster DNS did not resolve web.$NS.svc.cluster.local from a pod"
  # busybox nc, not wget: Debian's static busybox wget crashes (SIGSEGV) in this image.
  body=$(k -n "$NS" exec store-0 -- sh -c "printf 'GET / HTTP/1.0\r\nHost: web\r\n\r\n' | nc -w 5 web.$NS.svc.cluster.local 80") ||
    die "http://web.$NS.svc.cluster.local/ did not answer from another pod"
  [[ $body == *"bulkhead kind smoke"* ]] || die "unexpected answer by service name: $body"
  pass "cluster DNS resolves web.$NS.svc.cluster.local from a pod, and the Service answers by name"

  check_network_policy

  log "all checks passed in $((SECONDS - start)) s"
}

main "$@"
