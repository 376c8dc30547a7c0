# shellcheck shell=bash
# Shared by infra/kind/up.sh, down.sh and test.sh. Source it; it sets no shell options.
KIND_DIR="$(cd -P "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd -P "$KIND_DIR/../.." && pwd)"
TOOLS_BIN="$REPO_ROOT/.tools/bin"
KIND_DATA="${BULKHEAD_DATA_DIR:-$REPO_ROOT/.data}/kind"
KUBECONFIG_FILE="$KIND_DATA/kubeconfig"
CLUSTER=bulkhead
RELEASE=bulkhead
NAMESPACE=bulkhead
GATEWAY_PORT=${BULKHEAD_KIND_GATEWAY_PORT:-8080}
CONTROL_PLANE_PORT=${BULKHEAD_KIND_CONTROL_PLANE_PORT:-8081}
export BULKHEAD_KIND_GATEWAY_PORT=$GATEWAY_PORT BULKHEAD_KIND_CONTROL_PLANE_PORT=$CONTROL_PLANE_PORT
# Where make kind-test port-forwards Jaeger's query API and Prometheus (127.0.0.1; not the local
# stack's 16686 and 9090, so that a local Jaeger or Prometheus left running is never the one tested).
# shellcheck disable=SC2034 # used by test.sh
JAEGER_PORT=${BULKHEAD_KIND_JAEGER_PORT:-28686}
# shellcheck disable=SC2034 # used by test.sh
PROMETHEUS_PORT=${BULKHEAD_KIND_PROMETHEUS_PORT:-28090}
SERVICE_IMAGES=(control-plane orders inventory payments gateway config-agent)
# The offline infrastructure images (infra/images/lib.sh's INFRA_IMAGE, as infra/kind/values-offline.yaml names them).
OFFLINE_INFRA_IMAGES=(bulkhead-local/postgres:15 bulkhead-local/redis:7 bulkhead-local/kafka:4.1.2
  bulkhead-local/jaeger:2.13.0 bulkhead-local/otelcol:0.161.0 bulkhead-local/prometheus:v3.16.0)
IMAGE_TAG=${BULKHEAD_IMAGE_TAG:-dev}

