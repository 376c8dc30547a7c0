#!/usr/bin/env bash
# bash load-tests/limits.sh OUT_DIR: the machine's own limits, the first part of make bench (each
# platform figure is read as a ratio to one of these). Needs the local infra running (bash
# infra/local/infra.sh start: PostgreSQL, Kafka, Redis) and not the services. Each part is bounded
# in time (about 10 s; the whole about a minute), runs alone, and cleans up after itself, on
# failure too: the scratch database, the scratch topics and groups, the servers.
#   postgres  pgbench against the platform's own server and settings, in a scratch database: the
#             smallest transaction that commits (one INSERT of a short row into a logged table,
#             autocommit) at LIMITS_PG_CLIENTS clients, LIMITS_PG_SECONDS each → commits/s; and
#             synchronous_commit, fsync, wal_sync_method, commit_delay as SHOW reads them
#   http      a bare node:http hello (load-tests/limits/servers.mjs) under k6 (k6/limits.js),
#             closed loop, LIMITS_VUS VUs for LIMITS_DURATION → requests/s, p50/p99, and the
#             server's CPU per 1000 requests (/proc, load-tests/process-cpu.mjs)
#   grpc      the same for a bare @grpc/grpc-js unary echo (load-tests/limits/echo.proto)
#   kafka     the broker's own ProducerPerformance / ConsumerPerformance (LIMITS_KAFKA_RECORDS
#             records of LIMITS_KAFKA_RECORD_SIZE bytes, acks=all), then kafkajs from Node
#             (load-tests/limits/kafkajs.mjs: LIMITS_KAFKAJS_MESSAGES in sends of
#             LIMITS_KAFKAJS_BATCH, then a consumer group) → records/s each way, kafkajs's CPU
#             per 1000 messages; each on its own scratch topic of 3 partitions
# LIMITS_PARTS (default "postgres http grpc kafka") runs only those named (the others are absent
# from limits.json). Writes OUT_DIR/limits.json (keys in load-tests/README.md) and the raw outputs beside it, and
# prints a table (load-tests/limits/report.mjs).
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=../infra/local/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/../infra/local/lib.sh"
out=${1:?usage: load-tests/limits.sh OUT_DIR}
mkdir -p "$out"
out=$(cd "$out" && pwd) # relative to the caller's directory
cd "$REPO_ROOT"
export PATH="$TOOLS_DIR/bin:$PATH"
export K6_NO_USAGE_REPORT=true

read -r -a parts <<<"${LIMITS_PARTS:-postgres http grpc kafka}"
for part in "${parts[@]}"; do
  [[ $part =~ ^(postgres|http|grpc|kafka)$ ]] || die "limits: LIMITS_PARTS holds postgres, http, grpc and kafka, not '$part'"
