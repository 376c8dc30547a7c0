#!/usr/bin/env bash
# `make kind-test`: the end-to-end contract suite (tests/e2e) against the platform on kind, both
# cells, with the faults suite deleting one pod of every Deployment and StatefulSet in turn
# (tests/e2e/platform.ts); then 20 s pushed past capacity and a minute of load at half the
# capacity measured, and a report of the pods (memory requests, limits and peaks; restarts) that
# fails if any container was OOM-killed. Brings the platform up first (make kind-up) unless it is up.
# The suite reads Jaeger's query API and Prometheus through port-forwards this script keeps up
# (127.0.0.1:$BULKHEAD_KIND_JAEGER_PORT, default 28686, and :$BULKHEAD_KIND_PROMETHEUS_PORT, 28090;
# each re-made when its pod is replaced, e.g. by the faults suite) and stops on exit.
# Ends with one line "N passed, N failed".
set -uo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$REPO_ROOT" || exit 1
export PATH="$TOOLS_BIN:$PATH"
RESULTS="$KIND_DATA/test-results"
mkdir -p "$RESULTS"
passed=0
failed=0
FORWARDERS=()
trap 'stop_forwards; echo; echo "$passed passed, $failed failed"' EXIT
trap 'exit 130' INT TERM
# shellcheck source-path=SCRIPTDIR source=../local/suites.sh
. "$REPO_ROOT/infra/local/suites.sh"

if ! make --no-print-directory build >/dev/null; then count "build" 1; exit 1; fi
if ! bash "$KIND_DIR/up.sh"; then count "kind-up" 1; exit 1; fi

eval "$(bash "$REPO_ROOT/infra/docker/engine.sh" env)"
export DOCKER_HOST
export KUBECONFIG="$KUBECONFIG_FILE" BULKHEAD_E2E_PLATFORM=kind BULKHEAD_KUBECTL="$TOOLS_BIN/kubectl"
export BULKHEAD_KUBE_NAMESPACE="$NAMESPACE"
export BULKHEAD_GATEWAY_URL="http://127.0.0.1:$GATEWAY_PORT"
export BULKHEAD_CONTROL_PLANE_URL="http://127.0.0.1:$CONTROL_PLANE_PORT"
CONTROL_PLANE_ADMIN_TOKEN=$(admin_token) || { count "read the admin token" 1; exit 1; }
export CONTROL_PLANE_ADMIN_TOKEN

