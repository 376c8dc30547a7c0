#!/usr/bin/env bash
# Local Bulkhead services: the control plane, N cells (orders, inventory, payments each), the
# config-agent sidecar and the gateway, as background Node processes on 127.0.0.1.
#   services.sh start    start what is not running (in dependency order), wait until ready
#   services.sh stop     stop all (gateway first, control plane last)
#   services.sh status   registry table
# Needs the infra (infra.sh start) and a build (make build). BULKHEAD_CELL_COUNT (default 2).
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

CELL_COUNT="${BULKHEAD_CELL_COUNT:-2}"
[[ $CELL_COUNT =~ ^[1-8]$ ]] || die "BULKHEAD_CELL_COUNT must be 1..8 (got $CELL_COUNT)"
NODE="$TOOLS_DIR/bin/node"
SNAPSHOT_PATH="$DATA_DIR/config/gateway/routing-snapshot.json"
LOG_LEVEL="${LOG_LEVEL:-info}"


# Ports: fixed public ones (gateway 8080, control plane 8081) and per-cell ranges:
# cell n serves orders/inventory/payments gRPC on 71n1/71n2/71n3 and their probes on 91n1/91n2/91n3.
GATEWAY_PORT=8080
CONTROL_PLANE_HTTP_PORT=8081
CONTROL_PLANE_GRPC_PORT=7081
CONFIG_AGENT_OPS_PORT=9085
service_port() { # service_port BASE CELL_INDEX SERVICE_INDEX
  echo $(($1 + $2 * 10 + $3))
}
cells_json() {
  local n sep="" out="["
  for ((n = 1; n <= CELL_COUNT; n++)); do
    out+="$sep{\"id\":\"cell-$n\",\"ordersAddress\":\"127.0.0.1:$(service_port 7100 "$n" 1)\""
    out+=",\"inventoryAddress\":\"127.0.0.1:$(service_port 7100 "$n" 2)\""
    out+=",\"paymentsAddress\":\"127.0.0.1:$(service_port 7100 "$n" 3)\"}"
    sep=","
  done
  echo "$out]"
}

# run_service NAME SERVICE_DIR PORTS [ENV=VALUE...]: starts services/SERVICE_DIR with telemetry
# preloaded; cwd is the service folder so `--import @bulkhead/telemetry/register` resolves there.
run_service() {
  local name=$1 dir=$2 ports=$3
  shift 3
  [[ -f $REPO_ROOT/services/$dir/dist/main.js ]] || die "services/$dir is not built: run 'make build'"
  (cd "$REPO_ROOT/services/$dir" &&
    start_bg "$name" "$ports" env OTEL_SERVICE_NAME="$name" LOG_LEVEL="$LOG_LEVEL" "$@" \
      "$NODE" --enable-source-maps --disable-warning=TimeoutNegativeWarning --import @bulkhead/telemetry/register dist/main.js)
}

ready_url() { # waits for an HTTP readiness URL of a registered process
  wait_http "$2" "${3:-60}" "$1" || die "$1 did not become ready (see $LOG_DIR/$1.log)"
}

cmd_start() {
  [[ -x $NODE ]] || die "Node is not installed: run 'make up' (or infra/local/toolchain.sh)"
  ensure_dirs
  log "starting the control plane"
  run_service control-plane control-plane "http:$CONTROL_PLANE_HTTP_PORT grpc:$CONTROL_PLANE_GRPC_PORT" \
    CONTROL_PLANE_HTTP_PORT="$CONTROL_PLANE_HTTP_PORT" CONTROL_PLANE_GRPC_PORT="$CONTROL_PLANE_GRPC_PORT" \
    BULKHEAD_CELLS="$(cells_json)"
  local n cell kind idx
  for ((n = 1; n <= CELL_COUNT; n++)); do
    cell="cell-$n"
    log "starting $cell (orders, inventory, payments)"
    idx=1
    for kind in orders inventory payments; do
      run_service "$kind-$cell" "$kind" \
        "grpc:$(service_port 7100 "$n" "$idx") ops:$(service_port 9100 "$n" "$idx")" \
        CELL_ID="$cell" GRPC_PORT="$(service_port 7100 "$n" "$idx")" OPS_PORT="$(service_port 9100 "$n" "$idx")"
      idx=$((idx + 1))
    done
  done
  ready_url control-plane "http://127.0.0.1:$CONTROL_PLANE_HTTP_PORT/readyz"
  log "control plane ready"
  log "starting the config-agent sidecar and the gateway"
  run_service config-agent config-agent "ops:$CONFIG_AGENT_OPS_PORT" \
    CONTROL_PLANE_ADDRESS="127.0.0.1:$CONTROL_PLANE_GRPC_PORT" SNAPSHOT_PATH="$SNAPSHOT_PATH" \
    CONFIG_AGENT_OPS_PORT="$CONFIG_AGENT_OPS_PORT"
  run_service gateway gateway "http:$GATEWAY_PORT" \
    GATEWAY_PORT="$GATEWAY_PORT" SNAPSHOT_PATH="$SNAPSHOT_PATH"
  for ((n = 1; n <= CELL_COUNT; n++)); do
    idx=1
    for kind in orders inventory payments; do
      ready_url "$kind-cell-$n" "http://127.0.0.1:$(service_port 9100 "$n" "$idx")/readyz" 90
      idx=$((idx + 1))
    done
    log "cell-$n ready"
  done
  ready_url config-agent "http://127.0.0.1:$CONFIG_AGENT_OPS_PORT/readyz"
  ready_url gateway "http://127.0.0.1:$GATEWAY_PORT/readyz"
  log "gateway ready"
}

cmd_stop() {
  local f name
  stop_proc gateway
  stop_proc config-agent
  # Every registered cell process, whatever cell count it was started with.
  for f in "$RUN_DIR"/*-cell-*.pid; do
    [[ -e $f ]] || continue
    name=${f##*/}
    stop_proc "${name%.pid}" 30
  done
  stop_proc control-plane
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
