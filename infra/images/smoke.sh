#!/usr/bin/env bash
# Starts every image the way a hardened pod would and checks that it answers its probe.
#
#   infra/images/smoke.sh [NAME...]     NAMEs as in build.sh, without `base`; default: all twelve
#
# Each container runs with `--network host --read-only --tmpfs /tmp --cap-drop ALL
# --security-opt no-new-privileges` as the image's non-root uid (services 1000:1000).
#   services   against the local infrastructure (PostgreSQL 127.0.0.1:15432, Kafka :19092,
#              Redis :16379; `infra/local/infra.sh start` if none of them runs, stopped again at
#              the end; if they already run they are left alone), on 27xxx/29xxx ports that
#              neither a local stack nor the kind cluster (28080/28081) uses, with a throwaway
#              cell id `smoke-<random>`, throwaway databases smoke_<random>_* and that cell's
#              topics and consumer groups, all removed at the end. Probes: HTTP /healthz and
#              /readyz, grpc.health.v1 Check.
#   infra      bulkhead-local/postgres:15 (pg_isready, a query with the password, a wrong password
#              refused), bulkhead-local/redis:7 (redis-cli ping), bulkhead-local/kafka:4.1.2 (the
#              chart's format + start commands, then a topic create and list), on 25432, 26379,
#              29092/29093, their data on tmpfs. The observability backends as the chart runs
#              them (its args, uids and config files, charts/bulkhead/files/observability/):
#              bulkhead-local/jaeger (GET /api/services on 26686), bulkhead-local/otelcol (its
#              OTLP gRPC port 24317 accepts), bulkhead-local/prometheus (/-/healthy, /-/ready on
#              29090, the chart's rule files loaded); with all three, a span sent to the
#              collector reaches Jaeger and becomes span metrics in Prometheus.
# One PASS/FAIL line per check, then exactly one line `N passed, N failed`; exits non-zero on any
# failure. Every container it started is removed on exit, failure or not.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

SERVICES=(control-plane orders inventory payments gateway config-agent)
TAG=${BULKHEAD_IMAGE_TAG:-$(sed -n 's/^  "version": *"\([^"]*\)".*/\1/p' "$REPO_ROOT/package.json" | head -n 1)}
TAG=${TAG:-dev}
declare -A IMAGE=()
for s in "${INFRA[@]}"; do IMAGE[$s]=${INFRA_IMAGE[$s]}; done
for s in "${SERVICES[@]}"; do IMAGE[$s]="bulkhead/$s:$TAG"; done

# Ports: none is used by a local stack (8080-8081, 7081-7xxx, 9085-9xxx, 15432, ...) or by
# the kind cluster of infra/kind (127.0.0.1:28080-28081).
declare -A PORT=(
  [cp_http]=29081 [cp_grpc]=27081 [cp_ops]=29082 [gateway]=29080 [gateway_ops]=29089 [agent_ops]=29085
  [orders_grpc]=27111 [orders_ops]=29111 [inventory_grpc]=27112 [inventory_ops]=29112
  [payments_grpc]=27113 [payments_ops]=29113
  [pg]=25432 [redis]=26379 [kafka]=29092 [kafka_ctl]=29093
  [otelcol_grpc]=24317 [otelcol_http]=24318 [jaeger_otlp_grpc]=24319 [jaeger_otlp_http]=24320
  [jaeger_query]=26686 [jaeger_query_grpc]=26685 [prometheus]=29090
)
LOCAL_PG=127.0.0.1:15432 LOCAL_KAFKA=127.0.0.1:19092 LOCAL_REDIS=127.0.0.1:16379
NODE="$REPO_ROOT/.tools/bin/node"
KAFKA_LIBS="$REPO_ROOT/.tools/kafka-4.1.2/libs"
# Lean JVM flags (shared/notes/kafka.md): a 3.5 s start instead of 6-11 s.
LEAN_JVM="-XX:+UseSerialGC -XX:TieredStopAtLevel=1 -XX:ReservedCodeCacheSize=48m -XX:MaxMetaspaceSize=128m -XX:MaxDirectMemorySize=128m -Djava.awt.headless=true"
HARDENED=(--network host --read-only --tmpfs /tmp --cap-drop ALL --security-opt no-new-privileges)

