#!/usr/bin/env bash
# Builds Bulkhead's container images.
#
#   infra/images/build.sh [--offline|--online] [NAME...]
#
# NAMEs: the services control-plane orders inventory payments gateway config-agent (the root
# Dockerfile's targets), and base postgres redis kafka jaeger otelcol prometheus (offline
# images, see below). Default NAMEs: the six services; with --offline also base and the seven
# infrastructure images.
#
#   --online   the services FROM the public node:24.21.0-bookworm-slim
#   --offline  the services FROM bulkhead-local/node:24.21.0-bookworm-slim (infra/images/base.sh,
#              no container registry needed), plus the infrastructure images built from Debian
#              packages, the Kafka jars of the local stack and the observability backends' static
#              binaries of .tools/ (infra/kind/tools.sh jaeger otelcol prometheus)
#   (neither)  online when the public base image is present or can be pulled, else offline
#
# Tags: services bulkhead/<name>:<version>, version = the root package.json "version", or `dev`
# while it has none (it has none today: nothing is released), or $BULKHEAD_IMAGE_TAG; labels
# org.opencontainers.image.revision = git short sha (+ -dirty), .created = the commit's time for
# a clean tree (so a rebuild of the same commit is the same image), else now.
# Infrastructure: bulkhead-local/postgres:15, bulkhead-local/redis:7, bulkhead-local/kafka:4.1.2,
# bulkhead-local/jaeger:2.13.0, bulkhead-local/otelcol:0.161.0, bulkhead-local/prometheus:v3.16.0
# (the tags of infra/images/lib.sh's INFRA_IMAGE).
# Ends with a table of image sizes and build times. Logs: ~/.cache/bulkhead/images/logs/.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

SERVICES=(control-plane orders inventory payments gateway config-agent)
LOG_DIR="$IMAGES_CACHE/logs"
RESULTS=() # "image seconds" per built image, for the table

usage() {
  sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//' >&2
  exit 2
}

is_service() { [[ " ${SERVICES[*]} " == *" $1 "* ]]; }
is_infra() { [[ " ${INFRA[*]} " == *" $1 "* ]]; }

# Online if the public base is here or can be pulled in 60 s; this machine reaches no registry.
public_base_available() {
  image_exists "$PUBLIC_BASE_IMAGE" && return 0
  timeout 60 "$(docker_cli)" pull -q "$PUBLIC_BASE_IMAGE" >/dev/null 2>&1
}

image_version() {
  if [[ -n ${BULKHEAD_IMAGE_TAG:-} ]]; then
    printf '%s\n' "$BULKHEAD_IMAGE_TAG"
    return 0
  fi
  local v
  v=$(sed -n 's/^  "version": *"\([^"]*\)".*/\1/p' "$REPO_ROOT/package.json" | head -n 1)
  printf '%s\n' "${v:-dev}"
}

# Sets REVISION, CREATED, SOURCE, LICENSES for the OCI labels.
git_facts() {
  REVISION=unknown CREATED=$(date -u +%Y-%m-%dT%H:%M:%SZ) SOURCE="" LICENSES=NOASSERTION
  if git -C "$REPO_ROOT" rev-parse --git-dir >/dev/null 2>&1; then
    REVISION=$(git -C "$REPO_ROOT" rev-parse --short HEAD)
    if [[ -z $(git -C "$REPO_ROOT" status --porcelain --untracked-files=no 2>/dev/null) ]]; then
      CREATED=$(TZ=UTC git -C "$REPO_ROOT" log -1 --format=%cd --date=format-local:%Y-%m-%dT%H:%M:%SZ)
    else
      REVISION+=-dirty
    fi
    SOURCE=$(git -C "$REPO_ROOT" remote get-url origin 2>/dev/null || true)
  fi
  local license
  license=$(sed -n 's/^  "license": *"\([^"]*\)".*/\1/p' "$REPO_ROOT/package.json" | head -n 1)
  [[ -z $license ]] || LICENSES=$license
}

# A TLS-intercepting proxy's CA bundle for the build's npm/pnpm, as a BuildKit secret.
ca_secret_args() {
  local f
  for f in "${NODE_EXTRA_CA_CERTS:-}" "${SSL_CERT_FILE:-}"; do
    if [[ -n $f && -s $f ]]; then
      printf '%s\n' --secret "id=build-ca,src=$f"
      return 0
    fi
  done
}

