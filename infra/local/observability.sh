#!/usr/bin/env bash
# Local observability backends on 127.0.0.1, beside the infra (infra.sh) and under the same
# process registry ($BULKHEAD_DATA_DIR/run, `make status`), logs in $BULKHEAD_DATA_DIR/logs:
#   Jaeger v2 (jaeger)                 trace store + query API: OTLP in on BULKHEAD_JAEGER_OTLP_GRPC_PORT
#                                      (14317) / _HTTP_PORT (14318), API on BULKHEAD_JAEGER_QUERY_PORT (16686)
#                                      and BULKHEAD_JAEGER_QUERY_GRPC_PORT (16685)
#   OpenTelemetry Collector (otelcol)  where services send spans: OTLP on BULKHEAD_OTLP_GRPC_PORT (4317)
#                                      / BULKHEAD_OTLP_HTTP_PORT (4318); tail-samples to Jaeger, span
#                                      metrics to Prometheus
#   Prometheus (prometheus)            scrapes every process's ops port; BULKHEAD_PROMETHEUS_PORT (9090)
# Configs: charts/bulkhead/files/observability/{jaeger,otel-collector}.yaml (shared with the Helm
# chart, placeholders filled from the environment below) and infra/local/observability/prometheus.yml.
#   observability.sh start    install the pinned binaries if needed, start what is not running, wait
#   observability.sh stop     stop all three (the collector first, so it flushes to the others)
#   observability.sh status   registry table
#   observability.sh targets  rewrite Prometheus's targets from the manifest (services.sh start does)
#   observability.sh check    promtool check config, otelcol validate, jaeger validate: "N passed, N failed"
# Tuning: BULKHEAD_TRACE_SAMPLING_PERCENTAGE (100), BULKHEAD_SLOW_TRACE_MS (2000),
# BULKHEAD_TRACE_DECISION_WAIT (5s), BULKHEAD_PROMETHEUS_RETENTION (1d); BULKHEAD_CELL_COUNT (2)
# for the targets.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

CONFIGS="$REPO_ROOT/charts/bulkhead/files/observability"
OBS_DIR="$DATA_DIR/observability"
PROMETHEUS_TEMPLATE="$BULKHEAD_LOCAL_DIR/observability/prometheus.yml"
RULES_DIR="$REPO_ROOT/charts/bulkhead/files/prometheus/rules"
CELL_COUNT="${BULKHEAD_CELL_COUNT:-2}"
H=127.0.0.1

# The placeholders of the shared configs, filled for the local stack.
JAEGER_ENV=(
  "JAEGER_OTLP_GRPC_ENDPOINT=$H:$BULKHEAD_JAEGER_OTLP_GRPC_PORT"
  "JAEGER_OTLP_HTTP_ENDPOINT=$H:$BULKHEAD_JAEGER_OTLP_HTTP_PORT"
  "JAEGER_QUERY_HTTP_ENDPOINT=$H:$BULKHEAD_JAEGER_QUERY_PORT"
  "JAEGER_QUERY_GRPC_ENDPOINT=$H:$BULKHEAD_JAEGER_QUERY_GRPC_PORT"
  "JAEGER_MAX_TRACES=100000"
)
OTELCOL_ENV=(
  "OTELCOL_OTLP_GRPC_ENDPOINT=$H:$BULKHEAD_OTLP_GRPC_PORT"
  "OTELCOL_OTLP_HTTP_ENDPOINT=$H:$BULKHEAD_OTLP_HTTP_PORT"
  "OTELCOL_JAEGER_ENDPOINT=$H:$BULKHEAD_JAEGER_OTLP_GRPC_PORT"
  "OTELCOL_PROMETHEUS_OTLP_URL=$BULKHEAD_PROMETHEUS_URL/api/v1/otlp"
  "OTELCOL_MEMORY_LIMIT_MIB=256"
  "OTELCOL_MEMORY_SPIKE_LIMIT_MIB=64"
  # Locally every trace is kept (100%), so a short wait is enough: late spans of a kept trace
  # pass through the decision cache.
  "OTELCOL_DECISION_WAIT=${BULKHEAD_TRACE_DECISION_WAIT:-5s}"
  "OTELCOL_SLOW_TRACE_MS=${BULKHEAD_SLOW_TRACE_MS:-2000}"
  "OTELCOL_SAMPLING_PERCENTAGE=${BULKHEAD_TRACE_SAMPLING_PERCENTAGE:-100}"
)

need_tools() { bash "$REPO_ROOT/infra/kind/tools.sh" "$@" || die "could not install: $*"; }

# write_targets FILE: the manifest's processes as file_sd targets, replaced atomically (Prometheus
# watches the file and must never read half of it).
write_targets() {
  local file=$1
  mkdir -p "${file%/*}"
  [[ -f $REPO_ROOT/packages/manifest/dist/local-plan.js ]] || die "packages/manifest is not built: run 'make build'"
  "$TOOLS_DIR/bin/node" "$REPO_ROOT/packages/manifest/dist/local-plan.js" scrape-targets --cells "$CELL_COUNT" >"$file.tmp"
  mv -f "$file.tmp" "$file"
}