RUN_ID=$(head -c 3 /dev/urandom | od -An -tx1 | tr -d ' \n')
CELL="smoke-$RUN_ID"
DB_PREFIX="smoke_${RUN_ID}"
PASSED=0 FAILED=0
CONTAINERS=()
WORK=""

pass() { PASSED=$((PASSED + 1)); printf 'PASS %s\n' "$*"; }
fail() { FAILED=$((FAILED + 1)); printf 'FAIL %s\n' "$*"; }

# check NAME TIMEOUT_S CMD...: PASS once CMD succeeds (polled every 0.25 s), FAIL after TIMEOUT_S.
# On failure the last output of CMD and of the container named by $CHECK_CONTAINER are shown.
check() {
  local name=$1 timeout=$2 now end out=""
  shift 2
  now_ms now
  end=$((now + timeout * 1000))
  while true; do
    if out=$("$@" 2>&1); then
      pass "$name"
      return 0
    fi
    now_ms now
    ((now < end)) || break
    sleep 0.25
  done
  fail "$name (after ${timeout}s: ${out:0:300})"
  if [[ -n ${CHECK_CONTAINER:-} ]]; then
    dk logs --tail 15 "$CHECK_CONTAINER" 2>&1 | sed 's/^/    | /' || true
  fi
  return 1
}

http_ok() { [[ $(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "$1") == 200 ]]; }
grpc_ok() { "$NODE" "$IMAGES_DIR/grpc-health.mjs" "$1"; }
port_free() { [[ -z $(ss -ltnH "sport = :$1" 2>/dev/null) ]]; }
local_infra_up() { pg_isready -q -h 127.0.0.1 -p 15432 -t 2 && [[ $(redis-cli -p 16379 ping 2>/dev/null) == PONG ]] && port_open_local 19092; }
# shellcheck disable=SC2016  # $0 expands in the inner bash
port_open_local() { timeout 2 bash -c 'exec 3<>"/dev/tcp/127.0.0.1/$0"' "$1" 2>/dev/null; }

# start NAME DOCKER-RUN-ARGS...: a detached container, removed on exit.
start() {
  local name="bulkhead-smoke-$RUN_ID-$1"
  shift
  CONTAINERS+=("$name")
  dk run -d --name "$name" "$@" >/dev/null
}

# --- set-up and tear-down -----------------------------------------------------

INFRA_STARTED=0
ensure_local_infra() {
  if local_infra_up; then
    log "local infrastructure already runs: using it, leaving it running"
    return 0
  fi
  if pg_isready -q -h 127.0.0.1 -p 15432 -t 1 || port_open_local 19092 || port_open_local 16379; then
    log "part of the local infrastructure runs: starting the rest, stopping none of it at the end"
  else
    INFRA_STARTED=1
  fi
  bash "$REPO_ROOT/infra/local/infra.sh" start
}

kafka_tool() {
  java -Xshare:auto -XX:TieredStopAtLevel=1 -XX:+UseSerialGC -Xmx128m -Dlog4j2.level=WARN \
    -cp "$KAFKA_LIBS/*" "$@"
}

# The smoke cell's topics, groups and databases on the local infrastructure.
cleanup_cell() {
  local groups group db
  groups=$(kafka_tool org.apache.kafka.tools.consumer.group.ConsumerGroupCommand \
    --bootstrap-server "$LOCAL_KAFKA" --list 2>/dev/null | grep -E "^$CELL\." || true)
  for group in $groups; do
    kafka_tool org.apache.kafka.tools.consumer.group.ConsumerGroupCommand \
      --bootstrap-server "$LOCAL_KAFKA" --delete --group "$group" >/dev/null 2>&1 || true
  done
  if kafka_tool org.apache.kafka.tools.TopicCommand --bootstrap-server "$LOCAL_KAFKA" --list 2>/dev/null |
    grep -qE "^$CELL\."; then
    kafka_tool org.apache.kafka.tools.TopicCommand --bootstrap-server "$LOCAL_KAFKA" \
      --delete --topic "$CELL\\..*" >/dev/null 2>&1 || true
  fi
  for db in $(psql -h 127.0.0.1 -p 15432 -U postgres -d postgres -Atc \
    "SELECT datname FROM pg_database WHERE datname LIKE '${DB_PREFIX}\_%'" 2>/dev/null); do
    psql -h 127.0.0.1 -p 15432 -U postgres -d postgres -qc "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1 || true
  done
}