# run_build NAME IMAGE DOCKER-BUILD-ARGS...: one docker build, its output in the log, timed;
# writes "IMAGE SECONDS" to $LOG_DIR/NAME.result (so that it also works in a background job).
run_build() {
  local name=$1 image=$2 t0 t1 logf="$LOG_DIR/$1.log"
  shift 2
  log "building $image"
  rm -f "$LOG_DIR/$name.result"
  now_ms t0
  if ! dk build --network host --progress plain -t "$image" "$@" >"$logf" 2>&1; then
    tail -n 40 "$logf" >&2
    log "ERROR: $image failed (log: $logf)"
    return 1
  fi
  now_ms t1
  printf '%s %s\n' "$image" "$(elapsed "$t0" "$t1")" >"$LOG_DIR/$name.result"
}
collect() { RESULTS+=("$(<"$LOG_DIR/$1.result")"); }

build_service() {
  local name=$1 base=$2 tag
  tag="bulkhead/$name:$(image_version)"
  local secret=()
  mapfile -t secret < <(ca_secret_args)
  run_build "$name" "$tag" -f "$REPO_ROOT/Dockerfile" --target "$name" "${secret[@]}" \
    --build-arg "BASE_IMAGE=$base" \
    --build-arg "VERSION=$(image_version)" --build-arg "REVISION=$REVISION" \
    --build-arg "CREATED=$CREATED" --build-arg "SOURCE=$SOURCE" --build-arg "LICENSES=$LICENSES" \
    "$REPO_ROOT"
}

build_base() {
  local t0 t1
  now_ms t0
  bash "$IMAGES_DIR/base.sh"
  now_ms t1
  RESULTS+=("$DEBIAN_IMAGE -" "$NODE_BASE_IMAGE $(elapsed "$t0" "$t1")")
}

# The Kafka context in the directory $1: the jars the local stack uses (installed by
# infra/local/install.sh from infra/local/kafka/pom.xml), hard-linked, plus this image's scripts
# and configs.
kafka_context() {
  local libs="$REPO_ROOT/.tools/kafka-$KAFKA_VERSION/libs" ctx=$1
  if [[ ! -f $REPO_ROOT/.tools/kafka-$KAFKA_VERSION/.complete ]]; then
    log "Kafka $KAFKA_VERSION jars missing: running infra/local/install.sh"
    bash "$REPO_ROOT/infra/local/install.sh"
  fi
  compgen -G "$libs/kafka_2.13-$KAFKA_VERSION.jar" >/dev/null || die "no Kafka $KAFKA_VERSION jars in $libs"
  cp -rl "$libs" "$ctx/libs" 2>/dev/null || cp -r "$libs" "$ctx/libs"
  cp -r "$IMAGES_DIR/kafka/bin" "$IMAGES_DIR/kafka/config" "$IMAGES_DIR/kafka/Dockerfile" "$ctx/"
}

# static_context DIR NAME TOOL BINARY UID USER VERSION-CHECK: the context of an image of one static
# Go binary (jaeger, otelcol, prometheus) in DIR: rootfs/ with .tools/bin/BINARY (installed by
# infra/kind/tools.sh TOOL, a no-op when it is there) hard-linked as /usr/local/bin/BINARY,
# /etc/passwd and /etc/group naming UID as USER, an empty /tmp (1777); data/ (empty, for a
# volume's mount point); and infra/images/backends/ (the Dockerfile, a target per image). VERSION-CHECK is what `BINARY --version` must
# print, so that the tag names the version inside ("" when the binary does not know its version).
static_context() {
  local ctx=$1 name=$2 tool=$3 binary=$4 uid=$5 user=$6 want=$7 bin root="$1/rootfs"
  bash "$REPO_ROOT/infra/kind/tools.sh" "$tool"
  bin=$(readlink -f "$REPO_ROOT/.tools/bin/$binary")
  [[ -x $bin ]] || die "no $binary in .tools/bin (infra/kind/tools.sh $tool)"
  if [[ -n $want ]] && ! "$bin" --version 2>&1 | grep -qF "$want"; then
    die "$bin --version does not say '$want': the tag ${INFRA_IMAGE[$name]} would lie"
  fi
  mkdir -p "$root/usr/local/bin" "$root/etc" "$root/tmp" "$ctx/data"
  chmod 1777 "$root/tmp"
  ln "$bin" "$root/usr/local/bin/$binary" 2>/dev/null || cp "$bin" "$root/usr/local/bin/$binary"
  printf 'root:x:0:0:root:/root:/usr/sbin/nologin\n%s:x:%s:%s:%s:/nonexistent:/usr/sbin/nologin\n' \
    "$user" "$uid" "$uid" "$user" >"$root/etc/passwd"
  printf 'root:x:0:\n%s:x:%s:\n' "$user" "$uid" >"$root/etc/group"
  chmod 644 "$root/etc/passwd" "$root/etc/group"
  cp -r "$IMAGES_DIR/backends/." "$ctx/"
}

