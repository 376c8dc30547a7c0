#!/usr/bin/env bash
# The Docker engine the image builds and kind use.
#
#   engine.sh start   use the machine's engine if one answers; else start our own dockerd
#   engine.sh stop    stop our dockerd (only if this script started it)
#   engine.sh env     print `export DOCKER_HOST=...` for the engine in use
#   engine.sh status  say which engine is in use
#
# Our own engine is Debian's docker.io (installed from apt when missing), with its state
# outside the clone so a fresh clone reuses built images and layers:
#   data   $BULKHEAD_CACHE_DIR/docker   (default ~/.cache/bulkhead/docker)
#   socket /run/bulkhead/docker.sock, pid /run/bulkhead/dockerd.pid, log $data/../dockerd.log
# It leaves host networking alone (--bridge=none, no iptables rules, and the host's
# net.ipv4.ip_forward as it was: dockerd sets it to 1 otherwise, and it stays so after dockerd
# stops — kind-down's host check found that on a fresh machine); builds use
# `--network host`. Where the host's capability bounding set lacks capabilities that
# `--privileged` asks for (this VM has no CAP_SYS_RESOURCE), a runc wrapper
# (infra/docker/runc-capfilter) drops them and is registered as the default runtime; kind
# cannot choose a runtime, so it must be the default.
set -euo pipefail
HERE="$(cd -P "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
CACHE_DIR="${BULKHEAD_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/bulkhead}"
RUN_ROOT=/run/bulkhead
SOCK="$RUN_ROOT/docker.sock"
PIDFILE="$RUN_ROOT/dockerd.pid"
DATA_ROOT="$CACHE_DIR/docker"
LOG="$CACHE_DIR/dockerd.log"

log() { printf '[bulkhead] %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

# The machine's own engine, if any answers (DOCKER_HOST or the default socket).
external_engine() {
  [[ ${DOCKER_HOST:-} == "unix://$SOCK" ]] && return 1
  command -v docker >/dev/null || return 1
  timeout 5 docker info >/dev/null 2>&1
}

ours_running() {
  [[ -s $PIDFILE ]] && kill -0 "$(<"$PIDFILE")" 2>/dev/null
}

# 0 if every capability in 0x3fffffffff-ish "full" set is in our bounding set.
caps_complete() {
  local bnd
  bnd=$(awk '/^CapBnd:/ {print $2}' /proc/self/status)
  # CAP_SYS_RESOURCE is bit 24; check every bit up to CAP_CHECKPOINT_RESTORE (40).
  (((0x$bnd & 0x1ffffffffff) == 0x1ffffffffff))
}

install_engine() {
  command -v dockerd >/dev/null && return 0
  [[ -x /usr/sbin/dockerd ]] && return 0
  bash "$HERE/../apt-install.sh" docker.io
}

start() {
  if external_engine; then
    log "docker: using the machine's engine ($(docker info -f '{{.ServerVersion}}' 2>/dev/null))"
    return 0
  fi
  if ours_running && DOCKER_HOST="unix://$SOCK" timeout 5 docker info >/dev/null 2>&1; then
    return 0
  fi
  ((EUID == 0)) || die "no Docker engine answers, and starting one needs root"
  install_engine
  mkdir -p "$RUN_ROOT" "$DATA_ROOT"
  local runtime=()
  if ! caps_complete; then
    runtime=(--add-runtime "capfilter=$HERE/runc-capfilter" --default-runtime capfilter)
  fi
  log "docker: starting dockerd (data in $DATA_ROOT)"
  setsid /usr/sbin/dockerd \
    --data-root "$DATA_ROOT" --exec-root "$RUN_ROOT/exec" \
    -H "unix://$SOCK" --pidfile "$PIDFILE" \
    --bridge=none --iptables=false --ip6tables=false --ip-masq=false --ip-forward=false \
    "${runtime[@]}" >>"$LOG" 2>&1 </dev/null &
  local i
  for ((i = 0; i < 150; i++)); do
    if DOCKER_HOST="unix://$SOCK" docker info >/dev/null 2>&1; then
      return 0
    fi
    sleep 0.2
  done
  tail -n 20 "$LOG" >&2
  die "dockerd did not answer within 30 s (log: $LOG)"
}

stop() {
  ours_running || return 0
  local pid i
  pid=$(<"$PIDFILE")
  log "docker: stopping dockerd (pid $pid)"
  kill -TERM "$pid"
  for ((i = 0; i < 300; i++)); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  if kill -0 "$pid" 2>/dev/null; then
    kill -KILL "$pid"
  fi
  # dockerd's managed containerd exits with it; make sure nothing of ours lingers.
  pkill -f "containerd --config $RUN_ROOT/exec/" 2>/dev/null || true
  rm -f "$PIDFILE"
}

print_env() {
  if external_engine; then
    echo "# the machine's Docker engine"
  else
    echo "export DOCKER_HOST=unix://$SOCK"
  fi
}

case "${1:-}" in
start) start ;;
stop) stop ;;
env) print_env ;;
status)
  if external_engine; then echo "machine engine"; elif ours_running; then echo "ours (pid $(<"$PIDFILE"))"; else echo "none"; fi
  ;;
*) die "usage: engine.sh start|stop|env|status" ;;
esac