TORN_DOWN=0
teardown() {
  ((TORN_DOWN)) && return 0
  TORN_DOWN=1
  local c
  # SIGTERM first: services drain and leave their consumer groups, postgres shuts down cleanly.
  for c in "${CONTAINERS[@]}"; do dk stop -t 10 "$c" >/dev/null 2>&1 & done
  wait
  for c in "${CONTAINERS[@]}"; do dk rm -f -v "$c" >/dev/null 2>&1 || true; done
  if ((SERVICES_RAN)); then cleanup_cell; fi
  if ((INFRA_STARTED)); then bash "$REPO_ROOT/infra/local/infra.sh" stop >&2; fi
  [[ -z $WORK ]] || rm -rf "$WORK"
}

# --- infrastructure images ----------------------------------------------------

smoke_postgres() {
  local c="bulkhead-smoke-$RUN_ID-postgres" pw
  pw="smoke-$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')"
  # --auth-host=scram-sha-256 also for 127.0.0.1 (the public image trusts it): the password
  # check below then really checks the password set by initdb.
  start postgres "${HARDENED[@]}" --user 999:999 \
    --tmpfs /var/run/postgresql:uid=999,gid=999,mode=3775 \
    --tmpfs /var/lib/postgresql/data:uid=999,gid=999,mode=0700 \
    -e POSTGRES_PASSWORD="$pw" -e POSTGRES_DB=smoke -e POSTGRES_INITDB_ARGS=--auth-host=scram-sha-256 \
    "${IMAGE[postgres]}" postgres -c "port=${PORT[pg]}" -c max_connections=42
  CHECK_CONTAINER=$c check "postgres: pg_isready on :${PORT[pg]}" 60 \
    dk exec "$c" pg_isready -h 127.0.0.1 -p "${PORT[pg]}" -U postgres -d smoke || return 0
  CHECK_CONTAINER=$c check "postgres: a query with the password (database smoke, -c max_connections=42 passed through)" 10 \
    pg_query_ok "$pw" || true
  check "postgres: a wrong password is refused" 5 pg_wrong_refused || true
}
pg_query_ok() {
  [[ $(PGPASSWORD=$1 psql -h 127.0.0.1 -p "${PORT[pg]}" -U postgres -d smoke -Atc 'SHOW max_connections') == 42 ]]
}
pg_wrong_refused() {
  local out
  out=$(PGPASSWORD=wrong psql -h 127.0.0.1 -p "${PORT[pg]}" -U postgres -d smoke -Atc 'SELECT 1' 2>&1) && return 1
  [[ $out == *"password authentication failed"* ]]
}

smoke_redis() {
  local c="bulkhead-smoke-$RUN_ID-redis"
  start redis "${HARDENED[@]}" --user 999:999 --tmpfs /data:uid=999,gid=999 \
    "${IMAGE[redis]}" --port "${PORT[redis]}" --bind 127.0.0.1 --save ''
  CHECK_CONTAINER=$c check "redis: redis-cli ping on :${PORT[redis]}" 30 redis_ping "$c" "${PORT[redis]}" || true
}
redis_ping() { [[ $(dk exec "$1" redis-cli -p "$2" ping 2>&1) == PONG ]]; }