# Jaeger's query API and Prometheus for the suite (tests/e2e/traces.test.ts, backends.test.ts).
# A port-forward, not a NodePort: it needs no cluster re-create (kind maps host ports only when it
# creates the node) and no NetworkPolicy opening (the query and Prometheus ports accept only
# Grafana and the collector; a port-forward reaches the pod over its own loopback). kubectl's
# forward is to one pod and does not follow its replacement, so each runs under a supervisor
# that re-makes it for the new Ready pod when the old one is deleted or kubectl exits.
# The name of a Ready pod of COMPONENT that is not being deleted.
ready_pod() {
  # shellcheck disable=SC2016 # a Go template, not shell
  "$TOOLS_BIN/kubectl" --kubeconfig "$KUBECONFIG_FILE" -n "$NAMESPACE" get pods \
    -l "app.kubernetes.io/instance=$RELEASE,app.kubernetes.io/component=$1" -o go-template \
    --template '{{range .items}}{{$pod := .metadata.name}}{{if not .metadata.deletionTimestamp}}{{range .status.conditions}}{{if and (eq .type "Ready") (eq .status "True")}}{{$pod}}{{"\n"}}{{end}}{{end}}{{end}}{{end}}' \
    2>/dev/null | head -n 1
}
# supervise_forward COMPONENT LOCAL_PORT POD_PORT (in the background): until TERM.
supervise_forward() {
  local component=$1 local_port=$2 pod_port=$3 pod pf="" watch="" logf="$KIND_DATA/port-forward-$1.log"
  local k=("$TOOLS_BIN/kubectl" --kubeconfig "$KUBECONFIG_FILE" -n "$NAMESPACE")
  trap 'kill $pf $watch 2>/dev/null; exit 0' TERM
  : >"$logf"
  while :; do
    pod=$(ready_pod "$component")
    if [[ -z $pod ]]; then sleep 1; continue; fi
    "${k[@]}" port-forward --address 127.0.0.1 "pod/$pod" "$local_port:$pod_port" >>"$logf" 2>&1 &
    pf=$!
    "${k[@]}" wait --for=delete "pod/$pod" --timeout=24h >/dev/null 2>&1 &
    watch=$!
    wait -n "$pf" "$watch"
    kill "$pf" "$watch" 2>/dev/null
    wait "$pf" "$watch" 2>/dev/null
    pf="" watch=""
    printf '[%s] pod/%s gone or kubectl exited: forwarding again\n' "$(date -u +%T)" "$pod" >>"$logf"
    sleep 1
  done
}
start_forward() {
  if [[ -n $(ss -ltnH "sport = :$2" 2>/dev/null) ]]; then
    log "127.0.0.1:$2 is in use: stop what listens there (or set BULKHEAD_KIND_${1^^}_PORT)"
    return 1
  fi
  supervise_forward "$@" &
  FORWARDERS+=("$!")
}
stop_forwards() {
  local pid
  for pid in "${FORWARDERS[@]}"; do kill -TERM "$pid" 2>/dev/null; done
  for pid in "${FORWARDERS[@]}"; do wait "$pid" 2>/dev/null; done
  FORWARDERS=()
}
http_ok() { [[ $(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "$1") == 200 ]]; }
forwards_answer() {
  local deadline=$((SECONDS + 90))
  until http_ok "$BULKHEAD_JAEGER_URL/api/services" && http_ok "$BULKHEAD_PROMETHEUS_URL/-/ready"; do
    ((SECONDS < deadline)) || return 1
    sleep 0.5
  done
}
export BULKHEAD_JAEGER_URL="http://127.0.0.1:$JAEGER_PORT" BULKHEAD_PROMETHEUS_URL="http://127.0.0.1:$PROMETHEUS_PORT"
log "== port-forwards: Jaeger's query API on $BULKHEAD_JAEGER_URL, Prometheus on $BULKHEAD_PROMETHEUS_URL"
start_forward jaeger "$JAEGER_PORT" 16686 && start_forward prometheus "$PROMETHEUS_PORT" 9090 && forwards_answer
count "port-forwards to Jaeger (:$JAEGER_PORT) and Prometheus (:$PROMETHEUS_PORT) answer" $?

log "== end-to-end suite on kind (contract, static stability, pod deletions)"
vitest_suite e2e --project e2e

# The minute of load runs at half of what the platform completes here, measured in the same run
# just before (pushed for 20 s, 32 in flight): this shared 2-core box is too noisy for a fixed
# rate (47 orders/s end to end when pushed one day, 19–34/s on another), and a rate near capacity
# tests the machine, not the platform. Overload is the k6 suite's subject; what this checks is
# that the push ends every saga (the backlog bound sheds the excess) and that at half capacity
# (nearly) every order offered is accepted and every saga ends.
log "== pushed for 20 s: the platform's capacity here"
push=$(BULKHEAD_LOAD_SECONDS=20 node load-tests/rough-throughput.mjs 20000 32 20 2>&1)
status=$?
printf '%s\n' "$push" | sed 's/^/   /' >&2
[[ $status == 0 && $push == *'"stillPending":0'* ]]
count "pushed past capacity for 20 s: every saga ended" $?
capacity=$(sed -n 's/.*"endToEndPerSecond":\([0-9]*\).*/\1/p' <<<"$push")
rate=$(( ${capacity:-0} / 2 ))
(( rate >= 1 )) || rate=1

log "== one minute of load at $rate orders/s (half the capacity measured)"
load=$(BULKHEAD_LOAD_SECONDS=60 BULKHEAD_LOAD_RATE=$rate node load-tests/rough-throughput.mjs 20000 16 20 2>&1)
status=$?
printf '%s\n' "$load" | sed 's/^/   /' >&2
[[ $status == 0 && $load == *'"stillPending":0'* ]]
count "one minute at half capacity: 95% of the orders offered accepted, every saga ended" $?

log "== containers: OOM kills, restarts, memory"
node "$KIND_DIR/pod-report.mjs" "$NAMESPACE" "$RESULTS/pods.json"
count "no container was OOM-killed" $?