log() { printf '[bulkhead] %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

# step_time NAME CMD...: runs CMD, then logs how long it took.
step_time() {
  local name=$1 start=$SECONDS
  shift
  log "== $name"
  "$@" || die "$name failed"
  log "   $name: $((SECONDS - start)) s"
}

kubectl() { "$TOOLS_BIN/kubectl" --kubeconfig "$KUBECONFIG_FILE" "$@"; }

ensure_kubectl() {
  [[ -x $TOOLS_BIN/kubectl ]] || bash "$KIND_DIR/node-image.sh" kubectl
}

# Remembers whether the engine ran before kind-up, so kind-down stops only what kind-up started,
# and records the host before the engine starts (cluster.sh records it again before the cluster).
engine_start() {
  if [[ $(bash "$REPO_ROOT/infra/docker/engine.sh" status) == none ]]; then
    mkdir -p "$KIND_DATA"
    bash "$KIND_DIR/host-state.sh" snapshot "$KIND_DATA/host-before-engine.txt"
    touch "$KIND_DATA/engine-started-by-kind-up"
  fi
  bash "$REPO_ROOT/infra/docker/engine.sh" start
}

# dev-<12 hex of the service images' IDs>, after tagging each bulkhead/<name>:dev with it.
content_tag() {
  local name ids="" tag
  for name in "${SERVICE_IMAGES[@]}"; do
    ids+=$(docker image inspect -f '{{.Id}}' "bulkhead/$name:${BULKHEAD_IMAGE_TAG:-dev}")
  done
  tag="dev-$(sha256sum <<<"$ids" | cut -c1-12)"
  for name in "${SERVICE_IMAGES[@]}"; do docker tag "bulkhead/$name:${BULKHEAD_IMAGE_TAG:-dev}" "bulkhead/$name:$tag"; done
  echo "$tag"
}

# kind load, for the images the node does not hold yet: the IDs loaded are recorded in the node
# (kind's own check needs crictl, which the offline node image lacks, so it reloads every time).
load_images() {
  local mode=$1 images=() name missing=() held id
  for name in "${SERVICE_IMAGES[@]}"; do images+=("bulkhead/$name:$IMAGE_TAG"); done
  [[ $mode == offline ]] && images+=("${OFFLINE_INFRA_IMAGES[@]}")
  held=$(docker exec "$CLUSTER-control-plane" cat /var/lib/bulkhead-loaded-images 2>/dev/null || true)
  for name in "${images[@]}"; do
    id=$(docker image inspect -f '{{.Id}}' "$name") || die "image $name is not built"
    grep -qxF "$name $id" <<<"$held" || missing+=("$name")
  done
  if ((${#missing[@]} == 0)); then
    log "   every image is already in the node"
    return 0
  fi
  log "   loading ${missing[*]}"
  "$TOOLS_BIN/kind" load docker-image --name "$CLUSTER" "${missing[@]}" >"$KIND_DATA/kind-load.log" 2>&1 ||
    { tail -n 20 "$KIND_DATA/kind-load.log" >&2; return 1; }
  for name in "${images[@]}"; do
    printf '%s %s\n' "$name" "$(docker image inspect -f '{{.Id}}' "$name")"
  done | docker exec -i "$CLUSTER-control-plane" sh -c 'cat > /var/lib/bulkhead-loaded-images'
}

# After a build: the host's Docker keeps only what the next build and load need. Every build of
# changed code makes new images and a new dev-<hash> tag, and BuildKit keeps every layer it made:
# left alone they filled this machine's disk in a day of kind-test runs (57 GB). Drops the service
# images' older dev-<hash> tags and the untagged images, and trims BuildKit's cache to
# $BULKHEAD_BUILD_CACHE_KEEP (default 8 GB; the most recently used layers stay).
prune_images() {
  local name ref
  for name in "${SERVICE_IMAGES[@]}"; do
    while read -r ref; do
      [[ $ref == "bulkhead/$name:$IMAGE_TAG" ]] || docker rmi "$ref" >/dev/null || true
    done < <(docker images --format '{{.Repository}}:{{.Tag}}' "bulkhead/$name" | grep -E ':dev-[0-9a-f]{12}$')
  done
  docker image prune --force >/dev/null || true
  docker builder prune --force --keep-storage "${BULKHEAD_BUILD_CACHE_KEEP:-8GB}" >/dev/null 2>&1 || true
  log "   docker now holds: $(docker system df --format '{{.Type}} {{.Size}}' | paste -sd ';' | sed 's/;/, /g')"
}

# wait_ready statefulsets|all TIMEOUT_S: polls until every pod of the release is Ready, printing
# a progress line whenever the count changes; on timeout prints what is not ready and why.
wait_ready() {
  local what=$1 timeout=$2 deadline=$((SECONDS + $2)) selector last="" line
  selector="app.kubernetes.io/instance=$RELEASE"
  while :; do
    local total ready
    if [[ $what == statefulsets ]]; then
      line=$(kubectl -n "$NAMESPACE" get statefulsets -l "$selector" -o jsonpath='{range .items[*]}{.metadata.name} {.status.readyReplicas}/{.spec.replicas}{"\n"}{end}')
    else
      line=$(kubectl -n "$NAMESPACE" get deployments,statefulsets -l "$selector" -o jsonpath='{range .items[*]}{.metadata.name} {.status.readyReplicas}/{.spec.replicas}{"\n"}{end}')
    fi
    total=$(grep -c . <<<"$line" || true)
    ready=$(awk '{split($2, r, "/"); if (r[1] != "" && r[1] == r[2]) n++} END {print n + 0}' <<<"$line")
    if [[ "$ready/$total" != "$last" ]]; then
      log "   ready: $ready/$total workloads"
      last="$ready/$total"
    fi
    if ((total > 0 && ready == total)); then return 0; fi
    if ((SECONDS >= deadline)); then
      log "not Ready after ${timeout} s:"
      kubectl -n "$NAMESPACE" get pods -o wide >&2 || true
      kubectl -n "$NAMESPACE" get events --sort-by=.lastTimestamp 2>/dev/null | tail -n 20 >&2 || true
      return 1
    fi
    sleep 2
  done
}

admin_token() {
  kubectl -n "$NAMESPACE" get secret "$RELEASE-secrets" -o jsonpath='{.data.admin-token}' | base64 -d
}

print_urls() {
  cat >&2 <<EOT
[bulkhead] Bulkhead on kind (cluster $CLUSTER, namespace $NAMESPACE):
  gateway            http://127.0.0.1:$GATEWAY_PORT
  control plane      http://127.0.0.1:$CONTROL_PLANE_PORT   (admin token: make kind-token)
  kubeconfig         export KUBECONFIG=$KUBECONFIG_FILE
  pods               .tools/bin/kubectl -n $NAMESPACE get pods
  Jaeger query API   .tools/bin/kubectl -n $NAMESPACE port-forward svc/$RELEASE-jaeger 16686
  Prometheus         .tools/bin/kubectl -n $NAMESPACE port-forward svc/$RELEASE-prometheus 9090
EOT
}