smoke_kafka() {
  local c="bulkhead-smoke-$RUN_ID-kafka" conf="$WORK/kafka/server.properties"
  mkdir -p "$WORK/kafka"
  cat >"$conf" <<PROPS
process.roles=broker,controller
node.id=1
listeners=PLAINTEXT://127.0.0.1:${PORT[kafka]},CONTROLLER://127.0.0.1:${PORT[kafka_ctl]}
advertised.listeners=PLAINTEXT://127.0.0.1:${PORT[kafka]}
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
inter.broker.listener.name=PLAINTEXT
controller.listener.names=CONTROLLER
controller.quorum.bootstrap.servers=127.0.0.1:${PORT[kafka_ctl]}
log.dirs=/var/lib/kafka/data
auto.create.topics.enable=false
offsets.topic.replication.factor=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
PROPS
  chmod 644 "$conf"
  # The chart's two commands, verbatim (absolute paths: apache/kafka has no /opt/kafka/bin on PATH).
  # shellcheck disable=SC2016  # $CLUSTER_ID expands in the container
  start kafka "${HARDENED[@]}" --user 1000:1000 --tmpfs /var/lib/kafka/data:uid=1000,gid=1000 \
    -v "$conf:/etc/kafka/server.properties:ro" -e CLUSTER_ID="$(uuid_base64)" \
    -e KAFKA_HEAP_OPTS="-Xms64m -Xmx256m" -e KAFKA_JVM_PERFORMANCE_OPTS="$LEAN_JVM" \
    "${IMAGE[kafka]}" bash -c '/opt/kafka/bin/kafka-storage.sh format --ignore-formatted -t "$CLUSTER_ID" -c /etc/kafka/server.properties --standalone && exec /opt/kafka/bin/kafka-server-start.sh /etc/kafka/server.properties'
  CHECK_CONTAINER=$c check "kafka: format --standalone, kafka-server-start.sh, 'Kafka Server started'" 90 \
    kafka_started "$c" || return 0
  CHECK_CONTAINER=$c check "kafka: kafka-topics.sh --create, then --list shows the topic" 30 \
    kafka_topic_roundtrip "$c" || true
}
kafka_started() { dk logs "$1" 2>&1 | grep -q 'Kafka Server started'; }
kafka_topic_roundtrip() {
  local topics=(dk exec "$1" /opt/kafka/bin/kafka-topics.sh --bootstrap-server "127.0.0.1:${PORT[kafka]}")
  "${topics[@]}" --create --if-not-exists --topic smoke-topic --partitions 2 >/dev/null &&
    "${topics[@]}" --list | grep -qx smoke-topic
}

# The observability backends, with the chart's args, uids and env (templates/observability/).
OBS_FILES="$REPO_ROOT/charts/bulkhead/files"

# start_backend NAME UID CONFIG DOCKER-RUN-ARGS... -- ARGS...: checks that the image's user is the
# chart's runAsUser (the public image's), then runs it hardened as UID:UID with the chart's config
# file (or folder) charts/bulkhead/files/CONFIG mounted at /etc/bulkhead/<its name>, as the chart
# mounts it.
start_backend() {
  local name=$1 uid=$2 config=$3 run=()
  shift 3
  while [[ $1 != -- ]]; do run+=("$1"); shift; done
  shift
  check "$name: image user $uid:$uid" 5 image_user_is "${IMAGE[$name]}" "$uid:$uid" || true
  start "$name" "${HARDENED[@]}" --user "$uid:$uid" \
    -v "$OBS_FILES/$config:/etc/bulkhead/${config##*/}:ro" "${run[@]}" "${IMAGE[$name]}" "$@"
}
image_user_is() { [[ $(dk image inspect -f '{{.Config.User}}' "$1") == "$2" ]]; }

smoke_jaeger() {
  local c="bulkhead-smoke-$RUN_ID-jaeger"
  start_backend jaeger 10001 observability/jaeger.yaml \
    -e "JAEGER_OTLP_GRPC_ENDPOINT=127.0.0.1:${PORT[jaeger_otlp_grpc]}" \
    -e "JAEGER_OTLP_HTTP_ENDPOINT=127.0.0.1:${PORT[jaeger_otlp_http]}" \
    -e "JAEGER_QUERY_HTTP_ENDPOINT=127.0.0.1:${PORT[jaeger_query]}" \
    -e "JAEGER_QUERY_GRPC_ENDPOINT=127.0.0.1:${PORT[jaeger_query_grpc]}" \
    -e JAEGER_MAX_TRACES=1000 -- --config /etc/bulkhead/jaeger.yaml
  CHECK_CONTAINER=$c check "jaeger: the chart's probe, GET /api/services on :${PORT[jaeger_query]}" 30 \
    http_ok "http://127.0.0.1:${PORT[jaeger_query]}/api/services" || true
}

