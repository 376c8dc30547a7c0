#!/usr/bin/env bash
# `make kind-down`: deletes the kind cluster and undoes every host change kind-up made: the
# cluster's container, network and port mappings (cluster.sh delete), and the Docker engine if
# kind-up started it. Then compares the host with the snapshot kind-up took before the first
# cluster (infra/kind/host-state.sh) and says whether it is as it was.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

t0=$SECONDS
if [[ -x $TOOLS_BIN/kind ]] && [[ $(bash "$REPO_ROOT/infra/docker/engine.sh" status) != none ]]; then
  eval "$(bash "$REPO_ROOT/infra/docker/engine.sh" env)"
  export DOCKER_HOST
  bash "$KIND_DIR/cluster.sh" delete
fi
if [[ -f $KIND_DATA/engine-started-by-kind-up ]]; then
  bash "$REPO_ROOT/infra/docker/engine.sh" stop
  rm -f "$KIND_DATA/engine-started-by-kind-up"
fi
rm -f "$KUBECONFIG_FILE"
if [[ -s $KIND_DATA/host-state.before ]]; then
  if bash "$KIND_DIR/host-state.sh" diff "$KIND_DATA/host-state.before"; then
    log "kind-down: the host is as it was before kind-up"
    rm -f "$KIND_DATA/host-state.before"
  else
    die "kind-down: the host differs from before kind-up (above); snapshot kept: $KIND_DATA/host-state.before"
  fi
fi
log "kind-down: done in $((SECONDS - t0)) s"
