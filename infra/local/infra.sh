#!/usr/bin/env bash
# Local Bulkhead infra: PostgreSQL 15, Redis and a single-node Kafka (KRaft),
# all on 127.0.0.1, data under $DATA_DIR, logs under $LOG_DIR.
#   infra.sh start    install if needed, start what is not running, wait until ready
#   infra.sh stop [postgres|redis|kafka]...   stop all three, or those named (data kept)
#   infra.sh status   registry table (pid, state, ports listening)
#   infra.sh restart  stop + start
# Ports: BULKHEAD_PG_PORT (15432), BULKHEAD_REDIS_PORT (16379),
# BULKHEAD_KAFKA_PORT (19092), BULKHEAD_KAFKA_CONTROLLER_PORT (19093), and the broker's second
# listener for clients that reach it through a fault proxy (make chaos): bound on
# BULKHEAD_KAFKA_PROXIED_PORT (19095), advertised as BULKHEAD_KAFKA_PROXY_PORT (19094).
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

PGDATA="$DATA_DIR/postgres"
PG_LOG="$LOG_DIR/postgres.log"
PG_SOCK_DIR="$RUN_DIR/pg"
# Unix socket paths are limited to ~107 bytes: fall back to /tmp for deep clones.
if ((${#PG_SOCK_DIR} > 80)); then
  PG_SOCK_DIR="/tmp/bulkhead-pg-$(printf '%s' "$DATA_DIR" | md5sum | cut -c1-10)"
fi
REDIS_DIR="$DATA_DIR/redis"
KAFKA_DIR="$DATA_DIR/kafka"
KAFKA_LOG="$LOG_DIR/kafka.log"
# Lean JVM flags from shared/notes/kafka.md (3.5 s start, ~300 MB RSS), one line in
# infra/local/kafka/jvm.options (the private brokers of @bulkhead/testkit use it too).
read -r -a KAFKA_JVM_OPTS <<<"${BULKHEAD_KAFKA_JVM_OPTS:-$(<"$BULKHEAD_LOCAL_DIR/kafka/jvm.options")}"

# postgres refuses to run as root: as root, run its commands as user postgres
# (from /, since our cwd may not be readable by it).
if ((EUID == 0)); then
  as_pg() { (cd / && runuser -u postgres -- "$@"); }
else
  as_pg() { "$@"; }
fi

# Fail early if a port we need is taken by something that is not ours.
need_free_port() {
  if port_listening "$2"; then
    die "$1: port $2 is already in use by another process (see: ss -ltnp 'sport = :$2')"
  fi
}

# --- PostgreSQL -------------------------------------------------------------

# The postmaster's pid from postmaster.pid.
pg_pid() {
  local pid
  [[ -f $PGDATA/postmaster.pid ]] || return 1
  read -r pid <"$PGDATA/postmaster.pid" || return 1
  [[ $pid =~ ^[0-9]+$ ]] || return 1
  printf '%s\n' "$pid"
}

# Not `pg_ctl status`: it takes a killed, not yet reaped postmaster (zombie)
# for a running one.
pg_running() {
  local pid comm
  pid=$(pg_pid) || return 1
  pid_alive "$pid" || return 1
  comm=$(<"/proc/$pid/comm") 2>/dev/null || return 1
  [[ $comm == postgres ]]
}

# Register the postmaster in the registry (pid from postmaster.pid).
pg_register() {
  pg_pid >"$RUN_DIR/postgres.pid"
  printf 'pg:%s\n' "$BULKHEAD_PG_PORT" >"$RUN_DIR/postgres.ports"
}

# As root the data dir lives under the repo: every parent must be
# traversable by user postgres.
pg_check_path() {
  ((EUID == 0)) || return 0
  as_pg test -x "$DATA_DIR" && return 0
  local p="" part parts
  IFS=/ read -r -a parts <<<"${DATA_DIR#/}"
  for part in "${parts[@]}"; do
    p+="/$part"
    as_pg test -x "$p" ||
      die "user postgres cannot enter $p (mode $(stat -c %a "$p")): run 'chmod o+x $p' or set BULKHEAD_DATA_DIR to a path it can reach"
  done
}

pg_initdb() {
  local tmp="$DATA_DIR/postgres.initdb"
  log "initdb ${PGDATA#"$REPO_ROOT"/} (once)"
  rm -rf "$tmp" "$PGDATA"
  mkdir -p "$tmp"
  chmod 700 "$tmp"
  ((EUID != 0)) || chown postgres:postgres "$tmp"
  # Into a temp dir, then renamed: an interrupted initdb is redone next time.
  as_pg "$PG_BIN/initdb" -D "$tmp" -A trust -U postgres -E UTF8 --locale=C.UTF-8 \
    >"$LOG_DIR/postgres-initdb.log" 2>&1 || die "initdb failed (see $LOG_DIR/postgres-initdb.log)"
  mv "$tmp" "$PGDATA"
  printf "\ninclude_if_exists 'bulkhead.conf'\n" >>"$PGDATA/postgresql.conf"
}

# Our settings, rewritten on every start (so port changes apply).
pg_write_conf() {
  cat >"$PGDATA/bulkhead.conf" <<EOF
# Written by infra/local/infra.sh on every start: edit it there.
listen_addresses = '127.0.0.1'
port = $BULKHEAD_PG_PORT
unix_socket_directories = '$PG_SOCK_DIR'
max_connections = 300
shared_buffers = 128MB
fsync = on
EOF
  ((EUID != 0)) || chown postgres:postgres "$PGDATA/bulkhead.conf"
}

start_postgres() {
  if pg_running; then
    pg_register
    log "postgres already running (pid $(pid_of postgres))"
    return 0
  fi
  local pid
  if pid=$(pg_pid); then
    # A zombie postmaster would make postgres refuse to start: give init a
    # moment to reap it, then drop the stale lock file (postgres still
    # refuses if old backends hold its shared memory).
    log "postgres is dead (pid $pid), restarting"
    wait_for 5 "" "dead postmaster $pid to be reaped" test ! -e "/proc/$pid" || true
    rm -f "$PGDATA/postmaster.pid"
  fi
  need_free_port postgres "$BULKHEAD_PG_PORT"
  [[ -f $PGDATA/PG_VERSION ]] || pg_initdb
  pg_write_conf
  mkdir -p "$PG_SOCK_DIR"
  chmod 755 "$PG_SOCK_DIR"
  touch "$PG_LOG"
  if ((EUID == 0)); then chown postgres:postgres "$PG_SOCK_DIR" "$PG_LOG"; fi
  log "starting postgres on 127.0.0.1:$BULKHEAD_PG_PORT"
  without_lock_fd as_pg "$PG_BIN/pg_ctl" -D "$PGDATA" -l "$PG_LOG" -w -t 60 -s start ||
    die "postgres did not start (see $PG_LOG)"
  pg_register
}

stop_postgres() {
  if pg_running; then
    log "stopping postgres (pid $(pg_pid))"
    as_pg "$PG_BIN/pg_ctl" -D "$PGDATA" -m fast -w -t 60 -s stop
  else
    log "postgres: not running"
  fi
  rm -f "$RUN_DIR/postgres.pid"
}

pg_ready() { "$PG_BIN/pg_isready" -q -h 127.0.0.1 -p "$BULKHEAD_PG_PORT" -U postgres -d postgres -t 2; }

# --- Redis ------------------------------------------------------------------

start_redis() {
  if is_running redis; then
    log "redis already running (pid $(pid_of redis))"
    return 0
  fi
  if [[ -s $RUN_DIR/redis.pid ]]; then log "redis is dead, restarting"; fi
  need_free_port redis "$BULKHEAD_REDIS_PORT"
  mkdir -p "$REDIS_DIR"
  log "starting redis on 127.0.0.1:$BULKHEAD_REDIS_PORT"
  # No persistence: Redis is a cache here and starts empty.
  start_bg redis "redis:$BULKHEAD_REDIS_PORT" redis-server \
    --port "$BULKHEAD_REDIS_PORT" --bind 127.0.0.1 --dir "$REDIS_DIR" \
    --save "" --appendonly no --daemonize no
}

redis_ready() { [[ $(redis-cli -h 127.0.0.1 -p "$BULKHEAD_REDIS_PORT" ping 2>/dev/null) == PONG ]]; }

# --- Kafka ------------------------------------------------------------------

# server.properties from its template (infra/local/kafka/server.properties, shared with the
# private brokers of @bulkhead/testkit); logging from infra/local/kafka/log4j2.properties.
KAFKA_LOG4J="$BULKHEAD_LOCAL_DIR/kafka/log4j2.properties"
kafka_write_config() {
  local t
  t=$(<"$BULKHEAD_LOCAL_DIR/kafka/server.properties")
  t=${t//@BROKER_PORT@/$BULKHEAD_KAFKA_PORT}
  t=${t//@CONTROLLER_PORT@/$BULKHEAD_KAFKA_CONTROLLER_PORT}
  t=${t//@PROXIED_PORT@/$BULKHEAD_KAFKA_PROXIED_PORT}
  t=${t//@PROXY_PORT@/$BULKHEAD_KAFKA_PROXY_PORT}
  t=${t//@LOG_DIRS@/$KAFKA_DIR/data}
  printf '%s\n' "$t" >"$KAFKA_DIR/server.properties"
}

# Format the storage once (single-node quorum, --standalone).
kafka_format_once() {
  [[ -f $KAFKA_DIR/data/meta.properties ]] && return 0
  local id=""
  # A random 16-byte base64url id (like kafka-storage random-uuid, without
  # the JVM start); one starting with '-' would read as an option.
  while [[ -z $id || $id == -* ]]; do
    id=$(head -c 16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=')
  done
  log "formatting Kafka storage (cluster id $id)"
  rm -rf "$KAFKA_DIR/data"
  java -Xshare:auto -XX:TieredStopAtLevel=1 -XX:+UseSerialGC \
    -Dlog4j2.configurationFile="$KAFKA_LOG4J" -cp "$KAFKA_HOME/libs/*" \
    kafka.tools.StorageTool format -t "$id" -c "$KAFKA_DIR/server.properties" --standalone \
    >"$LOG_DIR/kafka-format.log" 2>&1 || die "kafka storage format failed (see $LOG_DIR/kafka-format.log)"
  printf '%s\n' "$BULKHEAD_KAFKA_CONTROLLER_PORT" >"$KAFKA_DIR/formatted-controller-port"
}

KAFKA_STARTED=0
start_kafka() {
  if is_running kafka; then
    log "kafka already running (pid $(pid_of kafka))"
    return 0
  fi
  if [[ -s $RUN_DIR/kafka.pid ]]; then log "kafka is dead, restarting"; fi
  need_free_port kafka "$BULKHEAD_KAFKA_PORT"
  need_free_port kafka-controller "$BULKHEAD_KAFKA_CONTROLLER_PORT"
  need_free_port kafka-proxied "$BULKHEAD_KAFKA_PROXIED_PORT"
  mkdir -p "$KAFKA_DIR"
  kafka_write_config
  kafka_format_once
  if [[ $(cat "$KAFKA_DIR/formatted-controller-port" 2>/dev/null) != "$BULKHEAD_KAFKA_CONTROLLER_PORT" ]]; then
    log "warning: storage was formatted with another controller port; delete $KAFKA_DIR to re-format if the broker fails"
  fi
  log "starting kafka on 127.0.0.1:$BULKHEAD_KAFKA_PORT (controller $BULKHEAD_KAFKA_CONTROLLER_PORT)"
  start_bg kafka "broker:$BULKHEAD_KAFKA_PORT controller:$BULKHEAD_KAFKA_CONTROLLER_PORT proxied:$BULKHEAD_KAFKA_PROXIED_PORT" \
    java "${KAFKA_JVM_OPTS[@]}" -Djava.awt.headless=true \
    -Dlog4j2.configurationFile="$KAFKA_LOG4J" \
    -cp "$KAFKA_HOME/libs/*" kafka.Kafka "$KAFKA_DIR/server.properties"
  KAFKA_STARTED=1
}

kafka_ready() {
  # The log line only matters for a broker started now (the log is fresh).
  if ((KAFKA_STARTED)); then
    wait_log "$KAFKA_LOG" 'Kafka Server started' 120 kafka || die "kafka did not start (see $KAFKA_LOG)"
  fi
  wait_port 127.0.0.1 "$BULKHEAD_KAFKA_PORT" 30 kafka || die "kafka port $BULKHEAD_KAFKA_PORT not open (see $KAFKA_LOG)"
}

# --- commands ---------------------------------------------------------------

cmd_start() {
  local t0 t1
  _now_ms t0
  "$BULKHEAD_LOCAL_DIR/install.sh"
  lock_infra
  pg_running || pg_check_path
  # Kafka first: it is the slowest to boot; the others start meanwhile.
  start_kafka
  start_postgres
  start_redis
  wait_for 60 postgres "postgres to accept connections" pg_ready || die "postgres not ready (see $PG_LOG)"
  wait_for 30 redis "redis to answer PING" redis_ready || die "redis not ready (see $LOG_DIR/redis.log)"
  kafka_ready
  _now_ms t1
  log "ready in $(((t1 - t0) / 1000)).$(printf '%03d' $(((t1 - t0) % 1000))) s: postgres 127.0.0.1:$BULKHEAD_PG_PORT, redis 127.0.0.1:$BULKHEAD_REDIS_PORT, kafka 127.0.0.1:$BULKHEAD_KAFKA_PORT"
}

cmd_stop() { # cmd_stop [NAME...]: all three (Kafka first), or those named
  local name
  (($# > 0)) || set -- kafka redis postgres
  lock_infra
  for name in "$@"; do
    case $name in
      kafka) stop_proc kafka 30 ;;
      redis) stop_proc redis 10 ;;
      postgres) stop_postgres ;;
      *) die "stop: unknown component $name (postgres, redis or kafka)" ;;
    esac
  done
}

cmd_status() {
  # Keep postgres's registry entry in step with the real postmaster.
  if [[ -d $RUN_DIR ]] && pg_running; then pg_register; fi
  status_all
}

case "${1:-}" in
  start) cmd_start ;;
  stop) shift && cmd_stop "$@" ;;
  status) cmd_status ;;
  restart) cmd_stop && cmd_start ;;
  *)
    echo "usage: $0 start|stop|status|restart" >&2
    exit 2
    ;;
esac