smoke_otelcol() {
  local c="bulkhead-smoke-$RUN_ID-otelcol"
  # The chart's env, with a short decision wait and every trace kept (as locally).
  start_backend otelcol 10001 observability/otel-collector.yaml \
    -e "OTELCOL_OTLP_GRPC_ENDPOINT=127.0.0.1:${PORT[otelcol_grpc]}" \
    -e "OTELCOL_OTLP_HTTP_ENDPOINT=127.0.0.1:${PORT[otelcol_http]}" \
    -e "OTELCOL_JAEGER_ENDPOINT=127.0.0.1:${PORT[jaeger_otlp_grpc]}" \
    -e "OTELCOL_PROMETHEUS_OTLP_URL=http://127.0.0.1:${PORT[prometheus]}/api/v1/otlp" \
    -e OTELCOL_DECISION_WAIT=1s -e OTELCOL_SLOW_TRACE_MS=2000 -e OTELCOL_SAMPLING_PERCENTAGE=100 \
    -e OTELCOL_MEMORY_LIMIT_MIB=200 -e OTELCOL_MEMORY_SPIKE_LIMIT_MIB=40 \
    -- --config=/etc/bulkhead/otel-collector.yaml
  CHECK_CONTAINER=$c check "otelcol: the chart's probe, OTLP gRPC :${PORT[otelcol_grpc]} accepts" 30 \
    port_open_local "${PORT[otelcol_grpc]}" || true
}

