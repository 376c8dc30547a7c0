#!/usr/bin/env bash
# `make kind-down`: deletes the kind cluster and undoes every host change kind-up made: the
# cluster's container, network, port mappings, /lib/modules and sysctls (cluster.sh delete, which
# then diffs the host against the snapshot taken before the cluster was created and fails if it
# differs), and the Docker engine if kind-up started it.
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
  if [[ -s $KIND_DATA/host-before-engine.txt ]]; then
    bash "$KIND_DIR/host-state.sh" diff "$KIND_DATA/host-before-engine.txt" ||
      die "kind-down: the host differs from before kind-up started the Docker engine (above)"
    rm -f "$KIND_DATA/host-before-engine.txt"
    log "kind-down: the host is as it was before kind-up (engine stopped)"
  fi
fi
log "kind-down: done in $((SECONDS - t0)) s"
