# shellcheck shell=bash disable=SC2034  # its variables are used by the scripts that source it
# Shared helpers for infra/images/*.sh (source it; the scripts set `set -euo pipefail`).
#   engine_up / engine_down   use the Docker engine from infra/docker/engine.sh; stop it at the
#                             end only if this script started it (another helper may be using it)
#   dk ARGS...                the Docker client with BuildKit (Debian's 20.10 /usr/bin/docker:
#                             the machine's 28.x client has no buildx)
#   image_label IMAGE KEY     a label of a local image, empty when the image is missing

if [[ -n ${BULKHEAD_IMAGES_LIB_LOADED:-} ]]; then return 0; fi
BULKHEAD_IMAGES_LIB_LOADED=1

IMAGES_DIR="$(cd -P "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd -P "$IMAGES_DIR/../.." && pwd)"
ENGINE="$REPO_ROOT/infra/docker/engine.sh"
# Build inputs that are not in git (rootfs tarballs, downloaded npm packages) live outside the
# clone, next to the engine's state, so a fresh clone on the same machine reuses them.
IMAGES_CACHE="${BULKHEAD_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/bulkhead}/images"
# Label holding the hash of everything an offline base image was built from.
HASH_LABEL=dev.bulkhead.input-hash

# Pinned versions shared by base.sh and build.sh.
NODE_VERSION="$(tr -d ' \t\r\n' <"$REPO_ROOT/.node-version")"
NODE_VERSION=${NODE_VERSION#v}
# The npm that Node 24.21.0 bundles (its CHANGELOG: "upgrade npm to 11.19.0" in 24.20.0, none since).
NPM_VERSION=11.19.0
DEBIAN_SUITE=bookworm
DEBIAN_IMAGE="bulkhead-local/debian:$DEBIAN_SUITE-minbase"
NODE_BASE_IMAGE="bulkhead-local/node:$NODE_VERSION-$DEBIAN_SUITE-slim"
PUBLIC_BASE_IMAGE="node:$NODE_VERSION-$DEBIAN_SUITE-slim"
# The offline infrastructure images (build.sh builds them, smoke.sh runs them; infra/kind loads
# them and infra/kind/values-offline.yaml names them), in build order. The observability
# backends' tags are the public images' of charts/bulkhead/values.yaml, and the versions of the
# binaries infra/kind/tools.sh builds (build.sh checks what they say).
INFRA=(postgres redis kafka jaeger otelcol prometheus)
KAFKA_VERSION=4.1.2
declare -A INFRA_IMAGE=(
  [postgres]=bulkhead-local/postgres:15
  [redis]=bulkhead-local/redis:7
  [kafka]=bulkhead-local/kafka:$KAFKA_VERSION
  [jaeger]=bulkhead-local/jaeger:2.13.0
  [otelcol]=bulkhead-local/otelcol:0.161.0
  [prometheus]=bulkhead-local/prometheus:v3.16.0
)

log() { printf '[images] %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

# Milliseconds since the epoch into the variable named $1.
now_ms() {
  local t=${EPOCHREALTIME//[.,]/}
  printf -v "$1" '%s' "$((t / 1000))"
}
# Seconds with one decimal between two now_ms values.
elapsed() { printf '%d.%d' $((($2 - $1) / 1000)) $(((($2 - $1) % 1000) / 100)); }

# The client is chosen at each call, not when this file is sourced: on a fresh machine apt installs
# /usr/bin/docker (engine_up) after that, and the other client (28.x) cannot build with BuildKit.
docker_cli() { if [[ -x /usr/bin/docker ]]; then echo /usr/bin/docker; else echo docker; fi; }
dk() { DOCKER_BUILDKIT=1 "$(docker_cli)" "$@"; }

# at_exit CMD...: run CMD (quoted as given) when the script exits, last registered first.
AT_EXIT=()
at_exit() {
  local q
  printf -v q '%q ' "$@"
  AT_EXIT+=("$q")
}
_run_at_exit() {
  local i
  for ((i = ${#AT_EXIT[@]} - 1; i >= 0; i--)); do
    eval "${AT_EXIT[i]}" || true
  done
}
trap _run_at_exit EXIT

ENGINE_STARTED_HERE=0
engine_up() {
  local before
  before=$(bash "$ENGINE" status)
  bash "$ENGINE" start
  # `status` says "none" only when no engine answered: then the one now running is ours to stop.
  if [[ $before == none ]]; then
    ENGINE_STARTED_HERE=1
    at_exit engine_down
  fi
  eval "$(bash "$ENGINE" env)"
  dk info >/dev/null 2>&1 || die "the Docker engine does not answer"
}
engine_down() {
  if ((ENGINE_STARTED_HERE)); then
    bash "$ENGINE" stop
    ENGINE_STARTED_HERE=0
  fi
}

image_label() {
  dk image inspect -f "{{ index .Config.Labels \"$2\" }}" "$1" 2>/dev/null || true
}
image_exists() { dk image inspect "$1" >/dev/null 2>&1; }