smoke_prometheus() {
  local c="bulkhead-smoke-$RUN_ID-prometheus" conf="$WORK/prometheus/prometheus.yml"
  # The chart's config scrapes through Kubernetes pod discovery; here Prometheus scrapes itself,
  # with the chart's OTLP setting and its rule files, mounted where the chart mounts them.
  mkdir -p "$WORK/prometheus"
  cat >"$conf" <<CONF
global:
  scrape_interval: 5s
  evaluation_interval: 5s
rule_files:
  - /etc/bulkhead/rules/*.yml
otlp:
  promote_resource_attributes: []
scrape_configs:
  - job_name: prometheus
    static_configs:
      - targets: ['127.0.0.1:${PORT[prometheus]}']
CONF
  chmod 644 "$conf"
  start_backend prometheus 65534 prometheus/rules --tmpfs /prometheus:uid=65534,gid=65534 \
    -v "$conf:/etc/bulkhead/config/prometheus.yml:ro" -- --config.file=/etc/bulkhead/config/prometheus.yml \
    --storage.tsdb.path=/prometheus --storage.tsdb.retention.time=1h \
    --storage.tsdb.retention.size=100MB "--web.listen-address=127.0.0.1:${PORT[prometheus]}" \
    --web.enable-otlp-receiver
  CHECK_CONTAINER=$c check "prometheus: the chart's probes, /-/healthy and /-/ready on :${PORT[prometheus]}" 60 \
    prometheus_ready || return 0
  CHECK_CONTAINER=$c check "prometheus: the chart's rule files loaded (every group of files/prometheus/rules)" 20 \
    prometheus_rules_loaded || true
}
prometheus_ready() {
  http_ok "http://127.0.0.1:${PORT[prometheus]}/-/healthy" && http_ok "http://127.0.0.1:${PORT[prometheus]}/-/ready"
}
prometheus_rules_loaded() {
  local want got
  want=$(cat "$OBS_FILES"/prometheus/rules/*.yml | grep -cE '^ *- name:' || true)
  got=$(curl -s --max-time 2 "http://127.0.0.1:${PORT[prometheus]}/api/v1/rules" | grep -o '"file":' | wc -l)
  ((want > 0 && got == want)) || { echo "rule groups: $got loaded, $want in the files"; return 1; }
}

# The three together as in the chart: a span sent to the collector over OTLP/HTTP is kept (tail
# sampling, 100 %) and reaches Jaeger, and its span metrics reach Prometheus's OTLP receiver.
smoke_trace_pipeline() {
  local trace span now service="smoke-$RUN_ID"
  trace=$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')
  span=$(head -c 8 /dev/urandom | od -An -tx1 | tr -d ' \n')
  now=$(date +%s%N)
  local body
  body=$(printf '{"resourceSpans":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"%s"}}]},"scopeSpans":[{"spans":[{"traceId":"%s","spanId":"%s","name":"smoke","kind":2,"startTimeUnixNano":"%s","endTimeUnixNano":"%s"}]}]}]}' \
    "$service" "$trace" "$span" "$((now - 5000000))" "$now")
  CHECK_CONTAINER="bulkhead-smoke-$RUN_ID-otelcol" check "otelcol: accepts a span over OTLP/HTTP on :${PORT[otelcol_http]}" 20 \
    curl -sf --max-time 2 -H 'content-type: application/json' -d "$body" \
    "http://127.0.0.1:${PORT[otelcol_http]}/v1/traces" || return 0
  CHECK_CONTAINER="bulkhead-smoke-$RUN_ID-jaeger" check "jaeger: holds the span's trace (collector -> tail sampling -> Jaeger)" 60 \
    jaeger_has_trace "$trace" || true
  CHECK_CONTAINER="bulkhead-smoke-$RUN_ID-prometheus" check "prometheus: the span's span metrics (collector -> OTLP -> Prometheus)" 60 \
    prometheus_has_span_metrics "$service" || true
}
jaeger_has_trace() {
  curl -sf --max-time 2 "http://127.0.0.1:${PORT[jaeger_query]}/api/traces/$1" | grep -q "\"traceID\":\"$1\""
}
prometheus_has_span_metrics() {
  curl -sf --max-time 2 -G "http://127.0.0.1:${PORT[prometheus]}/api/v1/query" \
    --data-urlencode "query=traces_span_metrics_calls_total{service_name=\"$1\"}" | grep -q "\"service_name\":\"$1\""
}

# A random Kafka cluster id (16 bytes, base64url, not starting with '-').
uuid_base64() {
  local id=""
  while [[ -z $id || $id == -* ]]; do
    id=$(head -c 16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=')
  done
  printf '%s\n' "$id"
}

# --- service images -----------------------------------------------------------

SERVICES_RAN=0

# The image itself: non-root numeric user, no package manager or compiler on PATH.
check_image_static() {
  local name=$1
  check "$name: image user 1000:1000, no npm/npx/corepack/yarn/pnpm/compiler on PATH" 10 \
    image_static_ok "${IMAGE[$name]}" || true
}
image_static_ok() {
  [[ $(dk image inspect -f '{{.Config.User}}' "$1") == 1000:1000 ]] || { echo "user is not 1000:1000"; return 1; }
  # shellcheck disable=SC2016  # expanded by the container's sh
  dk run --rm --network none --entrypoint sh "$1" -c \
    'for t in npm npx corepack yarn yarnpkg pnpm gcc cc c++ make; do if command -v $t; then exit 1; fi; done'
}

svc_env_common() { printf '%s\n' -e "LOG_LEVEL=${SMOKE_LOG_LEVEL:-info}" -e "OTEL_SERVICE_NAME=smoke-$1"; }

start_service() {
  local name=$1
  shift
  local common=()
  mapfile -t common < <(svc_env_common "$name")
  start "$name" "${HARDENED[@]}" --user 1000:1000 "${common[@]}" "$@" "${IMAGE[$name]}"
}

start_cell_service() {
  local name=$1
  start_service "$name" -e "CELL_ID=$CELL" -e "DATABASE_NAME=${DB_PREFIX}_$name" \
    -e "BULKHEAD_PG_URL=postgres://postgres@$LOCAL_PG/postgres" \
    -e "BULKHEAD_KAFKA_BROKERS=$LOCAL_KAFKA" \
    -e "GRPC_PORT=${PORT[${name}_grpc]}" -e "OPS_PORT=${PORT[${name}_ops]}"
}

smoke_services() {
  local -a want=("$@") name
  SERVICES_RAN=1
  ensure_local_infra
  mkdir -p "$WORK/snapshot"
  chown 1000:1000 "$WORK/snapshot"
  for name in "${want[@]}"; do check_image_static "$name" || true; done
  local cells
  cells=$(printf '[{"id":"%s","endpoints":{"orders":"127.0.0.1:%s","inventory":"127.0.0.1:%s","payments":"127.0.0.1:%s"}}]' \
    "$CELL" "${PORT[orders_grpc]}" "${PORT[inventory_grpc]}" "${PORT[payments_grpc]}")
  local has_cp=0
  [[ " ${want[*]} " == *" control-plane "* ]] && has_cp=1
  if ((has_cp)); then
    start_service control-plane -e "BULKHEAD_PG_URL=postgres://postgres@$LOCAL_PG/postgres" \
      -e "CONTROL_PLANE_DATABASE=${DB_PREFIX}_control_plane" -e "BULKHEAD_CELLS=$cells" \
      -e "CONTROL_PLANE_HTTP_PORT=${PORT[cp_http]}" -e "CONTROL_PLANE_GRPC_PORT=${PORT[cp_grpc]}" \
      -e "CONTROL_PLANE_OPS_PORT=${PORT[cp_ops]}"
  fi
  for name in orders inventory payments; do
    if [[ " ${want[*]} " == *" $name "* ]]; then start_cell_service "$name"; fi
  done
  if ((has_cp)); then
    local c="bulkhead-smoke-$RUN_ID-control-plane"
    CHECK_CONTAINER=$c check "control-plane: GET /healthz on :${PORT[cp_http]}" 60 http_ok "http://127.0.0.1:${PORT[cp_http]}/healthz" || true
    CHECK_CONTAINER=$c check "control-plane: GET /readyz" 60 http_ok "http://127.0.0.1:${PORT[cp_http]}/readyz" || true
    CHECK_CONTAINER=$c check "control-plane: grpc.health.v1 SERVING on :${PORT[cp_grpc]}" 30 grpc_ok "127.0.0.1:${PORT[cp_grpc]}" || true
    CHECK_CONTAINER=$c check "control-plane: GET /metrics on the ops port :${PORT[cp_ops]}" 30 http_ok "http://127.0.0.1:${PORT[cp_ops]}/metrics" || true
  fi
  for name in orders inventory payments; do
    [[ " ${want[*]} " == *" $name "* ]] || continue
    local c="bulkhead-smoke-$RUN_ID-$name" ops=${PORT[${name}_ops]} grpc=${PORT[${name}_grpc]}
    CHECK_CONTAINER=$c check "$name: GET /healthz on :$ops" 60 http_ok "http://127.0.0.1:$ops/healthz" || true
    CHECK_CONTAINER=$c check "$name: GET /readyz (database migrated, topics, consumer)" 90 http_ok "http://127.0.0.1:$ops/readyz" || true
    CHECK_CONTAINER=$c check "$name: grpc.health.v1 SERVING on :$grpc" 30 grpc_ok "127.0.0.1:$grpc" || true
  done
  # The gateway's sidecar writes the snapshot into a directory the gateway mounts read-only.
  if [[ " ${want[*]} " == *" config-agent "* ]]; then
    if ((!has_cp)); then
      fail "config-agent: needs control-plane in the same run (it watches its WatchSnapshot)"
    else
      start_service config-agent -v "$WORK/snapshot:/snapshot" -e SNAPSHOT_PATH=/snapshot/routing.json \
        -e SNAPSHOT_SERVICES=orders,inventory -e "CONTROL_PLANE_ADDRESS=127.0.0.1:${PORT[cp_grpc]}" \
        -e "CONFIG_AGENT_OPS_PORT=${PORT[agent_ops]}"
      local c="bulkhead-smoke-$RUN_ID-config-agent"
      CHECK_CONTAINER=$c check "config-agent: GET /healthz on :${PORT[agent_ops]}" 60 http_ok "http://127.0.0.1:${PORT[agent_ops]}/healthz" || true
      CHECK_CONTAINER=$c check "config-agent: GET /readyz (snapshot written)" 60 http_ok "http://127.0.0.1:${PORT[agent_ops]}/readyz" || true
    fi
  fi
  if [[ " ${want[*]} " == *" gateway "* ]]; then
    if [[ ! -s $WORK/snapshot/routing.json ]]; then
      fail "gateway: needs config-agent's snapshot in the same run (none was written)"
    else
      start_service gateway -v "$WORK/snapshot:/snapshot:ro" -e SNAPSHOT_PATH=/snapshot/routing.json \
        -e "BULKHEAD_REDIS_URL=redis://$LOCAL_REDIS" -e "GATEWAY_PORT=${PORT[gateway]}" -e "OPS_PORT=${PORT[gateway_ops]}"
      local c="bulkhead-smoke-$RUN_ID-gateway"
      CHECK_CONTAINER=$c check "gateway: GET /healthz on :${PORT[gateway]}" 60 http_ok "http://127.0.0.1:${PORT[gateway]}/healthz" || true
      CHECK_CONTAINER=$c check "gateway: GET /readyz (snapshot loaded)" 60 http_ok "http://127.0.0.1:${PORT[gateway]}/readyz" || true
      CHECK_CONTAINER=$c check "gateway: GET /resilience on the ops port :${PORT[gateway_ops]}" 30 http_ok "http://127.0.0.1:${PORT[gateway_ops]}/resilience" || true
    fi
  fi
}

# --- main -----------------------------------------------------------------------

main() {
  local names=("$@") name svc=() infra=()
  ((${#names[@]} > 0)) || names=("${INFRA[@]}" "${SERVICES[@]}")
  for name in "${names[@]}"; do
    if [[ " ${SERVICES[*]} " == *" $name "* ]]; then svc+=("$name")
    elif [[ " ${INFRA[*]} " == *" $name "* ]]; then infra+=("$name")
    else die "unknown image '$name'"; fi
  done
  engine_up
  WORK=$(mktemp -d /tmp/bulkhead-smoke.XXXXXX)
  chmod 755 "$WORK"
  if ((${#svc[@]} > 0)); then
    [[ -x $NODE && -d $REPO_ROOT/packages/grpc/node_modules/grpc-health-check ]] || make -s -C "$REPO_ROOT" deps
  fi
  local key
  for key in "${!PORT[@]}"; do
    port_free "${PORT[$key]}" || die "port ${PORT[$key]} ($key) is in use: stop what listens there"
  done
  for name in "${infra[@]}" "${svc[@]}"; do
    if ! image_exists "${IMAGE[$name]}"; then
      fail "$name: image ${IMAGE[$name]} missing (infra/images/build.sh)"
    fi
  done
  local backends=0
  for name in "${infra[@]}"; do
    if image_exists "${IMAGE[$name]}"; then
      "smoke_$name"
      [[ " jaeger otelcol prometheus " != *" $name "* ]] || backends=$((backends + 1))
    fi
  done
  ((backends < 3)) || smoke_trace_pipeline
  local present=()
  for name in "${svc[@]}"; do
    if image_exists "${IMAGE[$name]}"; then present+=("$name"); fi
  done
  ((${#present[@]} == 0)) || smoke_services "${present[@]}"
}

# On every exit: remove what this run started, then the one summary line (last), then the
# engine (lib.sh's at_exit hooks). A run cut short (a `die`) counts as a failure.
finish() {
  local rc=$1
  trap - EXIT
  teardown
  if ((rc != 0 && FAILED == 0)); then fail "smoke.sh stopped early (exit $rc)"; fi
  printf '%d passed, %d failed\n' "$PASSED" "$FAILED"
  _run_at_exit
  ((FAILED == 0)) || exit 1
  exit 0
}
trap 'finish $?' EXIT
trap 'exit 130' INT TERM

main "$@"
