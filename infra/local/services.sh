#!/usr/bin/env bash
# Local Bulkhead services as background Node processes on 127.0.0.1: every deployable of the
# manifest (packages/manifest/src/deployables.ts), cell services once per cell.
#   services.sh start    start what is not running (in the manifest's order), wait until ready
#   services.sh stop     stop all (in reverse order)
#   services.sh status   registry table
# Needs the infra (infra.sh start) and a build (make build). BULKHEAD_CELL_COUNT (1-8, default 2);
# ports: BULKHEAD_<DEPLOYABLE>_<PORT>_PORT, e.g. BULKHEAD_GATEWAY_HTTP_PORT=18080 or
# BULKHEAD_ORDERS_GRPC_PORT=17111 (cell-1's; cell n adds 10 x (n-1)).
# With the OpenTelemetry Collector running (observability.sh start, part of make up) every
# service exports its spans to it (OTEL_EXPORTER_OTLP_ENDPOINT, unless already set); without it
# no telemetry runs at all (no SDK, no trace context: packages/telemetry). Prometheus's targets
# are rewritten from the same cell count when it runs.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

CELL_COUNT="${BULKHEAD_CELL_COUNT:-2}"
NODE="$TOOLS_DIR/bin/node"
PLAN="$REPO_ROOT/packages/manifest/dist/local-plan.js"
LOG_LEVEL="${LOG_LEVEL:-info}"

plan() { # plan ARGS...: the launch plan rendered from the manifest
  [[ -x $NODE ]] || die "Node is not installed: run 'make up' (or infra/local/toolchain.sh)"
  [[ -f $PLAN ]] || die "packages/manifest is not built: run 'make build'"
  "$NODE" "$PLAN" "$@"
}

# Where spans go: the collector when it runs (or what the caller set), else nowhere.
OTLP_ENV=()
if [[ -n ${OTEL_EXPORTER_OTLP_ENDPOINT:-} ]]; then
  OTLP_ENV=("OTEL_EXPORTER_OTLP_ENDPOINT=$OTEL_EXPORTER_OTLP_ENDPOINT")
elif is_running otelcol; then
  OTLP_ENV=("OTEL_EXPORTER_OTLP_ENDPOINT=$BULKHEAD_OTLP_ENDPOINT")
fi

# run_service NAME SERVICE_DIR PORTS [ENV=VALUE...]: starts services/SERVICE_DIR with telemetry
# preloaded; cwd is the service folder so `--import @bulkhead/telemetry/register` resolves there.
# The plan's ENV names the process for its spans (OTEL_SERVICE_NAME, OTEL_RESOURCE_ATTRIBUTES).
run_service() {
  local name=$1 dir=$2 ports=$3
  shift 3
  [[ -f $REPO_ROOT/services/$dir/dist/main.js ]] || die "services/$dir is not built: run 'make build'"
  (cd "$REPO_ROOT/services/$dir" &&
    start_bg "$name" "$ports" env LOG_LEVEL="$LOG_LEVEL" "${OTLP_ENV[@]}" "$@" \
      "$NODE" --enable-source-maps --import @bulkhead/telemetry/register dist/main.js)
}

cmd_start() {
  local lines line fields
  lines=$(plan start --cells "$CELL_COUNT" --data-dir "$DATA_DIR") || die "no launch plan"
  ensure_dirs
  if is_running prometheus; then bash "$BULKHEAD_LOCAL_DIR/observability.sh" targets; fi
  if ((${#OTLP_ENV[@]} == 0)); then
    log "no OpenTelemetry Collector running (observability.sh start): spans are not exported"
  fi
  log "starting $CELL_COUNT cells and the platform around them"
  while IFS= read -r line; do
    IFS=$'\t' read -r -a fields <<<"$line"
    case ${fields[0]} in
      start) run_service "${fields[1]}" "${fields[2]}" "${fields[3]}" "${fields[@]:4}" ;;
      wait)
        wait_http "${fields[2]}" "${fields[3]}" "${fields[1]}" ||
          die "${fields[1]} did not become ready (see $LOG_DIR/${fields[1]}.log)"
        log "${fields[1]} ready"
        ;;
      *) die "unknown plan step: ${fields[0]}" ;;
    esac
  done <<<"$lines"
  # What make up prints: the real cell count and the public URLs.
  echo
  echo "Bulkhead is up ($CELL_COUNT cells)."
  local var url
  while IFS='=' read -r var url; do printf '  %-28s %s\n' "$var" "$url"; done < <(plan urls)
  echo "  (OpenAPI at \$BULKHEAD_GATEWAY_URL/openapi.json; admin token: \$CONTROL_PLANE_ADMIN_TOKEN, locally ${CONTROL_PLANE_ADMIN_TOKEN:-dev-admin-token})"
  if is_running jaeger; then printf '  %-28s %s\n' "Jaeger query API" "$BULKHEAD_JAEGER_URL/api/services"; fi
  if is_running prometheus; then printf '  %-28s %s\n' "Prometheus API" "$BULKHEAD_PROMETHEUS_URL/api/v1/targets"; fi
  if is_running otelcol; then printf '  %-28s %s\n' "Collector OTLP (gRPC, HTTP)" "$BULKHEAD_OTLP_ENDPOINT, http://127.0.0.1:$BULKHEAD_OTLP_HTTP_PORT"; fi
  if is_running jaeger || is_running prometheus; then echo "  (no web UIs here: the API queries are in docs/observability.md, Backends)"; fi
  echo "  Processes and ports:    make status      Logs: ${LOG_DIR#"$REPO_ROOT"/}/"
}

cmd_stop() {
  local pattern f name
  # Every registered process of each deployable, whatever cell count it was started with.
  for pattern in $(plan stop); do
    for f in "$RUN_DIR"/$pattern.pid; do
      [[ -e $f ]] || continue
      name=${f##*/}
      stop_proc "${name%.pid}" 30
    done
  done
}

case "${1:-}" in
  start) cmd_start ;;
  stop) cmd_stop ;;
  status) status_all ;;
  *)
    echo "usage: $0 start|stop|status" >&2
    exit 2
    ;;
esac