# write_prometheus_config DIR: DIR/prometheus.yml from the template, DIR/targets.json beside it.
write_prometheus_config() {
  local dir=$1 t
  mkdir -p "$dir"
  write_targets "$dir/targets.json"
  t=$(<"$PROMETHEUS_TEMPLATE")
  t=${t//@RULES_DIR@/$RULES_DIR}
  t=${t//@TARGETS_FILE@/$dir/targets.json}
  printf '%s\n' "$t" >"$dir/prometheus.yml"
}

free_or_die() {
  local name=$1 port
  shift
  for port in "$@"; do
    if port_listening "$port"; then die "$name: port $port is already in use by another process (see: ss -ltnp 'sport = :$port')"; fi
  done
}

start_jaeger() {
  is_running jaeger && { log "jaeger already running (pid $(pid_of jaeger))"; return 0; }
  free_or_die jaeger "$BULKHEAD_JAEGER_OTLP_GRPC_PORT" "$BULKHEAD_JAEGER_OTLP_HTTP_PORT" \
    "$BULKHEAD_JAEGER_QUERY_PORT" "$BULKHEAD_JAEGER_QUERY_GRPC_PORT"
  start_bg jaeger "otlp-grpc:$BULKHEAD_JAEGER_OTLP_GRPC_PORT otlp-http:$BULKHEAD_JAEGER_OTLP_HTTP_PORT query:$BULKHEAD_JAEGER_QUERY_PORT query-grpc:$BULKHEAD_JAEGER_QUERY_GRPC_PORT" \
    env "${JAEGER_ENV[@]}" "$TOOLS_DIR/bin/jaeger" --config "$CONFIGS/jaeger.yaml"
}

start_prometheus() {
  is_running prometheus && { log "prometheus already running (pid $(pid_of prometheus))"; return 0; }
  free_or_die prometheus "$BULKHEAD_PROMETHEUS_PORT"
  write_prometheus_config "$OBS_DIR"
  start_bg prometheus "http:$BULKHEAD_PROMETHEUS_PORT" "$TOOLS_DIR/bin/prometheus" \
    --config.file="$OBS_DIR/prometheus.yml" \
    --storage.tsdb.path="$DATA_DIR/prometheus" \
    --storage.tsdb.retention.time="${BULKHEAD_PROMETHEUS_RETENTION:-1d}" \
    --web.listen-address="$H:$BULKHEAD_PROMETHEUS_PORT" \
    --web.enable-otlp-receiver
}

start_otelcol() {
  is_running otelcol && { log "otelcol already running (pid $(pid_of otelcol))"; return 0; }
  free_or_die otelcol "$BULKHEAD_OTLP_GRPC_PORT" "$BULKHEAD_OTLP_HTTP_PORT"
  start_bg otelcol "otlp-grpc:$BULKHEAD_OTLP_GRPC_PORT otlp-http:$BULKHEAD_OTLP_HTTP_PORT" \
    env "${OTELCOL_ENV[@]}" "$TOOLS_DIR/bin/otelcol-bulkhead" --config "$CONFIGS/otel-collector.yaml"
}

cmd_start() {
  local t0 t1
  _now_ms t0
  need_tools jaeger prometheus otelcol
  ensure_dirs
  # The backends first, then the collector that exports to them; each boots while the next starts.
  start_jaeger
  start_prometheus
  start_otelcol
  wait_http "$BULKHEAD_JAEGER_URL/api/services" 30 jaeger || die "jaeger not ready (see $LOG_DIR/jaeger.log)"
  wait_http "$BULKHEAD_PROMETHEUS_URL/-/ready" 60 prometheus || die "prometheus not ready (see $LOG_DIR/prometheus.log)"
  wait_log "$LOG_DIR/otelcol.log" 'Everything is ready' 30 otelcol || die "otelcol not ready (see $LOG_DIR/otelcol.log)"
  wait_port "$H" "$BULKHEAD_OTLP_GRPC_PORT" 10 otelcol || die "otelcol is not listening on $BULKHEAD_OTLP_GRPC_PORT"
  _now_ms t1
  log "observability ready in $(((t1 - t0) / 1000)).$(printf '%03d' $(((t1 - t0) % 1000))) s: collector OTLP $BULKHEAD_OTLP_ENDPOINT, Jaeger API $BULKHEAD_JAEGER_URL, Prometheus $BULKHEAD_PROMETHEUS_URL"
}

cmd_stop() {
  stop_proc otelcol 20
  stop_proc prometheus 30
  stop_proc jaeger 20
}

# One check per config, each counted; the summary line is what make test's script_suite reads.
cmd_check() {
  local passed=0 failed=0 tmp
  need_tools promtool otelcol jaeger
  tmp=$(mktemp -d)
  # shellcheck disable=SC2064 # expand now
  trap "rm -rf '$tmp'" EXIT
  write_prometheus_config "$tmp"
  check() {
    local name=$1
    shift
    if "$@" >"$tmp/out" 2>&1; then
      passed=$((passed + 1))
      log "ok: $name"
    else
      failed=$((failed + 1))
      sed 's/^/    /' "$tmp/out" >&2
      log "FAILED: $name"
    fi
  }
  check "promtool check config (prometheus.yml, its rule files and targets)" \
    "$TOOLS_DIR/bin/promtool" check config "$tmp/prometheus.yml"
  check "otelcol-bulkhead validate (otel-collector.yaml, local values)" \
    env "${OTELCOL_ENV[@]}" "$TOOLS_DIR/bin/otelcol-bulkhead" validate --config "$CONFIGS/otel-collector.yaml"
  check "jaeger validate (jaeger.yaml, local values)" \
    env "${JAEGER_ENV[@]}" "$TOOLS_DIR/bin/jaeger" validate --config "$CONFIGS/jaeger.yaml"
  echo "$passed passed, $failed failed"
  ((failed == 0))
}

case "${1:-}" in
  start) cmd_start ;;
  stop) cmd_stop ;;
  status) status_all ;;
  targets) write_targets "$OBS_DIR/targets.json" ;;
  check) cmd_check ;;
  *)
    echo "usage: $0 start|stop|status|targets|check" >&2
    exit 2
    ;;
esac