build_infra() {
  local name=$1 ctx target=()
  image_exists "$DEBIAN_IMAGE" || bash "$IMAGES_DIR/base.sh"
  case $name in
    kafka | jaeger | otelcol | prometheus)
      mkdir -p "$IMAGES_CACHE"
      ctx=$(mktemp -d "$IMAGES_CACHE/$name-ctx.XXXXXX")
      at_exit rm -rf "$ctx"
      ;;
    *) ctx="$IMAGES_DIR/$name" ;;
  esac
  # The uids are the public images' (and the chart's runAsUser).
  case $name in
    kafka) kafka_context "$ctx" ;;
    jaeger) static_context "$ctx" jaeger jaeger jaeger 10001 jaeger "" ;;
    otelcol) static_context "$ctx" otelcol otelcol otelcol-bulkhead 10001 otelcol "version ${INFRA_IMAGE[otelcol]##*:}" ;;
    prometheus) static_context "$ctx" prometheus prometheus prometheus 65534 nobody "version ${INFRA_IMAGE[prometheus]##*:v}" ;;
  esac
  case $name in
    jaeger | otelcol | prometheus) target=(--target "$name" --build-arg "VERSION=${INFRA_IMAGE[$name]##*:}") ;;
  esac
  run_build "$name" "${INFRA_IMAGE[$name]}" -f "$ctx/Dockerfile" "${target[@]}" \
    --build-arg "DEBIAN_IMAGE=$DEBIAN_IMAGE" \
    --label "org.opencontainers.image.revision=$REVISION" --label "org.opencontainers.image.created=$CREATED" \
    --label "$HASH_LABEL=" "$ctx" || die "$name failed"
  collect "$name"
}

# The services in parallel: BuildKit solves their shared stages (install, codegen, tsc -b) once
# and runs the six `pnpm deploy` steps side by side (42 s instead of 66 s after a source change
# on 2 cores). Their build times overlap, so the table shows each one's wall time.
build_services() {
  local base=$1 name failed=0
  shift
  declare -A pids=()
  for name; do
    build_service "$name" "$base" &
    pids[$name]=$!
  done
  for name; do
    if wait "${pids[$name]}"; then collect "$name"; else failed=1; fi
  done
  ((failed == 0)) || die "some service images failed (logs in $LOG_DIR)"
}

print_table() {
  local row image secs size
  printf '\n%-46s %10s %10s\n' IMAGE SIZE BUILD_S
  for row in "${RESULTS[@]}"; do
    read -r image secs <<<"$row"
    size=$(dk image inspect -f '{{.Size}}' "$image" 2>/dev/null || echo 0)
    printf '%-46s %8d MB %10s\n' "$image" $((size / 1000000)) "$secs"
  done
}

main() {
  local mode=auto names=() name
  while (($# > 0)); do
    case $1 in
      --offline) mode=offline ;;
      --online) mode=online ;;
      -h | --help) usage ;;
      -*) usage ;;
      *)
        is_service "$1" || is_infra "$1" || [[ $1 == base ]] || die "unknown image '$1' (see --help)"
        names+=("$1")
        ;;
    esac
    shift
  done
  mkdir -p "$LOG_DIR"
  engine_up
  if [[ $mode == auto ]]; then
    if public_base_available; then mode=online; else mode=offline; fi
    log "mode: $mode (public base $PUBLIC_BASE_IMAGE $([[ $mode == online ]] && echo available || echo 'cannot be pulled'))"
  fi
  if ((${#names[@]} == 0)); then
    names=("${SERVICES[@]}")
    [[ $mode == offline ]] && names=(base "${INFRA[@]}" "${names[@]}")
  fi
  local base=$PUBLIC_BASE_IMAGE
  if [[ $mode == offline ]]; then
    base=$NODE_BASE_IMAGE
    # The services need the offline base even when `base` is not named.
    [[ " ${names[*]} " == *" base "* ]] || bash "$IMAGES_DIR/base.sh"
  fi
  git_facts
  local t0 t1 services=()
  now_ms t0
  for name in "${names[@]}"; do
    if [[ $name == base ]]; then
      build_base
    elif is_infra "$name"; then
      build_infra "$name"
    else
      services+=("$name")
    fi
  done
  ((${#services[@]} == 0)) || build_services "$base" "${services[@]}"
  now_ms t1
  print_table
  printf '%s images in %s s (%s mode)\n' "${#RESULTS[@]}" "$(elapsed "$t0" "$t1")" "$mode"
}

main "$@"
