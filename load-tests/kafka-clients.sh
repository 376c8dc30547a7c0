#!/usr/bin/env bash
# bash load-tests/kafka-clients.sh OUT_DIR: kafkajs (load-tests/limits/kafkajs.mjs) against
# @platformatic/kafka (load-tests/limits/platformatic-kafka.mjs), issue 11's second client, on the
# local broker (bash infra/local/infra.sh start; the services need not run). For each BATCH:COUNT
# of KAFKA_CLIENTS_RUNS ("1:15000 10:60000 100:500000") each client produces COUNT messages shaped
# like the platform's (a KAFKA_CLIENTS_SIZE-byte value (120), the envelope's 8 headers, a uuid key)
# in sends of BATCH, then consumes them in a group, each run on a fresh topic of 3 partitions; then
# each client idles KAFKA_CLIENTS_IDLE_SECONDS (30) with a connected producer and consumer. The two
# clients take turns, the first of each round alternating, for KAFKA_CLIENTS_ROUNDS (3) rounds.
# Raw JSON per run in OUT_DIR, then the table (load-tests/limits/kafka-clients-report.mjs).
# Scratch topics and groups are named KAFKA_CLIENTS_PREFIX.* (kafka-clients_<time>_<pid>) and
# deleted after each run and on exit, failure included; every run is bounded in time.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=../infra/local/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/../infra/local/lib.sh"
out=${1:?usage: load-tests/kafka-clients.sh OUT_DIR}
mkdir -p "$out"
out=$(cd "$out" && pwd)
cd "$REPO_ROOT"
export PATH="$TOOLS_DIR/bin:$PATH"

rounds=${KAFKA_CLIENTS_ROUNDS:-3}
read -r -a runs <<<"${KAFKA_CLIENTS_RUNS:-1:15000 10:60000 100:500000}"
size=${KAFKA_CLIENTS_SIZE:-120}
idle_seconds=${KAFKA_CLIENTS_IDLE_SECONDS:-30}
prefix=${KAFKA_CLIENTS_PREFIX:-kafka-clients_$(date -u +%Y%m%d%H%M%S)_$$}
clients=(kafkajs platformatic-kafka)
positive() { [[ $2 =~ ^[1-9][0-9]*$ ]] || die "kafka-clients: $1 must be a positive integer, not '$2'"; }
positive KAFKA_CLIENTS_ROUNDS "$rounds"
positive KAFKA_CLIENTS_SIZE "$size"
positive KAFKA_CLIENTS_IDLE_SECONDS "$idle_seconds"
((${#runs[@]} > 0)) || die "kafka-clients: KAFKA_CLIENTS_RUNS is empty"
for run in "${runs[@]}"; do
  [[ $run =~ ^[1-9][0-9]*:[1-9][0-9]*$ ]] || die "kafka-clients: KAFKA_CLIENTS_RUNS holds BATCH:COUNT pairs, not '$run'"
done
[[ $prefix =~ ^[A-Za-z0-9._-]+$ ]] || die "kafka-clients: KAFKA_CLIENTS_PREFIX '$prefix' is not a topic name"
port_open 127.0.0.1 "$BULKHEAD_KAFKA_PORT" ||
  die "kafka-clients: Kafka is not answering on $BULKHEAD_KAFKA_BROKERS: start the infra first (bash infra/local/infra.sh start)"
[[ -d load-tests/node_modules/@platformatic/kafka ]] || die "kafka-clients: load-tests has no node_modules: run make build first"

admin=(node load-tests/limits/kafkajs.mjs)
scratch="" # the topic (and group) of the run in progress
# bounded SECONDS CMD... and stop_bounded: infra/local/lib.sh.
drop() {
  bounded 60 "${admin[@]}" delete "$BULKHEAD_KAFKA_BROKERS" "$1" "$1" ||
    log "kafka-clients: could not delete the scratch topic and group $1"
}
cleanup() {
  local status=$?
  trap - EXIT INT TERM
  stop_bounded
  [[ -z $scratch ]] || drop "$scratch"
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# one NAME CLIENT SUBCOMMAND ARGS...: on a fresh topic and group NAME, the result in OUT_DIR/NAME.json.
one() {
  local name=$1 client=$2 subcommand=$3
  shift 3
  scratch="$prefix.$name"
  bounded 60 "${admin[@]}" create "$BULKHEAD_KAFKA_BROKERS" 3 "$scratch"
  bounded 300 node "load-tests/limits/$client.mjs" "$subcommand" "$BULKHEAD_KAFKA_BROKERS" \
    "$scratch" "$scratch" "$@" >"$out/$name.json" 2>"$out/$name.log" ||
    die "kafka-clients: $client $subcommand $* failed (see $out/$name.log)"
  drop "$scratch"
  scratch=""
}

printf '{"prefix":"%s","rounds":%s,"runs":"%s","size":%s,"idleSeconds":%s,"cpus":%s}\n' \
  "$prefix" "$rounds" "${runs[*]}" "$size" "$idle_seconds" "$(nproc)" >"$out/params.json"
for ((round = 1; round <= rounds; round++)); do
  order=("${clients[@]}")
  ((round % 2 == 1)) || order=("${clients[1]}" "${clients[0]}")
  for run in "${runs[@]}"; do
    batch=${run%:*} count=${run#*:}
    for client in "${order[@]}"; do
      log "kafka-clients: round $round, $client, $count messages in sends of $batch"
      one "bench.$client.b$batch.r$round" "$client" bench "$count" "$size" "$batch"
    done
  done
  for client in "${order[@]}"; do
    log "kafka-clients: round $round, $client idle for ${idle_seconds}s"
    one "idle.$client.r$round" "$client" idle "$idle_seconds"
  done
done
node load-tests/limits/kafka-clients-report.mjs "$out"
