#!/usr/bin/env bash
# make chaos SEED=n DURATION=d [PROFILE=full|short]: order load under a seeded, replayable fault
# schedule, then the consistency checker (packages/chaos, packages/consistency-checker;
# docs/consistency.md). Output under .data/chaos/<seed>-<time>/: schedule.json, faults.log,
# history.jsonl, report.json, summary.txt and logs/ (every incarnation of every service).
#   chaos.sh SEED DURATION PROFILE
# Needs a build and no services running (it starts its own, cell-1 routed through toxiproxy, and
# stops them); starts the infrastructure if it is not running and leaves it as it found it (a
# broker without the PROXIED listener is restarted once, with it). Exit status: the runner's
# (0 no violation, 1 violations, 2 bad arguments, 3 the run failed).
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$REPO_ROOT"
export PATH="$TOOLS_DIR/bin:$PATH"
SEED=${1:-1}
DURATION=${2:-5m}
PROFILE=${3:-full}
NODE="$TOOLS_DIR/bin/node"
PLAN="$REPO_ROOT/packages/manifest/dist/local-plan.js"
[[ -f $REPO_ROOT/packages/chaos/dist/main.js ]] || die "packages/chaos is not built: run 'make build'"

bash infra/kind/tools.sh toxiproxy

# The runner starts the services in its own mode: refuse to take over a running stack.
for pattern in $("$NODE" "$PLAN" stop); do
  for f in "$RUN_DIR"/$pattern.pid; do
    [[ -e $f ]] || continue
    name=${f##*/}
    name=${name%.pid}
    if is_running "$name"; then die "$name is running: stop the services first (make down, or infra/local/services.sh stop)"; fi
  done
done

infra_was_running=()
for component in postgres redis kafka; do
  if is_running "$component"; then infra_was_running+=("$component"); fi
done

cleanup() {
  local status=$? component
  log "chaos: stopping the services and toxiproxy"
  bash infra/local/services.sh stop >/dev/null 2>&1 || true
  stop_proc toxiproxy 10 >/dev/null 2>&1 || true
  for component in postgres redis kafka; do
    if [[ " ${infra_was_running[*]} " != *" $component "* ]]; then
      bash infra/local/infra.sh stop "$component" >/dev/null 2>&1 || true
    fi
  done
  exit "$status"
}
trap cleanup EXIT

bash infra/local/infra.sh start
if ! port_listening "$BULKHEAD_KAFKA_PROXIED_PORT"; then
  log "chaos: Kafka has no PROXIED listener on $BULKHEAD_KAFKA_PROXIED_PORT yet: restarting it with one"
  bash infra/local/infra.sh stop kafka
  bash infra/local/infra.sh start
fi

start_bg toxiproxy "api:$BULKHEAD_TOXIPROXY_PORT" toxiproxy-server -host 127.0.0.1 -port "$BULKHEAD_TOXIPROXY_PORT"
wait_port 127.0.0.1 "$BULKHEAD_TOXIPROXY_PORT" 20 toxiproxy || die "toxiproxy did not start (see $LOG_DIR/toxiproxy.log)"

urls=$("$NODE" "$PLAN" urls) && while IFS= read -r line; do export "${line?}"; done <<<"$urls"
set +e
"$NODE" --enable-source-maps packages/chaos/dist/main.js run --seed "$SEED" --duration "$DURATION" --profile "$PROFILE"
status=$?
set -e
log "chaos: the runner exited $status"
exit "$status"
