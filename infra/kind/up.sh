#!/usr/bin/env bash
# `make kind-up`: the whole platform (2 cells) on a real kind cluster, online or offline.
#   1. tools (pinned: kind, helm, kubectl) and a Docker engine (infra/docker/engine.sh)
#   2. the cluster `bulkhead` (infra/kind/cluster.sh; offline it builds the node image first)
#   3. every image (infra/images/build.sh), then `kind load` into the node
#   4. helm: the infrastructure first (platform=false) and waits for it, then the platform
#   5. waits until every pod is Ready, showing progress, and prints the URLs
# Idempotent: a second run reuses the cluster and the caches, and upgrades the release.
# Offline when BULKHEAD_KIND_OFFLINE=1, or when the public images cannot be pulled
# (BULKHEAD_KIND_OFFLINE=0 forces online).
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

t0=$SECONDS
# The engine first: later steps start it themselves if it is down, and kind-down must know
# whether kind-up is the one that started it.
engine_start
bash "$REPO_ROOT/infra/kind/tools.sh" kind helm
ensure_kubectl
eval "$(bash "$REPO_ROOT/infra/docker/engine.sh" env)"
export DOCKER_HOST

# cluster.sh decides online/offline (BULKHEAD_KIND_OFFLINE, else whether the public node image
# can be pulled), snapshots the host before a new cluster, and records the mode.
step_time "cluster" bash "$REPO_ROOT/infra/kind/cluster.sh" create
export KUBECONFIG="$KUBECONFIG_FILE"
mode=$(<"$KIND_DATA/mode")
log "kind-up: $mode mode"

if [[ $mode == offline ]]; then
  step_time "images (offline)" bash "$REPO_ROOT/infra/images/build.sh" --offline
else
  step_time "images" bash "$REPO_ROOT/infra/images/build.sh" --online
fi
# One tag per build of the service images (dev-<hash of their IDs>): a rebuilt image gets a new
# tag, so the upgrade below rolls the Deployments onto it (a fixed `dev` tag would not).
IMAGE_TAG=$(content_tag)
step_time "kind load" load_images "$mode"
step_time "docker prune" prune_images

values=(-f "$REPO_ROOT/infra/kind/values.yaml" --set "image.tag=$IMAGE_TAG")
[[ $mode == offline ]] && values+=(-f "$REPO_ROOT/infra/kind/values-offline.yaml")
helm_install() {
  "$TOOLS_BIN/helm" upgrade --install "$RELEASE" "$REPO_ROOT/charts/bulkhead" \
    --namespace "$NAMESPACE" --create-namespace "${values[@]}" "$@" >/dev/null
}
step_time "helm: infrastructure" helm_install --set platform=false
step_time "infrastructure Ready" wait_ready statefulsets 300
step_time "helm: platform" helm_install
step_time "platform Ready" wait_ready all 420

log "kind-up: done in $((SECONDS - t0)) s"
print_urls
