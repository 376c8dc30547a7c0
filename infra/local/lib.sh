# shellcheck shell=bash
# Shared helpers for the local Bulkhead scripts (infra and Node services).
# Source it: `. infra/local/lib.sh`. It sets no shell options; the scripts
# that source it use `set -euo pipefail`, and every helper works under it.
#
# Process registry: each background process NAME started here has
#   $RUN_DIR/NAME.pid    its pid (removed when stopped)
#   $RUN_DIR/NAME.ports  space-separated "label:port" list, e.g. "http:8080 grpc:7081"
# and its output in $LOG_DIR/NAME.log (the previous run's in NAME.prev.log).

if [[ -n ${BULKHEAD_LIB_LOADED:-} ]]; then return 0; fi
BULKHEAD_LIB_LOADED=1

BULKHEAD_LOCAL_DIR="$(cd -P "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd -P "$BULKHEAD_LOCAL_DIR/../.." && pwd)"
DATA_DIR="${BULKHEAD_DATA_DIR:-$REPO_ROOT/.data}"
[[ $DATA_DIR == /* ]] || DATA_DIR="$PWD/$DATA_DIR"
RUN_DIR="$DATA_DIR/run"
LOG_DIR="$DATA_DIR/logs"
TOOLS_DIR="$REPO_ROOT/.tools"

# Pinned tool locations shared by install.sh and infra.sh.
# shellcheck disable=SC2034  # used by the scripts that source this file
KAFKA_VERSION=4.1.2
# shellcheck disable=SC2034
KAFKA_HOME="$TOOLS_DIR/kafka-$KAFKA_VERSION"
# shellcheck disable=SC2034
PG_BIN="${BULKHEAD_PG_BIN:-/usr/lib/postgresql/15/bin}"

# Ports and connection URLs (BULKHEAD_*_PORT, BULKHEAD_*_URL).
# shellcheck source-path=SCRIPTDIR source=env.sh
. "$BULKHEAD_LOCAL_DIR/env.sh"

# --- output -----------------------------------------------------------------

log() { printf '[bulkhead] %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

# --- time -------------------------------------------------------------------

# Milliseconds since the epoch, into the variable named $1 (no subshell).
_now_ms() {
  local t=${EPOCHREALTIME//[.,]/}
  printf -v "$1" '%s' "$((t / 1000))"
}

# --- registry ---------------------------------------------------------------

ensure_dirs() {
  mkdir -p "$RUN_DIR" "$LOG_DIR"
  # Other users (postgres) must be able to traverse these.
  chmod go+x "$DATA_DIR" "$RUN_DIR" "$LOG_DIR" 2>/dev/null || true
}

# Print the registered pid of NAME; fails if there is none.
pid_of() {
  local f="$RUN_DIR/$1.pid" pid
  [[ -s $f ]] || return 1
  read -r pid <"$f" || true
  [[ $pid =~ ^[0-9]+$ ]] || return 1
  printf '%s\n' "$pid"
}

# True if PID exists and is not a zombie (works for other users' processes).
pid_alive() {
  local stat
  [[ -r /proc/$1/stat ]] || return 1
  stat=$(<"/proc/$1/stat") 2>/dev/null || return 1
  stat=${stat##*) }
  [[ ${stat%% *} != Z ]]
}

# is_running NAME: pid file exists and that process is alive.
is_running() {
  local pid
  pid=$(pid_of "$1") || return 1
  pid_alive "$pid"
}

# Send signal $1 to $2's process group if it leads one (start_bg makes it so),
# else to the pid alone.
_signal() {
  local sig=$1 pid=$2 pgid
  pgid=$(ps -o pgid= -p "$pid" 2>/dev/null | tr -d ' ') || true
  if [[ $pgid == "$pid" ]]; then
    kill -s "$sig" -- "-$pid" 2>/dev/null || true
  else
    kill -s "$sig" "$pid" 2>/dev/null || true
  fi
}

# start_bg NAME PORTS CMD...: run CMD detached (own session, SIGHUP ignored),
# output to $LOG_DIR/NAME.log; records pid and ports. No-op if running.
start_bg() {
  local name=$1 ports=$2
  shift 2
  (($# > 0)) || { log "start_bg $name: no command"; return 2; }
  if is_running "$name"; then
    log "$name already running (pid $(pid_of "$name"))"
    return 0
  fi
  command -v "$1" >/dev/null || { log "start_bg $name: command not found: $1"; return 127; }
  ensure_dirs
  local pidf="$RUN_DIR/$name.pid" logf="$LOG_DIR/$name.log" i
  rm -f "$pidf"
  if [[ -f $logf ]]; then mv -f "$logf" "$LOG_DIR/$name.prev.log"; fi
  printf '%s\n' "$ports" >"$RUN_DIR/$name.ports"
  # The inner bash writes its own pid, then execs CMD: the pid is right
  # whether or not setsid had to fork. The infra lock fd is not inherited.
  (
    if [[ -n ${BULKHEAD_LOCK_FD:-} ]]; then exec {BULKHEAD_LOCK_FD}>&-; fi
    # shellcheck disable=SC2016  # $$ and $1 expand in the inner bash
    exec setsid nohup bash -c 'echo "$$" >"$1.tmp" && mv -f "$1.tmp" "$1" && shift && exec "$@"' \
      bulkhead-start "$pidf" "$@"
  ) </dev/null >>"$logf" 2>&1 &
  for ((i = 0; i < 200; i++)); do
    [[ -s $pidf ]] && break
    sleep 0.025
  done
  [[ -s $pidf ]] || { log "$name: did not start (see $logf)"; return 1; }
  log "started $name (pid $(<"$pidf"), log ${logf#"$REPO_ROOT"/})"
}

# stop_proc NAME [TIMEOUT_S]: SIGTERM, wait, SIGKILL after TIMEOUT_S (default 20).
stop_proc() {
  local name=$1 timeout=${2:-20} pid now end
  if ! pid=$(pid_of "$name"); then
    log "$name: not running"
    return 0
  fi
  if ! pid_alive "$pid"; then
    log "$name: not running (removing stale pid $pid)"
    rm -f "$RUN_DIR/$name.pid"
    return 0
  fi
  log "stopping $name (pid $pid)"
  _signal TERM "$pid"
  _now_ms now
  end=$((now + timeout * 1000))
  while pid_alive "$pid"; do
    _now_ms now
    if ((now >= end)); then
      log "$name: still alive after ${timeout}s, sending SIGKILL"
      _signal KILL "$pid"
      sleep 0.2
      break
    fi
    sleep 0.1
  done
  rm -f "$RUN_DIR/$name.pid"
}

# --- waiting ----------------------------------------------------------------

# wait_for TIMEOUT_S NAME WHAT CMD...: poll CMD every 0.1 s until it succeeds.
# Fails after TIMEOUT_S, or at once if NAME (may be "") is registered and dead.
wait_for() {
  local timeout=$1 name=$2 what=$3 now end
  shift 3
  _now_ms now
  end=$((now + timeout * 1000))
  until "$@" >/dev/null 2>&1; do
    if [[ -n $name ]] && pid_of "$name" >/dev/null && ! is_running "$name"; then
      log "$name died while waiting for $what (see $LOG_DIR/$name.log)"
      return 1
    fi
    _now_ms now
    if ((now >= end)); then
      log "timed out after ${timeout}s waiting for $what"
      return 1
    fi
    sleep 0.1
  done
}

# True if something accepts TCP connections on HOST PORT.
port_open() {
  # shellcheck disable=SC2016  # $0/$1 expand in the inner bash
  timeout 2 bash -c 'exec 3<>"/dev/tcp/$0/$1"' "$1" "$2" 2>/dev/null
}

# True if a local socket listens on PORT (any address).
port_listening() {
  if command -v ss >/dev/null; then
    [[ -n $(ss -ltnH "sport = :$1" 2>/dev/null) ]]
  else
    port_open 127.0.0.1 "$1"
  fi
}

_http_ok() {
  [[ $(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "$1") == 200 ]]
}

_log_has() { [[ -f $1 ]] && grep -qE -- "$2" "$1"; }

# bounded SECONDS CMD...: CMD waited for in the background (so that a signal to the script ends
# the wait at once, and stop_bounded stops CMD), killed after SECONDS. --foreground: CMD stays in
# the script's process group, where a group signal (Ctrl-C) reaches it too.
BOUNDED_PID=""
bounded() {
  local limit=$1 status=0
  shift
  timeout --foreground "$limit" "$@" &
  BOUNDED_PID=$!
  wait "$BOUNDED_PID" || status=$?
  BOUNDED_PID=""
  return "$status"
}
# stop_bounded: stops the bounded command in flight, if any (for a script's exit trap).
stop_bounded() {
  if [[ -n $BOUNDED_PID ]]; then
    kill "$BOUNDED_PID" 2>/dev/null || true
    wait "$BOUNDED_PID" 2>/dev/null || true
    BOUNDED_PID=""
  fi
}

# wait_port HOST PORT TIMEOUT_S [NAME]: until something listens on HOST:PORT.
wait_port() { wait_for "$3" "${4:-}" "$1:$2" port_open "$1" "$2"; }
# wait_http URL TIMEOUT_S [NAME]: until the URL answers 200.
wait_http() { wait_for "$2" "${3:-}" "$1" _http_ok "$1"; }
# wait_log FILE PATTERN TIMEOUT_S [NAME]: until FILE has a line matching PATTERN (ERE).
wait_log() { wait_for "$3" "${4:-}" "'$2' in $1" _log_has "$1" "$2"; }

# --- status -----------------------------------------------------------------

# status_all: one line per registered process: name, pid, state, ports
# (each marked listening or closed). State: running, dead (pid file but no
# process) or stopped (no pid file).
status_all() {
  local f name names=() pid state ports p out
  for f in "$RUN_DIR"/*.pid "$RUN_DIR"/*.ports; do
    [[ -e $f ]] || continue
    name=${f##*/}
    name=${name%.*}
    [[ " ${names[*]} " == *" $name "* ]] || names+=("$name")
  done
  if ((${#names[@]} == 0)); then
    log "no processes registered in $RUN_DIR"
    return 0
  fi
  printf '%-18s %-8s %-8s %s\n' NAME PID STATE PORTS
  for name in $(printf '%s\n' "${names[@]}" | sort); do
    pid=$(pid_of "$name") || pid=-
    if [[ $pid == - ]]; then
      state=stopped
    elif pid_alive "$pid"; then
      state=running
    else
      state=dead
    fi
    ports=""
    [[ -f $RUN_DIR/$name.ports ]] && read -r ports <"$RUN_DIR/$name.ports"
    out=""
    for p in $ports; do
      if port_listening "${p##*:}"; then out+="$p(listening) "; else out+="$p(closed) "; fi
    done
    printf '%-18s %-8s %-8s %s\n' "$name" "$pid" "$state" "${out% }"
  done
}

# --- locking ----------------------------------------------------------------

# lock_infra [TIMEOUT_S]: serialise infra.sh runs. The fd stays open in this
# shell; start_bg and without_lock_fd keep it out of long-lived children.
lock_infra() {
  [[ -z ${BULKHEAD_LOCK_FD:-} ]] || return 0 # already held by this shell
  ensure_dirs
  exec {BULKHEAD_LOCK_FD}>"$RUN_DIR/infra.lock"
  flock -w "${1:-300}" "$BULKHEAD_LOCK_FD" || die "another infra.sh is still running (lock $RUN_DIR/infra.lock)"
}

# Run CMD with the lock fd closed (for commands that leave daemons behind).
without_lock_fd() {
  if [[ -n ${BULKHEAD_LOCK_FD:-} ]]; then "$@" {BULKHEAD_LOCK_FD}>&-; else "$@"; fi
}
