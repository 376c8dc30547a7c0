#!/usr/bin/env bash
# `make kind-test`: the end-to-end contract suite (tests/e2e) against the platform on kind, both
# cells, with the faults suite deleting one pod of every Deployment and StatefulSet in turn
# (tests/e2e/platform.ts); then 20 s pushed past capacity and a minute of load at half the
# capacity measured, and a report of the pods (memory requests, limits and peaks; restarts) that
# fails if any container was OOM-killed. Brings the platform up first (make kind-up) unless it is up.
# Ends with one line "N passed, N failed".
set -uo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$REPO_ROOT" || exit 1
export PATH="$TOOLS_BIN:$PATH"
export NODE_OPTIONS="${NODE_OPTIONS:-} --disable-warning=TimeoutNegativeWarning"
RESULTS="$KIND_DATA/test-results"
mkdir -p "$RESULTS"
passed=0
failed=0
trap 'echo; echo "$passed passed, $failed failed"' EXIT
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