done
((${#parts[@]} > 0)) || die "limits: LIMITS_PARTS is empty"
wants() { [[ " ${parts[*]} " == *" $1 "* ]]; }
read -r -a pg_clients <<<"${LIMITS_PG_CLIENTS:-1 8 32}"
pg_seconds=${LIMITS_PG_SECONDS:-5}
vus=${LIMITS_VUS:-64}
duration=${LIMITS_DURATION:-10s}
kafka_records=${LIMITS_KAFKA_RECORDS:-500000}
record_size=${LIMITS_KAFKA_RECORD_SIZE:-300}
kafkajs_messages=${LIMITS_KAFKAJS_MESSAGES:-200000}
kafkajs_batch=${LIMITS_KAFKAJS_BATCH:-100}
positive() { [[ $2 =~ ^[1-9][0-9]*$ ]] || die "limits: $1 must be a positive integer, not '$2'"; }
((${#pg_clients[@]} > 0)) || die "limits: LIMITS_PG_CLIENTS is empty"
for c in "${pg_clients[@]}"; do
  positive LIMITS_PG_CLIENTS "$c"
  ((c <= 200)) || die "limits: LIMITS_PG_CLIENTS above 200 (the server allows 300 connections)"
done
positive LIMITS_PG_SECONDS "$pg_seconds"
positive LIMITS_VUS "$vus"
positive LIMITS_KAFKA_RECORDS "$kafka_records"
positive LIMITS_KAFKA_RECORD_SIZE "$record_size"
positive LIMITS_KAFKAJS_MESSAGES "$kafkajs_messages"
positive LIMITS_KAFKAJS_BATCH "$kafkajs_batch"
[[ $duration =~ ^[1-9][0-9]*s$ ]] || die "limits: LIMITS_DURATION must look like 10s, not '$duration'"
seconds=${duration%s}

if wants postgres; then
  [[ -x $PG_BIN/pgbench ]] || die "limits: $PG_BIN/pgbench not found (it comes with postgresql-15: bash infra/local/install.sh)"
  "$PG_BIN/pg_isready" -q -h 127.0.0.1 -p "$BULKHEAD_PG_PORT" -U postgres -d postgres -t 2 ||
    die "limits: PostgreSQL is not answering on 127.0.0.1:$BULKHEAD_PG_PORT: start the infra first (bash infra/local/infra.sh start)"
fi
if wants kafka; then
  port_open 127.0.0.1 "$BULKHEAD_KAFKA_PORT" ||
    die "limits: Kafka is not answering on $BULKHEAD_KAFKA_BROKERS: start the infra first (bash infra/local/infra.sh start)"
fi
[[ -d $REPO_ROOT/load-tests/node_modules/kafkajs ]] || die "limits: load-tests has no node_modules: run make build first"
bash infra/kind/tools.sh k6 >/dev/null

id="limits_$(date -u +%Y%m%d%H%M%S)_$$"
db=$id
tools_topic="$id.tools"
kafkajs_topic="$id.kafkajs"
tools_group="$id.tools"
kafkajs_group="$id.kafkajs"
server_pid=""
db_created=""
topics_created=""

pg_args=(-X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$BULKHEAD_PG_PORT" -U postgres)
# bounded SECONDS CMD... and stop_bounded: infra/local/lib.sh.

kafkajs=(node load-tests/limits/kafkajs.mjs)
psql_pg() { bounded 30 psql "${pg_args[@]}" "$@"; }

stop_server() {
  [[ -n $server_pid ]] || return 0
  kill "$server_pid" 2>/dev/null || true
  wait "$server_pid" 2>/dev/null || true
  server_pid=""
}

cleanup() {
  local status=$?
  trap - EXIT INT TERM
  stop_bounded
  stop_server
  if [[ -n $topics_created ]]; then
    bounded 60 "${kafkajs[@]}" delete "$BULKHEAD_KAFKA_BROKERS" \
      "$tools_group,$kafkajs_group" "$tools_topic" "$kafkajs_topic" ||
      log "limits: could not delete the scratch topics $tools_topic, $kafkajs_topic"
  fi
  if [[ -n $db_created ]]; then
    psql_pg -d postgres -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" ||
      log "limits: could not drop the scratch database $db"
  fi
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

printf '{"parts":"%s","id":"%s","pgSeconds":%s,"vus":%s,"seconds":%s,"kafkaRecords":%s,"recordSize":%s,"kafkajsMessages":%s,"kafkajsBatch":%s,"kafkaVersion":"%s","cpus":%s}\n' \
  "${parts[*]}" "$id" "$pg_seconds" "$vus" "$seconds" "$kafka_records" "$record_size" "$kafkajs_messages" \
  "$kafkajs_batch" "$KAFKA_VERSION" "$(nproc)" >"$out/params.json"

kafka_tool() {
  local bound=$1
  shift
  bounded "$bound" java -Xms128m -Xmx512m -Dlog4j2.level=WARN -cp "$KAFKA_HOME/libs/*" "$@"
}

# --- PostgreSQL: commits per second --------------------------------------------------------------
postgres_limits() {
  log "limits: postgres, pgbench ${pg_seconds}s at ${pg_clients[*]} clients (scratch database $db)"
  db_created=1
  psql_pg -d postgres -c "CREATE DATABASE $db"
  psql_pg -d "$db" -c "CREATE TABLE limits_commit (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, note text NOT NULL)"
  : >"$out/pg-settings.tsv"
  for setting in server_version synchronous_commit fsync wal_sync_method commit_delay; do
    printf '%s\t%s\n' "$setting" "$(psql_pg -d "$db" -Atc "SHOW $setting")" >>"$out/pg-settings.tsv"
  done
  # One statement, autocommit: each script run is one transaction, one commit, one WAL flush.
  printf "INSERT INTO limits_commit (note) VALUES ('x');\n" >"$out/pgbench-commit.sql"
  # The server's WAL flushes (pg_stat_wal, cluster-wide; nothing else runs) around each run:
  # commits per flush tells whether commits were grouped.
  local wal_syncs="SELECT wal_sync FROM pg_stat_wal"
  for c in "${pg_clients[@]}"; do
    local threads=$((c < $(nproc) ? c : $(nproc)))
    psql_pg -d "$db" -Atc "$wal_syncs" >"$out/pgbench-$c.wal-sync"
    bounded $((pg_seconds + 30)) "$PG_BIN/pgbench" -n -M prepared -f "$out/pgbench-commit.sql" -c "$c" -j "$threads" \
      -T "$pg_seconds" -h 127.0.0.1 -p "$BULKHEAD_PG_PORT" -U postgres "$db" >"$out/pgbench-$c.log" 2>&1 ||
      die "limits: pgbench at $c clients failed (see $out/pgbench-$c.log)"
    psql_pg -d "$db" -Atc "$wal_syncs" >>"$out/pgbench-$c.wal-sync"
  done
  printf '%s\n' "${pg_clients[@]}" >"$out/pgbench-clients.txt"
}

# --- bare HTTP and gRPC servers under k6 ---------------------------------------------------------
# run_server NAME: start it, k6 against it closed loop, its CPU from /proc around the k6 run.
run_server() {
  local name=$1 port="" i
  mkdir -p "$out/$name-proc"
  : >"$out/$name.port"
  node load-tests/limits/servers.mjs "$name" >"$out/$name.port" 2>"$out/$name.log" &
  server_pid=$!
  printf '%s\n' "$server_pid" >"$out/$name-proc/$name.pid"
  for ((i = 0; i < 100; i++)); do
    read -r port <"$out/$name.port" || true
    [[ -z $port ]] || break
    kill -0 "$server_pid" 2>/dev/null || die "limits: the $name server exited (see $out/$name.log)"
    sleep 0.1
  done
  [[ $port =~ ^[0-9]+$ ]] || die "limits: the $name server did not listen within 10 s (see $out/$name.log)"
  log "limits: $name, k6 $vus VUs for $duration against 127.0.0.1:$port"
  node load-tests/process-cpu.mjs sample "$out/$name-proc" >"$out/$name-cpu.before.json"
  # k6's own CPU too (bash's time: user and system seconds of the child), since it shares the cores.
  local TIMEFORMAT='%U %S'
  {
    time LIMIT=$name LIMIT_ADDR=127.0.0.1:$port VUS=$vus DURATION=$duration bounded $((seconds + 60)) \
      k6 run --quiet --summary-export "$out/k6-$name.json" load-tests/k6/limits.js >"$out/k6-$name.log" 2>&1
  } 2>"$out/k6-$name.cpu" || die "limits: k6 against the $name server failed (see $out/k6-$name.log)"
  node load-tests/process-cpu.mjs sample "$out/$name-proc" >"$out/$name-cpu.after.json"
  node load-tests/process-cpu.mjs diff "$out/$name-cpu.before.json" "$out/$name-cpu.after.json" >"$out/$name-cpu.json"
  stop_server
}

# --- Kafka: the broker's own tools, then kafkajs -------------------------------------------------
kafka_limits() {
  topics_created=1 # before: a create that fails half-way leaves topics too (delete skips absent ones)
  bounded 60 "${kafkajs[@]}" create "$BULKHEAD_KAFKA_BROKERS" 3 "$tools_topic" "$kafkajs_topic"
  log "limits: kafka tools, $kafka_records records of $record_size bytes (topic $tools_topic)"
  kafka_tool 90 org.apache.kafka.tools.ProducerPerformance --topic "$tools_topic" --num-records "$kafka_records" \
    --record-size "$record_size" --throughput -1 --producer-props "bootstrap.servers=$BULKHEAD_KAFKA_BROKERS" acks=all \
    >"$out/kafka-producer-perf.log" 2>&1 || die "limits: ProducerPerformance failed (see $out/kafka-producer-perf.log)"
  kafka_tool 90 org.apache.kafka.tools.ConsumerPerformance --bootstrap-server "$BULKHEAD_KAFKA_BROKERS" \
    --topic "$tools_topic" --group "$tools_group" --messages "$kafka_records" --timeout 10000 \
    >"$out/kafka-consumer-perf.log" 2>&1 || die "limits: ConsumerPerformance failed (see $out/kafka-consumer-perf.log)"
  log "limits: kafkajs, $kafkajs_messages messages in sends of $kafkajs_batch (topic $kafkajs_topic)"
  bounded 150 "${kafkajs[@]}" bench "$BULKHEAD_KAFKA_BROKERS" "$kafkajs_topic" "$kafkajs_group" \
    "$kafkajs_messages" "$record_size" "$kafkajs_batch" >"$out/kafkajs.json" 2>"$out/kafkajs.log" ||
    die "limits: the kafkajs run failed (see $out/kafkajs.log)"
}

! wants postgres || postgres_limits
! wants http || run_server http
! wants grpc || run_server grpc
! wants kafka || kafka_limits

node load-tests/limits/report.mjs "$out"
echo "limits: $out/limits.json"
